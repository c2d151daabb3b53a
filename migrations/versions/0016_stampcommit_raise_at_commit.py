"""On PostgreSQL, a change raises its community's figures stamp when its transaction commits, not when it is made.

The triggers of 0011_perf, 0013_poststamp and 0015_lstpage raise the stamp
with an upsert into figures_stamp, whose row then stayed locked until the
transaction ended: every member answering the same community's form waited
for that lock through the rest of another member's request, the app's own
time between its statements included. (bench/member_pages.py: the form's
POST at 0.17 of /healthz's throughput, with most sessions waiting on
Lock:transactionid while the lock's holder waited on its client.)

Now a BEFORE INSERT trigger on figures_stamp turns each raise into a note in
figures_touched (this transaction and the community: a row no other
transaction writes, so nobody waits), and a deferred constraint trigger on
the notes raises the stamps when the transaction commits, all of its
communities in one statement in id order, and removes the notes. A stamp row
is then locked only while its transaction commits. A rollback takes the notes
with it. A note never outlives its transaction, so a session sees only its
own: service/figures_stamp.py reads them to know that figures it counted
hold changes of its own not yet committed.

SQLite keeps raising the stamp at once: it has one writer at a time, and its
figures_touched stays empty.

Revision ID: 0016_stampcommit
Revises: 0015_lstpage
"""
from alembic import op
import sqlalchemy as sa

revision = "0016_stampcommit"
down_revision = "0015_lstpage"
branch_labels = None
depends_on = None

# Set (for the rest of its transaction) by the raise at commit, whose own upsert must reach the stamp.
RAISING = "cop.raising_figures_stamps"


def upgrade():
    op.create_table(
        "figures_touched",
        sa.Column("xact", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("xact", "community_id"))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
CREATE OR REPLACE FUNCTION figures_stamp_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{RAISING}', true) = 'on' THEN
        RETURN NEW;
    END IF;
    INSERT INTO figures_touched (xact, community_id) VALUES (txid_current(), NEW.community_id)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER figures_stamp_at_commit BEFORE INSERT ON figures_stamp"
               " FOR EACH ROW EXECUTE FUNCTION figures_stamp_at_commit()")
    op.execute(f"""
CREATE OR REPLACE FUNCTION figures_raise_touched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('{RAISING}', 'on', true);
    WITH touched AS (DELETE FROM figures_touched WHERE xact = txid_current() RETURNING community_id)
    INSERT INTO figures_stamp (community_id, version) SELECT community_id, 1 FROM touched ORDER BY 1
        ON CONFLICT (community_id) DO UPDATE SET version = figures_stamp.version + 1;
    PERFORM set_config('{RAISING}', 'off', true);
    RETURN NULL;
END $$""")
    op.execute("CREATE CONSTRAINT TRIGGER figures_raise_touched AFTER INSERT ON figures_touched"
               " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION figures_raise_touched()")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER figures_stamp_at_commit ON figures_stamp")
        op.execute("DROP TRIGGER figures_raise_touched ON figures_touched")
        op.execute("DROP FUNCTION figures_stamp_at_commit()")
        op.execute("DROP FUNCTION figures_raise_touched()")
    op.drop_table("figures_touched")
