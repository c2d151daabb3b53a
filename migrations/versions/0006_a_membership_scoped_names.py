"""membership: the name, organization and language a community knows a person by

A member's organization moves from the shared member row to each of their
memberships, and each membership gets the name its community knows them by
and the language its mail uses for them, all copied from the member row, so
every community sees what it saw before.
Downgrading puts back on the member the organization of their oldest
membership.

Addresses accepted before input was checked at the door may have an
internationalised domain, which every email to them then failed on: they are
rewritten in the ASCII form (IDNA) that input is stored in now. An address
that is not valid, or whose ASCII form another account already has, is left
as it was.

Revision ID: 0006_a
Revises: 0006_b
"""
from alembic import op
import sqlalchemy as sa

from service import normalize
from service.errors import DomainError


revision = "0006_a"
down_revision = "0006_b"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_membership_organization_id_organization"), "organization",
                                    ["organization_id"], ["id"], ondelete="SET NULL")
        batch_op.create_index(batch_op.f("ix_membership_organization_id"), ["organization_id"], unique=False)
    op.execute("UPDATE membership SET name = (SELECT member.name FROM member WHERE member.id = membership.member_id), "
               "language = (SELECT member.language FROM member WHERE member.id = membership.member_id), "
               "organization_id = (SELECT member.organization_id FROM member WHERE member.id = membership.member_id)")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column("language", existing_type=sa.String(length=5), nullable=False)
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_organization_id"))
        batch_op.drop_constraint(batch_op.f("fk_member_organization_id_organization"), type_="foreignkey")
        batch_op.drop_column("organization_id")
    for table in ("member", "coordinator"):
        _addresses_in_ascii(table)


def _addresses_in_ascii(table: str) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(f"SELECT id, email FROM {table}")).all()
    taken = {email for _id, email in rows}
    for row_id, email in rows:
        if email.isascii():
            continue
        try:
            address = normalize.email_address(email)
        except DomainError:
            continue
        if address not in taken:
            connection.execute(sa.text(f"UPDATE {table} SET email = :address WHERE id = :id"),
                               {"address": address, "id": row_id})
            taken.add(address)


def downgrade():
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_member_organization_id_organization"), "organization",
                                    ["organization_id"], ["id"], ondelete="SET NULL")
        batch_op.create_index(batch_op.f("ix_member_organization_id"), ["organization_id"], unique=False)
    op.execute("UPDATE member SET organization_id = (SELECT membership.organization_id FROM membership "
               "WHERE membership.member_id = member.id ORDER BY membership.id LIMIT 1)")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_organization_id"))
        batch_op.drop_constraint(batch_op.f("fk_membership_organization_id_organization"), type_="foreignkey")
        batch_op.drop_column("organization_id")
        batch_op.drop_column("language")
        batch_op.drop_column("name")
