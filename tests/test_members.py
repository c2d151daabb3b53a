"""Members on the dashboard: adding, editing, deactivating and reactivating, each audited."""
import re

from sqlalchemy import func, select

from service.extensions import db
from service.models import AuditEvent, Member, Membership
from tests.conftest import post_form


def _membership_id(app, community_id: int, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Membership.id).join(Member).where(
            Membership.community_id == community_id, Member.email == email))


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        return events


def _member_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Member))


def _row_of(html: str, email: str) -> str:
    """The members table row that shows this address."""
    for row in re.findall(r"<tr class=\"\w+\">(.*?)</tr>", html, re.S):
        if f"<td>{email}</td>" in row:
            return row
    raise AssertionError(f"{email} is not listed")


def test_add_member_shows_them_on_the_community_page_and_audits(app, alice_client, personas):
    riverside = personas["riverside"]
    response = post_form(alice_client, f"/communities/{riverside}/members/new", {
        "name": "  Sam   Lee ", "email": "Sam.Lee@Example.org", "organization": "Riverside Food Bank",
        "language": "es", "role": "facilitator"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/communities/{riverside}"
    page = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sam Lee was added." in page
    row = _row_of(page, "sam.lee@example.org")
    assert "Sam Lee" in row and "Riverside Food Bank" in row and "Facilitator" in row and "<td>es</td>" in row
    events = _audit(app, "member.add")
    sam = [e for e in events if e.details.get("email") == "sam.lee@example.org"]
    assert len(sam) == 1 and sam[0].actor == "alice@example.org" and sam[0].community_id == riverside


def test_add_member_with_invalid_email_shows_field_error_and_saves_nothing(app, alice_client, personas):
    riverside = personas["riverside"]
    before = _member_count(app)
    response = post_form(alice_client, f"/communities/{riverside}/members/new", {
        "name": "Sam Lee", "email": "sam@@example", "language": "en", "role": "member"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'<p class="field-error" id="email-error">[^<]*not a valid email address', html)
    assert 'value="Sam Lee"' in html  # what was typed is kept
    assert _member_count(app) == before
    assert len(_audit(app, "member.add")) == 2  # ana's and ben's, from the personas


def test_add_member_without_a_name_is_refused(app, alice_client, personas):
    before = _member_count(app)
    response = post_form(alice_client, f"/communities/{personas['riverside']}/members/new", {
        "name": "   ", "email": "sam@example.org", "language": "en", "role": "member"})
    assert response.status_code == 400
    assert 'id="name-error"' in response.get_data(as_text=True)
    assert _member_count(app) == before


def test_adding_the_same_address_twice_gives_a_clear_error(app, alice_client, personas):
    riverside = personas["riverside"]
    response = post_form(alice_client, f"/communities/{riverside}/members/new", {
        "name": "Ana T", "email": "ANA@example.org", "language": "en", "role": "member"})
    assert response.status_code == 400
    assert "ana@example.org is already a member of this community." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.community_id == riverside)) == 1
        assert db.session.scalar(select(Member.name).where(Member.email == "ana@example.org")) == "Ana Torres"


def test_edit_member_changes_role_language_organization_and_audits(app, alice_client, personas):
    riverside = personas["riverside"]
    ana = _membership_id(app, riverside, "ana@example.org")
    url = f"/communities/{riverside}/members/{ana}/edit"
    form = alice_client.get(url).get_data(as_text=True)
    assert 'value="Ana Torres"' in form and 'value="Casa Verde"' in form  # pre-filled
    response = post_form(alice_client, url, {
        "name": "Ana Torres", "email": "ana@example.org", "organization": "Lakeview Clinic",
        "language": "en", "role": "leader", "digest_frequency": "monthly"})
    assert response.status_code == 302
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "Changes saved." in page
    row = _row_of(page, "ana@example.org")
    assert "Lakeview Clinic" in row and "Leader" in row and "<td>en</td>" in row
    assert "Casa Verde" not in page  # no active member is in it any more
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        assert member.digest_frequency == "monthly"
    [event] = _audit(app, "member.update")
    assert event.actor == "alice@example.org"
    assert event.details["changes"]["role"] == ["member", "leader"]
    assert event.details["changes"]["language"] == ["es", "en"]


def test_edit_member_to_an_address_already_in_use_is_refused(app, alice_client, personas):
    riverside = personas["riverside"]
    ana = _membership_id(app, riverside, "ana@example.org")
    url = f"/communities/{riverside}/members/{ana}/edit"
    response = post_form(alice_client, url, {
        "name": "Ana Torres", "email": "Ben@Example.org", "organization": "Casa Verde",
        "language": "es", "role": "member", "digest_frequency": "weekly"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'id="email-error">Another member already uses ben@example.org', html)
    with app.app_context():
        assert db.session.scalar(select(Member.email).join(Membership).where(Membership.id == ana)) \
            == "ana@example.org"
    assert _audit(app, "member.update") == []


def test_edit_without_changes_writes_no_audit_event(app, alice_client, personas):
    riverside = personas["riverside"]
    ana = _membership_id(app, riverside, "ana@example.org")
    url = f"/communities/{riverside}/members/{ana}/edit"
    response = post_form(alice_client, url, {
        "name": "Ana Torres", "email": "ana@example.org", "organization": "Casa Verde",
        "language": "es", "role": "member", "digest_frequency": "weekly"})
    assert response.status_code == 302
    assert _audit(app, "member.update") == []


def test_deactivate_and_reactivate_a_member(app, alice_client, personas):
    riverside = personas["riverside"]
    ana = _membership_id(app, riverside, "ana@example.org")
    community_url = f"/communities/{riverside}"

    response = post_form(alice_client, community_url, {},
                         post_url=f"/communities/{riverside}/members/{ana}/deactivate")
    assert response.status_code == 302
    page = alice_client.get(community_url).get_data(as_text=True)
    assert "Ana Torres was deactivated." in page
    row = _row_of(page, "ana@example.org")
    assert "<td>inactive</td>" in row and "Reactivate" in row and "Deactivate" not in row
    assert "Casa Verde <span" not in page  # inactive members no longer count for their organization
    with app.app_context():
        assert db.session.get(Membership, ana).status == "inactive"
        assert db.session.scalar(select(Member.status).where(Member.email == "ana@example.org")) == "active"
    alice_client.get("/")  # the dashboard count of active members drops
    assert re.search(r"Riverside COP</a></td>\s*<td>[^<]*</td>\s*<td>0</td>",
                     alice_client.get("/").get_data(as_text=True))

    response = post_form(alice_client, community_url, {},
                         post_url=f"/communities/{riverside}/members/{ana}/reactivate")
    assert response.status_code == 302
    page = alice_client.get(community_url).get_data(as_text=True)
    assert "Ana Torres is active again." in page
    row = _row_of(page, "ana@example.org")
    assert "<td>active</td>" in row and "Deactivate" in row
    assert "Casa Verde <span" in page

    assert [e.object_id for e in _audit(app, "member.deactivate")] == [_member_id(app, "ana@example.org")]
    assert len(_audit(app, "member.reactivate")) == 1


def test_deactivating_twice_is_harmless(app, alice_client, personas):
    riverside = personas["riverside"]
    ana = _membership_id(app, riverside, "ana@example.org")
    for _ in range(2):
        response = post_form(alice_client, f"/communities/{riverside}", {},
                             post_url=f"/communities/{riverside}/members/{ana}/deactivate")
        assert response.status_code == 302
    assert len(_audit(app, "member.deactivate")) == 1


def test_deactivate_by_get_changes_nothing(app, alice_client, personas):
    """A link scanner following the URL must not deactivate anyone."""
    riverside = personas["riverside"]
    ana = _membership_id(app, riverside, "ana@example.org")
    assert alice_client.get(f"/communities/{riverside}/members/{ana}/deactivate").status_code == 405
    with app.app_context():
        assert db.session.get(Membership, ana).status == "active"


def _member_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Member.id).where(Member.email == email))


