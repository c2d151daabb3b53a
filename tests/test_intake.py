"""The public interest form and the coordinator's intake queue: what a visitor, a bot and a coordinator see."""
import re

import pytest
from sqlalchemy import func, select

from service import intake
from service.extensions import db
from service.models import AuditEvent, Community, IntakeEntry, Member, Membership
from tests.conftest import PASSWORD, csrf_from, login, run_worker

XSS = "<script>alert(1)</script>"
GOOD = {"name": "Rosa Díaz", "email": "Rosa@Example.org", "organization": "Casa Verde",
        "role": "Program manager", "hopes": "How others recruit volunteers", "topics": "Volunteers\nFunding",
        "availability": "Thursday evenings", "language": "es"}


@pytest.fixture(autouse=True)
def no_minimum_fill_time(app, monkeypatch):
    """People take seconds to fill in the form; the test client takes none. One test turns it back on."""
    monkeypatch.setitem(app.config, "INTAKE_MIN_FILL_SECONDS", 0)


def _link(app, community_id: int) -> str:
    with app.test_request_context():
        return f"/join/{intake.link_token(db.session.get(Community, community_id))}"


def _entries(app, community_id: int | None = None) -> list[IntakeEntry]:
    with app.app_context():
        query = select(IntakeEntry).order_by(IntakeEntry.id)
        if community_id is not None:
            query = query.where(IntakeEntry.community_id == community_id)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows


RENDERED_RE = re.compile(r'name="rendered" type="hidden" value="([^"]+)"|name="rendered" value="([^"]+)"')


def hidden_fields(html: str) -> dict:
    """What the browser sends back unseen: the CSRF token and the signed "form shown at" stamp."""
    match = RENDERED_RE.search(html)
    assert match, "the form has no rendered stamp"
    return {"csrf_token": csrf_from(html), "rendered": match.group(1) or match.group(2)}


def _send(client, url: str, data: dict, **headers):
    page = client.get(url, headers=headers)
    assert page.status_code == 200
    return client.post(url, data={**hidden_fields(page.get_data(as_text=True)), **data}, headers=headers)


@pytest.fixture
def link(app, personas):
    return _link(app, personas["riverside"])


# --- the public form ------------------------------------------------------------------------------

def test_a_visitor_sends_the_form_and_it_waits_as_a_pending_entry(app, client, personas, link):
    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Join Riverside COP" in html and 'for="organization"' in html and 'for="email"' in html
    assert 'class="hp" aria-hidden="true"' in html and 'tabindex="-1"' in html and 'autocomplete="off"' in html
    assert "style=" not in html  # the CSP forbids inline styles: the honeypot is hidden by a class

    response = client.post(link, data={**hidden_fields(html), **GOOD})
    assert response.status_code == 200
    assert "Thank you for your interest" in response.get_data(as_text=True)
    [entry] = _entries(app, personas["riverside"])
    assert (entry.status, entry.email, entry.name, entry.organization, entry.language) == \
        ("pending", "rosa@example.org", "Rosa Díaz", "Casa Verde", "es")
    assert entry.topics == "Volunteers\nFunding" and entry.availability == "Thursday evenings"
    assert entry.role == "Program manager" and entry.hopes == "How others recruit volunteers"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)
                                 .where(Member.email == "rosa@example.org")) == 0  # not a member until accepted


