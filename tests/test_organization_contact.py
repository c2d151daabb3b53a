"""A coordinator chooses an organization's contact on the member's page; that person gets the organization's
edition of the next digest. Before, nothing in the product set `Organization.contact_member_id`: the edition
could not reach anyone."""
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from service import digest_schedule, digests
from service.extensions import db
from service.models import Community, Member, Membership, Organization
from tests.conftest import csrf_from, run_worker
from tests.test_digests import _setup


def _membership(email: str) -> Membership:
    return db.session.scalar(select(Membership).join(Member).where(Member.email == email))


def _edit(client, community_id: int, membership: Membership, **changes):
    path = f"/communities/{community_id}/members/{membership.id}/edit"
    page = client.get(path).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "name": membership.name, "email": membership.member.email,
            "organization": membership.organization.name if membership.organization else "",
            "language": membership.language, "role": membership.role, "digest_frequency": "weekly",
            "next_module": "0", **changes}
    return client.post(path, data={k: v for k, v in data.items() if v is not False})


def test_the_contact_ticked_on_the_member_page_gets_the_organization_edition(app, ctx, personas, smtp,
                                                                              alice_client):
    community = _setup()
    ana = _membership("ana@example.org")
    page = alice_client.get(f"/communities/{community.id}/members/{ana.id}/edit").get_data(as_text=True)
    assert "Their organization's contact" in page

    response = _edit(alice_client, community.id, ana, organization_contact="y")
    assert response.status_code == 302
    db.session.expire_all()
    casa = db.session.scalar(select(Organization).where(Organization.name == "Casa Verde"))
    assert casa.contact_member_id == _membership("ana@example.org").member_id
    box = re.search(r'<input[^>]*name="organization_contact"[^>]*>', alice_client.get(
        f"/communities/{community.id}/members/{ana.id}/edit").get_data(as_text=True)).group(0)
    assert " checked" in box, box

    slot = digest_schedule.next_slot(db.session.get(Community, community.id),
                                     datetime.now(timezone.utc) - timedelta(days=8))
    digests.tick(slot + timedelta(minutes=1))
    run_worker(app)
    subjects = [str(m.message["Subject"]) for m in smtp.to("ana@example.org")]
    assert any("Casa Verde" in s for s in subjects), subjects

    # Unticked, the organization has no contact any more.
    assert _edit(alice_client, community.id, _membership("ana@example.org"), organization_contact=False) \
        .status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, casa.id).contact_member_id is None


def test_a_member_without_an_organization_cannot_be_its_contact(app, ctx, personas, alice_client):
    community = _setup()
    ana = _membership("ana@example.org")
    response = _edit(alice_client, community.id, ana, organization="", organization_contact="y")
    assert response.status_code == 400
    assert "Give the member an organization" in response.get_data(as_text=True)
    db.session.expire_all()
    assert set(db.session.scalars(select(Organization.contact_member_id))) == {None}