def test_adding_someone_from_another_community_keeps_their_one_record(app, alice_client, personas):
    """Ben already belongs to Lakeside: he joins Riverside as the same person, named as on his record."""
    riverside = personas["riverside"]
    response = post_form(alice_client, f"/communities/{riverside}/members/new", {
        "name": "Benjamin L", "email": "ben@example.org", "language": "en", "role": "member"})
    assert response.status_code == 302
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "Ben Lake was added." in page
    assert "Ben Lake" in _row_of(page, "ben@example.org")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)
                                 .where(Member.email == "ben@example.org")) == 1


def test_add_member_refuses_names_longer_than_the_database_holds(app, ctx, personas):
    """Other callers (intake forms, imports) have no form to cap the length: the domain refuses it."""
    import pytest

    from service import members
    from service.errors import DomainError
    from service.models import Community
    community = db.session.get(Community, personas["riverside"])
    with pytest.raises(DomainError) as error:
        members.add_member(None, community, name="N" * 201, email="long@example.org")
    assert error.value.field == "name" and "200" in error.value.message
    with pytest.raises(DomainError) as error:
        members.add_member(None, community, name="Org Long", email="long@example.org", organization="O" * 201)
    assert error.value.field == "organization"
    membership = members.add_member(None, community, name="F" * 200, email="fits@example.org",
                                    organization="G" * 200)
    db.session.commit()
    assert membership.member.organization.name == "G" * 200
