"""Members on the dashboard: adding, editing, deactivating and reactivating, each audited."""
import re

from sqlalchemy import func, select

from service.extensions import db
from service.models import AuditEvent, Member, Membership
from tests.conftest import csrf_from, post_form, run_worker


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
    alice_client.get("/")  # the dashboard count of active members drops at once
    assert re.search(r"Riverside COP</a>.*?</th>\s*<td>[^<]*</td>\s*<td class=\"number\">0</td>",
                     alice_client.get("/").get_data(as_text=True), re.S)

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


# --- a person in communities of different coordinators ---------------------------------------------
# Ben belongs to Bob's Lakeside as "Ben Lake" of "Lake Org". Alice, who runs Riverside, must not learn
# or change what Lakeside knows of him, and nothing she does may steer the mail Lakeside sends him.

def _ben_in_riverside(alice_client, personas) -> None:
    response = post_form(alice_client, f"/communities/{personas['riverside']}/members/new", {
        "name": "Benjamin L", "email": "BEN@example.org", "organization": "River Org", "language": "es",
        "role": "member"})
    assert response.status_code == 302


def _person(app, email: str) -> tuple:
    """(own name, address, language, digest frequency) of the person."""
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.email == email))
        return member.name, member.email, member.language, member.digest_frequency


def _languages(app, member_email: str) -> dict[int, str]:
    """The language each community's mail uses for the person, by community id."""
    with app.app_context():
        return dict(db.session.execute(select(Membership.community_id, Membership.language).join(Member)
                                       .where(Member.email == member_email)).all())


def _known_as(app, community_id: int, member_email: str) -> tuple:
    """(name, organization, role) the community knows the person by."""
    with app.app_context():
        membership = db.session.scalar(select(Membership).join(Member).where(
            Membership.community_id == community_id, Member.email == member_email))
        return membership.name, membership.organization.name if membership.organization else "", membership.role


def test_adding_an_address_known_elsewhere_shows_only_what_was_typed(app, alice_client, personas):
    riverside = personas["riverside"]
    known = post_form(alice_client, f"/communities/{riverside}/members/new", {
        "name": "Benjamin L", "email": "BEN@example.org", "organization": "River Org", "language": "es",
        "role": "member"})
    first = alice_client.get(known.headers["Location"]).get_data(as_text=True)
    new = post_form(alice_client, f"/communities/{riverside}/members/new", {
        "name": "Nina New", "email": "nina@example.org", "organization": "River Org", "language": "es",
        "role": "member"})
    second = alice_client.get(new.headers["Location"]).get_data(as_text=True)
    # The same answer as for an address nobody knows.
    assert known.status_code == new.status_code == 302 and known.headers["Location"] == new.headers["Location"]
    assert "Benjamin L was added." in first and "Nina New was added." in second
    assert "Benjamin L" in _row_of(second, "ben@example.org") and "River Org" in _row_of(second, "ben@example.org")
    # The language typed, for the known address as for the new one: not the one he chose himself.
    assert "<td>es</td>" in _row_of(second, "ben@example.org") and "<td>es</td>" in _row_of(second, "nina@example.org")
    membership = _membership_id(app, riverside, "ben@example.org")
    edit_page = alice_client.get(f"/communities/{riverside}/members/{membership}/edit").get_data(as_text=True)
    digest = alice_client.get(f"/communities/{riverside}/digest/preview?membership_id={membership}")
    assert "Language: es" in digest.get_data(as_text=True)
    for page in (first, second, edit_page):
        assert "Ben Lake" not in page and "Lake Org" not in page
    # Lakeside's record of him is untouched; he is still one person.
    assert _known_as(app, personas["lakeside"], "ben@example.org") == ("Ben Lake", "Lake Org", "member")
    assert _person(app, "ben@example.org") == ("Ben Lake", "ben@example.org", "en", "weekly")
    assert _languages(app, "ben@example.org") == {riverside: "es", personas["lakeside"]: "en"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)
                                 .where(Member.email == "ben@example.org")) == 1


