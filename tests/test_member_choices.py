"""A member's own pages name their communities and let them stop one community's mail and keep the others'."""
from sqlalchemy import select

from service import announcements, members
from service.extensions import db
from service.models import AuditEvent, Community, Coordinator, Member, Membership
from service.tokens import make_token
from tests.conftest import csrf_from, run_worker


def _ana_in_both() -> Member:
    """Ana belongs to Riverside (personas) and, here, to Lakeside too."""
    lakeside = db.session.scalar(select(Community).where(Community.name == "Lakeside COP"))
    bob = db.session.scalar(select(Coordinator).where(Coordinator.email == "bob@example.org"))
    members.add_member(bob, lakeside, name="Ana Torres", email="ana@example.org", organization="Casa Verde",
                       language="es")
    db.session.commit()
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def _status(member: Member) -> dict[str, str]:
    db.session.expire_all()
    return {m.community.name: m.status for m in db.session.scalars(
        select(Membership).where(Membership.member_id == member.id))}


def test_a_member_stops_one_communitys_mail_and_keeps_the_others(app, ctx, personas, client, smtp):
    ana = _ana_in_both()
    url = f"/m/preferences/{make_token('preferences', ana.id)}"
    page = client.get(url).get_data(as_text=True)
    assert "Lakeside COP" in page and "Riverside COP" in page
    lakeside_membership = next(m for m in db.session.scalars(select(Membership).where(
        Membership.member_id == ana.id)) if m.community.name == "Lakeside COP")
    response = client.post(url, data={"csrf_token": csrf_from(page), "name": "Ana Torres",
                                      "digest_frequency": "weekly", "language": "es",
                                      "leave": [str(lakeside_membership.id)]})
    assert response.status_code == 200
    after = response.get_data(as_text=True)
    assert "Riverside COP" in after and "Lakeside COP" not in after  # only the communities still writing
    assert _status(ana) == {"Riverside COP": "active", "Lakeside COP": "inactive"}
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "member.leave")) == "member.leave"

    # Each community writes: only Riverside's reaches her.
    for name in ("Riverside COP", "Lakeside COP"):
        community = db.session.scalar(select(Community).where(Community.name == name))
        announcements.send_announcement(None, community, f"News from {name}", "Body", f"nonce-{community.id}")
    db.session.commit()
    run_worker(app)
    assert [m.message["Subject"] for m in smtp.to("ana@example.org")] == ["News from Riverside COP"]


def test_saving_preferences_without_ticking_a_community_leaves_none(app, ctx, personas, client):
    ana = _ana_in_both()
    url = f"/m/preferences/{make_token('preferences', ana.id)}"
    page = client.get(url).get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf_from(page), "name": "Ana Torres", "digest_frequency": "monthly",
                           "language": "es"})
    assert _status(ana) == {"Riverside COP": "active", "Lakeside COP": "active"}


def test_the_unsubscribe_page_names_every_community_it_stops(app, ctx, personas, client):
    ana = _ana_in_both()
    page = client.get(f"/m/unsubscribe/{make_token('unsubscribe', ana.id)}").get_data(as_text=True)
    assert "Lakeside COP, Riverside COP" in page
