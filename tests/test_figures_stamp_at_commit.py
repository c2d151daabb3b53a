"""On PostgreSQL a change raises its community's figures stamp when it commits (migration 0016_stampcommit), so
members writing to the same community at once never wait on each other, and a rolled-back change raises nothing.

The stamp says when kept figures and pages (service/figures_stamp.py) must
be counted again; before, its row stayed locked from a change until the
commit, and every other change to the community waited behind it.
"""
import pytest
from sqlalchemy import text

from service import figures_stamp, members
from service.extensions import db
from service.models import Community, Coordinator
from tests.services import require

# Waiting longer than this for another transaction's lock fails the statement (and the test) at once.
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '3s'"


@pytest.fixture
def two_members(app, ctx, personas):
    require(db.engine.dialect.name == "postgresql", "PostgreSQL (TEST_DATABASE_URL)")
    alice = db.session.get(Coordinator, personas["alice"])
    riverside = db.session.get(Community, personas["riverside"])
    members.add_member(alice, riverside, name="Rosa Diaz", email="rosa@example.org")
    db.session.commit()
    return dict(db.session.execute(text("SELECT m.email, m.id FROM member AS m JOIN membership AS s"
                                        " ON s.member_id = m.id WHERE s.community_id = :c"),
                                   {"c": riverside.id}).all())


def committed_stamp(community_id: int) -> int:
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT coalesce(max(version), 0) FROM figures_stamp"
                                       " WHERE community_id = :c"), {"c": community_id}).scalar()


def change_role(connection, member_id: int, role: str) -> None:
    connection.execute(text("UPDATE membership SET role = :r WHERE member_id = :m"), {"r": role, "m": member_id})


def test_two_members_changing_one_community_at_once_do_not_wait_for_each_other(two_members, personas):
    riverside = personas["riverside"]
    before = committed_stamp(riverside)
    with db.engine.connect() as first, db.engine.connect() as second:
        change_role(first, two_members["ana@example.org"], "facilitator")  # and not committed yet
        second.execute(text(LOCK_TIMEOUT))
        change_role(second, two_members["rosa@example.org"], "leader")  # waited for `first` before 0016
        second.commit()
        assert committed_stamp(riverside) == before + 1
        first.commit()
    assert committed_stamp(riverside) == before + 2
    assert db.session.execute(text("SELECT count(*) FROM figures_touched")).scalar() == 0  # no note outlives


def test_a_change_rolled_back_raises_nothing_and_its_session_keeps_nothing_meanwhile(two_members, personas):
    riverside = personas["riverside"]
    before = committed_stamp(riverside)
    change_role(db.session, two_members["ana@example.org"], "facilitator")
    assert figures_stamp.seen_version(riverside) == figures_stamp.CHANGED_HERE
    assert figures_stamp.committed_versions([riverside]) == {riverside: before}  # nothing keepable meanwhile
    db.session.rollback()
    assert figures_stamp.seen_version(riverside) == committed_stamp(riverside) == before


def test_a_transaction_raises_each_community_it_changed_once_at_commit(two_members, personas):
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    before = {community: committed_stamp(community) for community in (riverside, lakeside)}
    for role in ("facilitator", "leader", "member"):  # three statements in one community
        change_role(db.session, two_members["ana@example.org"], role)
    db.session.execute(text("UPDATE membership SET role = 'leader' WHERE community_id = :c"), {"c": lakeside})
    assert {community: committed_stamp(community) for community in before} == before
    db.session.commit()
    assert {community: committed_stamp(community) for community in before} == {
        community: version + 1 for community, version in before.items()}