def test_a_shared_persons_name_address_and_language_are_read_only_for_a_coordinator(app, alice_client, personas):
    riverside = personas["riverside"]
    _ben_in_riverside(alice_client, personas)
    url = f"/communities/{riverside}/members/{_membership_id(app, riverside, 'ben@example.org')}/edit"
    form = alice_client.get(url).get_data(as_text=True)
    assert 'id="person-details"' in form and "only they (from the preferences link in any email)" in form
    assert 'name="name"' not in form and 'name="email"' not in form and 'name="language"' not in form
    assert 'name="organization"' in form and 'name="role"' in form  # this community's own details
    response = post_form(alice_client, url, {
        "name": "Renamed by Alice", "email": "stolen@evil.example", "language": "es", "digest_frequency": "never",
        "organization": "Other River Org", "role": "leader", "next_module": "0"})
    assert response.status_code == 302
    assert _person(app, "ben@example.org") == ("Ben Lake", "ben@example.org", "en", "weekly")
    assert _known_as(app, riverside, "ben@example.org") == ("Benjamin L", "Other River Org", "leader")
    assert _known_as(app, personas["lakeside"], "ben@example.org") == ("Ben Lake", "Lake Org", "member")
    [event] = _audit(app, "member.update")
    assert (event.actor, event.community_id) == ("alice@example.org", riverside)
    assert set(event.details["changes"]) == {"organization_id", "role"}


def test_the_domain_refuses_a_coordinator_changing_a_shared_person(app, ctx, personas):
    import pytest

    from service import members
    from service.errors import DomainError
    from service.models import Community, Coordinator
    alice = db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))
    riverside = db.session.get(Community, personas["riverside"])
    membership = members.add_member(alice, riverside, name="Mallory", email="ben@example.org", organization="X")
    db.session.commit()
    assert not members.may_change_person(alice, membership.member)
    for change in ({"name": "Renamed by Alice"}, {"email": "stolen@evil.example"}, {"language": "es"},
                   {"digest_frequency": "never"}):
        with pytest.raises(DomainError) as error:
            members.update_member(alice, membership, organization="X", role="member", **change)
        assert "only they" in error.value.message
        db.session.rollback()
    # What she typed herself, given back unchanged, is no change.
    members.update_member(alice, membership, organization="Y", role="member", name="Mallory",
                          email="ben@example.org", language="en")
    db.session.commit()
    assert _person(app, "ben@example.org") == ("Ben Lake", "ben@example.org", "en", "weekly")
    assert _known_as(app, personas["lakeside"], "ben@example.org") == ("Ben Lake", "Lake Org", "member")
    assert _known_as(app, personas["riverside"], "ben@example.org") == ("Mallory", "Y", "member")


def test_after_alices_attempt_bobs_announcement_still_reaches_ben_as_bob_knows_him(app, alice_client, personas,
                                                                                   smtp):
    from service import announcements
    from service.models import Community
    riverside = personas["riverside"]
    _ben_in_riverside(alice_client, personas)
    url = f"/communities/{riverside}/members/{_membership_id(app, riverside, 'ben@example.org')}/edit"
    post_form(alice_client, url, {"name": "Renamed by Alice", "email": "stolen@evil.example",
                                  "organization": "River Org", "role": "member", "next_module": "0"})
    with app.app_context():
        for community_id, nonce in ((personas["lakeside"], "bob-1"), (riverside, "alice-1")):
            announcements.send_announcement(None, db.session.get(Community, community_id), "News", "Body", nonce)
        db.session.commit()
        run_worker(app)
    [from_bob] = [m for m in smtp.to("ben@example.org") if "Lakeside" in m.message["List-Id"]]
    [from_alice] = [m for m in smtp.to("ben@example.org") if "Riverside" in m.message["List-Id"]]
    assert smtp.to("stolen@evil.example") == []
    assert from_bob.message["To"] == "Ben Lake <ben@example.org>" and from_bob.rcpt_tos == ["ben@example.org"]
    assert "Ben Lake" in from_bob.message.get_body(("plain",)).get_content()
    # Each community's mail uses its own name and language for him.
    assert from_alice.message["To"] == "Benjamin L <ben@example.org>"
    assert "Ben Lake" not in from_alice.message.as_string()
    assert "Hola, Benjamin L:" in from_alice.message.get_body(("plain",)).get_content()
    assert 'lang="es"' in from_alice.message.get_body(("html",)).get_content()
    assert "Hello Ben Lake," in from_bob.message.get_body(("plain",)).get_content()
    assert 'lang="en"' in from_bob.message.get_body(("html",)).get_content()