def test_the_form_speaks_spanish_by_link_or_by_browser_with_a_switch_back(app, client, personas, link):
    spanish = client.get(link + "?lang=es").get_data(as_text=True)
    assert '<html lang="es">' in spanish and "Unirse a Riverside COP" in spanish
    assert f'href="{link}?lang=en"' in spanish and ">English</a>" in spanish  # the visible switch
    assert re.search(r'<input checked[^>]* value="es">', spanish)  # emails in Spanish too, unless they change it

    by_browser = client.get(link, headers={"Accept-Language": "es-MX,es;q=0.9"}).get_data(as_text=True)
    assert '<html lang="es">' in by_browser and ">English</a>" in by_browser
    english = client.get(link + "?lang=en", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="en">' in english and f'href="{link}?lang=es"' in english and ">Español</a>" in english

    response = _send(client, link + "?lang=es", {**GOOD, "email": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and '<html lang="es">' in html  # errors in Spanish as well
    thanks = _send(client, link + "?lang=es", GOOD).get_data(as_text=True)
    assert '<html lang="es">' in thanks and "Gracias" in thanks


def test_each_field_says_what_is_wrong_and_nothing_is_stored(app, client, personas, link):
    response = _send(client, link, {**GOOD, "email": "not-an-address", "organization": "  ", "name": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'class="error-summary" role="alert"' in html
    assert '<a href="#email">' in html and '<a href="#organization">' in html and '<a href="#name">' in html
    assert "not-an-address is not a valid email address." in html
    assert "Tell us which organization you are with." in html and "Tell us your name." in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="email-hint email-error"' in html
    assert 'value="Thursday evenings"' not in html and "Thursday evenings" in html  # answers are kept
    assert _entries(app) == []


def test_answers_longer_than_allowed_are_refused(app, client, personas, link):
    response = _send(client, link, {**GOOD, "hopes": "x" * 2001})
    assert response.status_code == 400
    assert _entries(app) == []


def test_the_same_address_again_updates_the_pending_entry(app, client, personas, link):
    assert _send(client, link, GOOD).status_code == 200
    assert _send(client, link, {**GOOD, "email": " ROSA@example.org ", "availability": "Mornings"}).status_code == 200
    [entry] = _entries(app)
    assert entry.availability == "Mornings" and entry.status == "pending"
    # Another community's link keeps its own entry.
    assert _send(client, _link(app, personas["lakeside"]), GOOD).status_code == 200
    assert len(_entries(app)) == 2


def test_a_filled_honeypot_gets_the_thank_you_page_and_stores_nothing(app, client, personas, link):
    response = _send(client, link, {**GOOD, "website": "http://spam.example"})
    assert response.status_code == 200
    assert "Thank you for your interest" in response.get_data(as_text=True)
    assert _entries(app) == []


def test_a_form_sent_back_too_fast_is_not_stored_and_can_be_sent_again(app, client, personas, link, monkeypatch):
    monkeypatch.setitem(app.config, "INTAKE_MIN_FILL_SECONDS", 60)
    response = _send(client, link, GOOD)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "quicker than we expected" in html
    assert 'value="rosa@example.org"' in html  # a real person keeps what they typed
    assert _entries(app) == []
    # A stamp not signed by us counts as too fast however old it claims to be.
    monkeypatch.setitem(app.config, "INTAKE_MIN_FILL_SECONDS", 0)
    assert _send(client, link, {**GOOD, "rendered": "intake.forged.stamp"}).status_code == 400
    assert _entries(app) == []


def test_posts_are_rate_limited_per_address(app, client, personas, link):
    hidden = hidden_fields(client.get(link).get_data(as_text=True))
    codes = [client.post(link, data={**hidden, **GOOD, "email": f"p{n}@example.org"}).status_code
             for n in range(6)]
    assert codes == [200] * 5 + [429]
    assert len(_entries(app)) == 5
    # Someone else (another address) can still send it.
    other = app.test_client()
    page = other.get(link, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    response = other.post(link, data={**hidden_fields(page.get_data(as_text=True)), **GOOD},
                          environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 200


def test_page_views_are_rate_limited_too(app, client, personas, link):
    codes = [client.get(link).status_code for _ in range(61)]
    assert codes[:60] == [200] * 60 and codes[60] == 429


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),   # changed signature
    lambda token: "eyJjIjoxfQ.forged",                                      # made up
    lambda token: "1",                                                       # a bare id
])
def test_a_tampered_link_is_not_found_and_stores_nothing(app, client, personas, link, mangle):
    bad = "/join/" + mangle(link.removeprefix("/join/"))
    assert client.get(bad).status_code == 404
    hidden = hidden_fields(client.get(link).get_data(as_text=True))
    assert client.post(bad, data={**hidden, **GOOD}).status_code == 404
    assert _entries(app) == []


def test_a_link_made_for_another_purpose_does_not_open_the_form(app, client, personas):
    from service.tokens import make_token
    with app.app_context():
        other_purpose = make_token("practice", 0, personas["riverside"])
    assert client.get(f"/join/{other_purpose}").status_code == 404


def test_a_post_without_csrf_is_refused_and_stores_nothing(app, client, personas, link):
    client.get(link)
    response = client.post(link, data=GOOD)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert _entries(app) == []


# --- the coordinator's queue ----------------------------------------------------------------------

def _dashboard(personas, name="riverside") -> str:
    return f"/communities/{personas[name]}/intake/"


def _press(client, page_url: str, action_url: str):
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    return client.post(action_url, data={"csrf_token": token})


def test_the_dashboard_shows_the_link_to_copy_and_the_waiting_entries(app, client, alice_client, personas, link):
    _send(client, link, GOOD)
    page = alice_client.get(_dashboard(personas))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'value="{app.config["PUBLIC_BASE_URL"].rstrip("/")}{link}"' in html  # the absolute link to copy
    assert "Rosa Díaz" in html and "rosa@example.org" in html and "Casa Verde" in html
    assert "1 person waiting for review" in html
    community = alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)
    assert "Interest form (1 waiting)" in community and f'href="{_dashboard(personas)}"' in community


def test_accepting_makes_a_member_and_the_welcome_email_arrives(app, client, alice_client, personas, link, smtp):
    _send(client, link, GOOD)
    [entry] = _entries(app)
    response = _press(alice_client, _dashboard(personas),
                      f"/communities/{personas['riverside']}/intake/{entry.id}/accept")
    assert response.status_code == 302
    assert "is now a member" in alice_client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        member = db.session.scalar(select(Member).where(Member.email == "rosa@example.org"))
        assert member is not None and member.name == "Rosa Díaz" and member.language == "es"
        membership = db.session.scalar(select(Membership).where(Membership.member_id == member.id))
        assert membership.organization.name == "Casa Verde"
        assert membership.community_id == personas["riverside"] and membership.role == "member"
        stored = db.session.get(IntakeEntry, entry.id)
        assert stored.status == "accepted" and stored.member_id == member.id and stored.reviewed_at
        actions = set(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.community_id == personas["riverside"])))
        assert {"intake.submit", "intake.accept", "member.add"} <= actions
    run_worker(app)
    # The acknowledgement of the form, and the welcome.
    received = smtp.to("rosa@example.org")
    acknowledgement = "Recibimos su interés en Riverside COP"
    assert [m.message["Subject"] for m in received].count(acknowledgement) == 1
    [message] = [m for m in received if m.message["Subject"] != acknowledgement]
    assert "Riverside COP" in message.message["Subject"]
    # Accepting again changes nothing and sends nothing more.
    _press(alice_client, _dashboard(personas), f"/communities/{personas['riverside']}/intake/{entry.id}/accept")
    run_worker(app)
    assert len(smtp.to("rosa@example.org")) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.member_id == member.id)) == 1


