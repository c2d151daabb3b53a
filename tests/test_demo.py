"""The demo seeded by `make run` on first start: what a newcomer sees after logging in."""
from sqlalchemy import func, select

from service.demo import DEMO_LOGIN, seed_demo
from service.extensions import db
from service.models import Community, Meeting, Member, Organization, OutboundEmail
from tests.conftest import login


def test_demo_has_three_organizations_thirty_members_in_two_languages_and_a_meeting(app, ctx):
    assert seed_demo() is True
    assert seed_demo() is False                      # a second start changes nothing
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 3
    assert db.session.scalar(select(func.count()).select_from(Member)) == 30
    assert set(db.session.scalars(select(Member.language).distinct())) == {"en", "es"}
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 31   # invitations, facilitator's
    assert db.session.scalar(select(Meeting.facilitator_id)) is not None             # from the rotation


def test_the_printed_demo_login_works(app):
    with app.app_context():
        seed_demo()
        community_id = db.session.scalar(select(Community.id))
    client = app.test_client()
    assert login(client, *DEMO_LOGIN).status_code == 302
    page = client.get(f"/communities/{community_id}").get_data(as_text=True)
    assert "Family Services Community of Practice" in page and "Casa de la Esperanza" in page