def test_an_admin_changes_a_shared_persons_details_everywhere(app, client, personas):
    from tests.conftest import PASSWORD, login
    with app.app_context():
        from service import members
        from service.models import Community, Coordinator
        alice = db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))
        members.add_member(alice, db.session.get(Community, personas["riverside"]), name="Benjamin L",
                           email="ben@example.org")
        db.session.commit()
    assert login(client, "carol@example.org", PASSWORD).status_code == 302
    lakeside = personas["lakeside"]
    url = f"/communities/{lakeside}/members/{_membership_id(app, lakeside, 'ben@example.org')}/edit"
    form = client.get(url).get_data(as_text=True)
    assert 'name="email"' in form and 'id="person-details"' not in form
    response = post_form(client, url, {"name": "Benjamin Lake", "email": "benjamin@example.org",
                                       "language": "es", "digest_frequency": "monthly",
                                       "organization": "Lake Org", "role": "member"})
    assert response.status_code == 302
    assert _person(app, "benjamin@example.org") == ("Benjamin Lake", "benjamin@example.org", "es", "monthly")
    for community_id in (lakeside, personas["riverside"]):
        assert _known_as(app, community_id, "benjamin@example.org")[0] == "Benjamin Lake"
    assert _languages(app, "benjamin@example.org") == {lakeside: "es", personas["riverside"]: "es"}
    [event] = _audit(app, "member.update")
    assert (event.actor, event.community_id) == ("carol@example.org", lakeside)
    assert event.details["changes"]["email"] == ["ben@example.org", "benjamin@example.org"]


def test_the_person_changes_their_own_name_from_the_preferences_link(app, alice_client, personas):
    from service.tokens import make_token
    _ben_in_riverside(alice_client, personas)
    with app.app_context():
        url = f"/m/preferences/{make_token('preferences', _member_id(app, 'ben@example.org'))}"
    page = alice_client.get(url).get_data(as_text=True)
    assert 'value="Ben Lake"' in page and "Benjamin L" not in page  # his own name, not a community's
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "name": "Benjamín Lago",
                                            "digest_frequency": "weekly", "language": "es"})
    assert response.status_code == 200
    assert _person(app, "ben@example.org") == ("Benjamín Lago", "ben@example.org", "es", "weekly")
    for community_id in (personas["lakeside"], personas["riverside"]):
        assert _known_as(app, community_id, "ben@example.org")[0] == "Benjamín Lago"
    assert "Benjamín Lago" in _row_of(alice_client.get(f"/communities/{personas['riverside']}")
                                      .get_data(as_text=True), "ben@example.org")
    [event] = _audit(app, "member.preferences")
    assert (event.actor, event.details["by"]) == ("system", "the member")
    assert event.details["changes"]["name"] == ["Ben Lake", "Benjamín Lago"]


def test_the_persons_language_from_the_preferences_link_is_every_communitys(app, alice_client, personas):
    """Riverside mails Ben in Spanish as Alice typed; his own choice of English then holds everywhere."""
    from service.tokens import make_token
    _ben_in_riverside(alice_client, personas)
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    assert _languages(app, "ben@example.org") == {riverside: "es", lakeside: "en"}
    with app.app_context():
        url = f"/m/preferences/{make_token('preferences', _member_id(app, 'ben@example.org'))}"
    page = alice_client.get(url).get_data(as_text=True)
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "name": "Ben Lake",
                                            "digest_frequency": "weekly", "language": "en"})
    assert response.status_code == 200
    assert _languages(app, "ben@example.org") == {riverside: "en", lakeside: "en"}
    assert "<td>en</td>" in _row_of(alice_client.get(f"/communities/{riverside}").get_data(as_text=True),
                                    "ben@example.org")
    [event] = _audit(app, "member.preferences")
    assert "language" in event.details["changes"]


def test_a_coordinator_still_edits_a_person_only_their_communities_have(app, alice_client, personas):
    """Ana is in Riverside only: Alice may correct her name, address and language."""
    riverside = personas["riverside"]
    url = f"/communities/{riverside}/members/{_membership_id(app, riverside, 'ana@example.org')}/edit"
    assert 'id="person-details"' not in alice_client.get(url).get_data(as_text=True)
    response = post_form(alice_client, url, {"name": "Ana T. Torres", "email": "ana.t@example.org",
                                             "organization": "Casa Verde", "language": "en", "role": "member",
                                             "digest_frequency": "weekly"})
    assert response.status_code == 302
    assert _person(app, "ana.t@example.org") == ("Ana T. Torres", "ana.t@example.org", "en", "weekly")
    assert _known_as(app, riverside, "ana.t@example.org")[0] == "Ana T. Torres"


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
    assert membership.organization.name == "G" * 200