def test_accepting_someone_already_a_member_adds_no_second_membership(app, client, alice_client, personas, link):
    _send(client, link, {**GOOD, "email": "ana@example.org", "name": "Ana T."})
    [entry] = _entries(app)
    response = _press(alice_client, _dashboard(personas),
                      f"/communities/{personas['riverside']}/intake/{entry.id}/accept")
    html = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ana@example.org is already a member of this community" in html
    with app.app_context():
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        assert ana.name == "Ana Torres"  # her details are not overwritten
        assert db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.member_id == ana.id)) == 1
        stored = db.session.get(IntakeEntry, entry.id)
        assert stored.status == "accepted" and stored.member_id == ana.id


def test_declining_adds_no_member_and_moves_the_entry(app, client, alice_client, personas, link, smtp):
    _send(client, link, GOOD)
    [entry] = _entries(app)
    response = _press(alice_client, _dashboard(personas),
                      f"/communities/{personas['riverside']}/intake/{entry.id}/decline")
    assert response.status_code == 302
    html = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Declined Rosa Díaz" in html and "Nobody is waiting for review." in html
    run_worker(app)
    # Only the acknowledgement of the form: declining tells nobody.
    assert [m.message["Subject"] for m in smtp.to("rosa@example.org")] == ["Recibimos su interés en Riverside COP"]
    with app.app_context():
        assert db.session.scalar(select(Member).where(Member.email == "rosa@example.org")) is None
        assert db.session.get(IntakeEntry, entry.id).status == "declined"
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "intake.decline")) is not None
    # The same address may send the form again: a new pending entry.
    _send(client, link, GOOD)
    assert [e.status for e in _entries(app)] == ["declined", "pending"]


def test_what_people_wrote_is_shown_as_text_on_the_dashboard(app, client, alice_client, personas, link):
    _send(client, link, {**GOOD, "name": XSS, "organization": '"><img src=x onerror=alert(2)>',
                         "hopes": XSS, "topics": "<b>bold</b>", "role": "<i>r</i>"})
    html = alice_client.get(_dashboard(personas)).get_data(as_text=True)
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>bold</b>" not in html and "<i>r</i>" not in html
    [entry] = _entries(app)
    response = _press(alice_client, _dashboard(personas),
                      f"/communities/{personas['riverside']}/intake/{entry.id}/decline")
    flashed = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert XSS not in flashed and "Declined &lt;script&gt;" in flashed


def test_bob_gets_404_on_alices_intake_pages_and_changes_nothing(app, client, personas, link):
    _send(client, link, GOOD)
    [entry] = _entries(app)
    assert login(client, "bob@example.org", PASSWORD).status_code == 302
    riverside = personas["riverside"]
    assert client.get(f"/communities/{riverside}/intake/").status_code == 404
    token = csrf_from(client.get("/").get_data(as_text=True))
    for action in ("accept", "decline"):
        assert client.post(f"/communities/{riverside}/intake/{entry.id}/{action}",
                           data={"csrf_token": token}).status_code == 404
        # alice's entry under bob's own community is not found either.
        assert client.post(f"/communities/{personas['lakeside']}/intake/{entry.id}/{action}",
                           data={"csrf_token": token}).status_code == 404
    [after] = _entries(app)
    assert after.status == "pending"
    with app.app_context():
        assert db.session.scalar(select(Member).where(Member.email == "rosa@example.org")) is None


def test_accept_without_csrf_is_refused(app, client, alice_client, personas, link):
    _send(client, link, GOOD)
    [entry] = _entries(app)
    response = alice_client.post(f"/communities/{personas['riverside']}/intake/{entry.id}/accept")
    assert response.status_code == 400
    assert _entries(app)[0].status == "pending"


def test_accept_by_get_changes_nothing(app, client, alice_client, personas, link):
    _send(client, link, GOOD)
    [entry] = _entries(app)
    assert alice_client.get(f"/communities/{personas['riverside']}/intake/{entry.id}/accept").status_code == 405
    assert _entries(app)[0].status == "pending"


def test_the_link_is_the_same_each_time_and_names_only_its_community(app, personas):
    with app.test_request_context():
        riverside = db.session.get(Community, personas["riverside"])
        lakeside = db.session.get(Community, personas["lakeside"])
        assert intake.link_token(riverside) == intake.link_token(riverside)
        assert intake.link_token(riverside) != intake.link_token(lakeside)
        assert intake.community_from_token(intake.link_token(lakeside)).id == lakeside.id
        assert str(riverside.id) != intake.link_token(riverside)
        assert intake.public_link(riverside).startswith(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/join/")
