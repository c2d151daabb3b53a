"""Who may see what: a coordinator sees only their communities (404 for the rest), admins see all.

The matrix is built from app.url_map, so a route added later is checked
without anyone remembering to add it here.
"""
import io
import itertools
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import AnyConverter

from service import intake, meetings, member_import, practices
from service.extensions import db
from service.coordinators import create_coordinator
from service.models import (Announcement, Community, CommunityCoordinator, Conversation, Coordinator, InboundMessage,
                            Member, Membership, OutboundEmail, Post, PostAttachment)
from tests.conftest import PASSWORD, csrf_from, login

# What a POST carries if a view forgot its permission check: enough to change something.
HOSTILE_FORM = {"name": "Hacked", "email": "hacked@example.org", "organization": "Evil Corp",
                "language": "en", "role": "leader", "digest_frequency": "never",
                "description": "hacked", "time_zone": "UTC", "stage": "sustaining", "digest_cadence": "weekly"}
HOSTILE_CSV = b"name,email\nHacked,hacked@example.org\n"


def is_member_link(rule) -> bool:
    """Routes members reach from an email: the signed token is the authority, no login."""
    return "token" in rule.arguments


# The login page and its "Forgot your password?", the health checks, and providers' inbound-mail webhook (its
# shared secret authenticates).
PUBLIC_ENDPOINTS = ("static", "auth.login", "password_reset.forgot", "health.healthz", "health.readyz",
                    "inbound_webhook.receive_mail")


def dashboard_rules(app):
    """Every route a coordinator must be logged in for."""
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint not in PUBLIC_ENDPOINTS and not is_member_link(rule)]


def community_rules(app):
    """Dashboard routes under a community (members' links name one too, but their token is the authority)."""
    return [rule for rule in app.url_map.iter_rules()
            if "community_id" in rule.arguments and not is_member_link(rule)]


def methods_of(rule) -> list[str]:
    return sorted(rule.methods & {"GET", "POST"})


def fill(app, rule, objects: dict, strict: bool = True) -> list[str]:
    """The rule's URLs with its arguments taken from `objects` (every value of an any() argument).

    An id argument the caller did not provide is looked up as a row of the
    table it names in the same community (meeting_id -> meeting); a route
    whose object cannot be found fails the test rather than pass untested.
    strict=False fills such ids with 1, for checks that answer before any
    lookup (login required, CSRF).
    """
    choices = {}
    for name in sorted(rule.arguments):
        converter = rule._converters.get(name)
        if isinstance(converter, AnyConverter):
            choices[name] = sorted(converter.items)
        elif name in objects:
            choices[name] = [objects[name]]
        else:
            found = _row_in_community(name, objects.get("community_id"))
            if found is None and not strict:
                found = 1
            if found is None:
                pytest.fail(f"{rule.rule}: no object of the community for <{name}>; "
                            f"create one in the test's objects so this route is checked with a real id")
            choices[name] = [found]
    names = list(choices)
    with app.test_request_context():
        from flask import url_for
        return [url_for(rule.endpoint, **dict(zip(names, values)))
                for values in itertools.product(*(choices[n] for n in names))]


def _row_in_community(argument: str, community_id: int | None):
    table = db.metadata.tables.get(argument.removesuffix("_id"))
    if table is None or community_id is None or "community_id" not in table.c:
        return None
    return db.session.scalar(select(table.c.id).where(table.c.community_id == community_id).limit(1))


def snapshot() -> dict:
    """Every row of every table, to prove a request changed nothing."""
    state = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.c)
            state[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return state


def community_objects(app, community_id: int, coordinator_email: str) -> dict:
    """Real objects of a community for every id a route may take: a membership, an import, an email, a meeting,
    a practice, a received message, a post waiting for a moderator, the coordinator's role."""
    with app.app_context():
        community = db.session.get(Community, community_id)
        coordinator = db.session.scalar(select(Coordinator).where(Coordinator.email == coordinator_email))
        membership_id = db.session.scalar(select(Membership.id).where(Membership.community_id == community_id))
        record = member_import.preview_import(
            coordinator, community, "people.csv",
            f"name,email\nNew Person,new-{community_id}@example.org\n".encode())
        member_id = db.session.scalar(select(Membership.member_id).where(Membership.id == membership_id))
        email = OutboundEmail(kind="invitation", community_id=community_id, member_id=member_id,
                              recipient=db.session.get(Member, member_id).email,
                              idempotency_key=f"test:{community_id}:1", status="sent",
                              message_id=f"<test-{community_id}@cop.localhost>")
        db.session.add(email)
        meeting = meetings.create_meeting(coordinator, community, title="Monthly call",
                                          starts_at=datetime.now(timezone.utc) + timedelta(days=7))
        from service import announcements
        announcements.send_announcement(coordinator, community, "Next week", "See you.", f"later-{community_id}",
                                        send_at=datetime.now(timezone.utc) + timedelta(days=2))  # scheduled
        practice = practices.submit_practice(community, db.session.get(Member, member_id), "Evening hours",
                                             "We opened later on Thursdays.")
        from service import charters
        charter = charters.current_draft(community)
        entry = intake.submit(community, organization="Hope Org", name="Hope",
                              email=f"hope-{community_id}@example.org")
        from service import form_requests
        form_request = form_requests.send_request(coordinator, community, "charter", "Our charter", [member_id],
                                                  datetime.now(timezone.utc) + timedelta(days=5))
        inbound = InboundMessage(via="test", message_id=f"<reply-{community_id}@mail.example.net>",
                                 raw=b"Subject: Re: Monthly call\r\n\r\nSee you there, maybe.\r\n",
                                 purpose="reply", community_id=community_id, member_id=member_id, status="unclear",
                                 subject="Re: Monthly call", text="See you there, maybe.", reason="no clear answer")
        db.session.add(inbound)
        conversation = _published_conversation(community_id, member_id)
        post = Post(conversation_id=conversation.id, community_id=community_id, member_id=member_id,
                    message_id=f"<waiting-{community_id}@cop.localhost>", subject="Evening hours",
                    text="And weekends?", status="waiting")  # for the moderation routes
        db.session.add(post)
        db.session.commit()
        grant_id = db.session.scalar(select(CommunityCoordinator.id).where(
            CommunityCoordinator.community_id == community_id, CommunityCoordinator.coordinator_id == coordinator.id))
        objects = {"community_id": community_id, "membership_id": membership_id, "community_coordinator_id": grant_id,
                   "inbound_message_id": inbound.id,
                   "form_request_id": form_request.id, "request_id": form_request.id, "key": "purpose",
                   "import_id": record.id, "email_id": email.id, "meeting_id": meeting.id,
                   "practice_id": practice.id, "post_id": post.id, "intake_entry_id": entry.id, "charter_id": charter.id,
                   "announcement_id": db.session.scalar(select(Announcement.id).where(
                       Announcement.community_id == community_id)),
                   "conversation_id": conversation.id, "attachment_id": conversation.posts[0].attachments[0].id}
        db.session.remove()
    return objects


def _published_conversation(community_id: int, member_id: int) -> Conversation:
    """A conversation of one published post with a file attached (rows only: no copies queued)."""
    conversation = Conversation(community_id=community_id, subject="Evening hours", started_by_id=member_id,
                                post_count=1, last_post_at=datetime.now(timezone.utc))
    db.session.add(conversation)
    db.session.flush()
    post = Post(conversation_id=conversation.id, community_id=community_id, member_id=member_id,
                message_id=f"<post-{community_id}@cop.localhost>", subject="Evening hours",
                text="Who has tried evening office hours?", status="published",
                published_at=datetime.now(timezone.utc))
    post.attachments.append(PostAttachment(filename="hours.txt", content_type="text/plain", size=5, data=b"18-20"))
    db.session.add(post)
    db.session.flush()
    return conversation


@pytest.fixture
def lakeside(app, personas):
    """Bob's community's real objects."""
    return community_objects(app, personas["lakeside"], "bob@example.org")


def test_every_community_route_exists_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in community_rules(app)}
    # The capabilities this matrix was written against; more may come, none may go unnoticed.
    assert {"communities.show", "communities.edit", "members.add", "members.edit", "members.change_status",
            "imports.upload", "imports.show", "imports.confirm"} <= endpoints


@pytest.fixture
def role_holders(app, personas):
    """lea leads Riverside (alice's), olga observes Lakeside (bob's), leo leads Lakeside; each logs in."""
    with app.app_context():
        for email, community, role in (("lea@example.org", "riverside", "leader"),
                                       ("olga@example.org", "lakeside", "observer"),
                                       ("leo@example.org", "lakeside", "leader")):
            account = create_coordinator(email, email.split("@")[0].title(), PASSWORD)
            db.session.flush()
            db.session.add(CommunityCoordinator(community_id=personas[community], coordinator_id=account.id,
                                                role=role))
        db.session.commit()
        db.session.remove()


def logged_in(app, email: str):
    client = app.test_client()
    assert login(client, email, PASSWORD).status_code == 302
    return client


@pytest.mark.parametrize("outsider", ["alice@example.org", "lea@example.org"])
def test_a_coordinator_or_leader_of_another_community_gets_404_on_every_route_of_bobs_and_changes_nothing(
        app, personas, lakeside, role_holders, outsider):
    alice_client = logged_in(app, outsider)
    token = csrf_from(alice_client.get("/").get_data(as_text=True))
    with app.app_context():
        before = snapshot()
        urls = [(rule, url) for rule in community_rules(app) for url in fill(app, rule, lakeside)]
        db.session.remove()
    assert len(urls) >= 9
    checked = []
    for rule, url in urls:
        allowed = methods_of(rule)
        for method in ("GET", "POST"):
            if method == "GET":
                response = alice_client.get(url)
            else:
                response = alice_client.post(url, data={"csrf_token": token, **HOSTILE_FORM,
                                                        "file": (io.BytesIO(HOSTILE_CSV), "x.csv")},
                                             content_type="multipart/form-data")
            html = response.get_data(as_text=True)
            if method in allowed:
                assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
                assert "Page not found" in html and "Lakeside" not in html and "Ben Lake" not in html
                checked.append((method, url))
            else:
                # Routing refuses the method before any lookup: the same for every id, so it reveals nothing.
                assert response.status_code == 405, f"{method} {url} answered {response.status_code}"
    assert ("POST", f"/communities/{personas['lakeside']}/imports/{lakeside['import_id']}/confirm") in checked
    with app.app_context():
        assert snapshot() == before


@pytest.mark.parametrize("insider", ["bob@example.org", "leo@example.org", "olga@example.org"])
def test_the_same_urls_work_for_bob_his_leader_and_his_observer_so_the_404s_mean_something(
        app, personas, lakeside, role_holders, insider):
    client = logged_in(app, insider)
    with app.app_context():
        urls = [url for rule in community_rules(app) if "GET" in methods_of(rule)
                for url in fill(app, rule, lakeside)]
    assert len(urls) >= 6
    for url in urls:
        response = client.get(url)
        if insider == "olga@example.org" and url.endswith("/export.zip"):
            assert response.status_code == 404  # the whole community in one file is for those who run it
            continue
        assert response.status_code == 200, f"GET {url} answered {response.status_code} for {insider}"


def test_an_observer_changes_nothing_through_any_route_of_the_community(app, personas, lakeside, role_holders):
    """Every POST under Lakeside, and the outbox's retry of its email, is refused to olga with the read-only
    page, before any view runs; a leader's same POST reaches the view."""
    olga = logged_in(app, "olga@example.org")
    token = csrf_from(olga.get("/").get_data(as_text=True))
    with app.app_context():
        before = snapshot()
        urls = [url for rule in community_rules(app) if "POST" in methods_of(rule) for url in fill(app, rule, lakeside)]
        db.session.remove()
    urls += [f"/outbox/{lakeside['email_id']}/retry"]
    assert len(urls) >= 20
    for url in urls:
        response = olga.post(url, data={"csrf_token": token, **HOSTILE_FORM,
                                        "file": (io.BytesIO(HOSTILE_CSV), "x.csv")}, content_type="multipart/form-data")
        assert response.status_code == 403, f"POST {url} answered {response.status_code}"
        assert "You observe Lakeside COP" in response.get_data(as_text=True)
    with app.app_context():
        assert snapshot() == before
    leo = logged_in(app, "leo@example.org")
    edit = f"/communities/{personas['lakeside']}/edit"
    assert leo.post(edit, data={"csrf_token": csrf_from(leo.get(edit).get_data(as_text=True)), **HOSTILE_FORM,
                                "time_zone": "America/Chicago", "stage": "forming"}).status_code == 302


def test_carol_the_admin_sees_every_community(app, client, personas, lakeside):
    assert login(client, "carol@example.org", PASSWORD).status_code == 302
    dashboard = client.get("/").get_data(as_text=True)
    assert "Riverside COP" in dashboard and "Lakeside COP" in dashboard
    page = client.get(f"/communities/{personas['lakeside']}").get_data(as_text=True)
    assert "Ben Lake" in page
    with app.app_context():
        urls = [url for rule in community_rules(app) if "GET" in methods_of(rule)
                for url in fill(app, rule, lakeside)]
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_outbox_rows_of_bobs_community_are_hidden_from_alice(app, alice_client, personas, lakeside):
    riverside = community_objects(app, personas["riverside"], "alice@example.org")
    bob_email = lakeside["email_id"]

    assert alice_client.get(f"/outbox/{bob_email}").status_code == 404
    assert alice_client.get(f"/outbox/{bob_email}/html").status_code == 404
    listing = alice_client.get("/outbox/").get_data(as_text=True)
    assert f'href="/outbox/{bob_email}"' not in listing and "ben@example.org" not in listing
    assert "sent: 1" in listing  # alice's own row only
    # alice's own row is there: the page works, it just leaves bob's out.
    assert f'href="/outbox/{riverside["email_id"]}"' in listing and "ana@example.org" in listing
    assert alice_client.get(f"/outbox/{riverside['email_id']}").status_code == 200
    filtered = alice_client.get("/outbox/?status=sent").get_data(as_text=True)
    assert "ben@example.org" not in filtered


def test_carol_the_admin_sees_bobs_outbox_row(app, client, personas, lakeside):
    assert login(client, "carol@example.org", PASSWORD).status_code == 302
    listing = client.get("/outbox/").get_data(as_text=True)
    assert f'href="/outbox/{lakeside["email_id"]}"' in listing and "ben@example.org" in listing
    page = client.get(f"/outbox/{lakeside['email_id']}")
    assert page.status_code == 200
    assert "ben@example.org" in page.get_data(as_text=True)


def test_anonymous_users_are_sent_to_login_from_every_dashboard_route(app, client, personas, lakeside):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    objects = {**lakeside}
    with app.app_context():
        before = snapshot()
        urls = [(rule, url) for rule in dashboard_rules(app) for url in fill(app, rule, objects, strict=False)]
    assert len(urls) >= 14
    for rule, url in urls:
        for method in methods_of(rule):
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={"csrf_token": token, **HOSTILE_FORM})
            assert response.status_code == 302, f"{method} {url} answered {response.status_code}"
            assert response.headers["Location"].startswith("/login"), f"{method} {url}"
    with app.app_context():
        assert snapshot() == before


def test_bobs_objects_under_alices_community_are_not_found(app, alice_client, personas, lakeside):
    """/communities/<alice's>/members/<bob's membership>/...: the object must belong to the community."""
    token = csrf_from(alice_client.get("/").get_data(as_text=True))
    mixed = {**lakeside, "community_id": personas["riverside"]}
    with app.app_context():
        before = snapshot()
        urls = [(rule, url) for rule in community_rules(app) if len(set(rule.arguments) - {"action"}) > 1
                for url in fill(app, rule, mixed)]
    assert len(urls) >= 5
    for rule, url in urls:
        for method in methods_of(rule):
            if method == "GET":
                response = alice_client.get(url)
            else:
                response = alice_client.post(url, data={"csrf_token": token, **HOSTILE_FORM})
            assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
    with app.app_context():
        assert snapshot() == before


def _text_of(response) -> str:
    """A page's text; for a download of several files (the community's export zip), all of theirs."""
    if response.mimetype != "application/zip":
        return response.get_data(as_text=True)
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def test_bob_reaches_a_person_alice_also_has_only_as_lakeside_knows_them(app, client, personas):
    """Rosa is Alice's "Rosalind Quintero" of Quintero Cooperative and Bob's "R. A.": every route of Riverside
    that names her answers Bob 404, his own pages show only what he typed, and no form of his changes her or
    Riverside."""
    from service import members
    with app.app_context():
        alice, bob = (db.session.scalar(select(Coordinator).where(Coordinator.email == email))
                      for email in ("alice@example.org", "bob@example.org"))
        riverside, lakeside = (db.session.get(Community, personas[name]) for name in ("riverside", "lakeside"))
        alices = members.add_member(alice, riverside, name="Rosalind Quintero", email="rosa@example.org",
                                    organization="Quintero Cooperative", language="es").id
        bobs = members.add_member(bob, lakeside, name="R. A.", email="rosa@example.org").id
        db.session.commit()
    objects = community_objects(app, personas["lakeside"], "bob@example.org")
    assert login(client, "bob@example.org", PASSWORD).status_code == 302
    token = csrf_from(client.get("/").get_data(as_text=True))
    with app.app_context():
        person = (db.session.get(Membership, alices).member_id, "Rosalind Quintero", "rosa@example.org", "es")
        membership_rules = [rule for rule in community_rules(app) if "membership_id" in rule.arguments]
        alice_urls = [url for rule in membership_rules for community in (personas["riverside"], personas["lakeside"])
                      for url in fill(app, rule, {**objects, "community_id": community, "membership_id": alices})]
        own_urls = [url for rule in community_rules(app) if "GET" in methods_of(rule)
                    for url in fill(app, rule, {**objects, "membership_id": bobs})]
        db.session.remove()
    assert len(alice_urls) >= 6
    for url in alice_urls:
        for response in (client.get(url), client.post(url, data={"csrf_token": token, **HOSTILE_FORM})):
            assert response.status_code in (404, 405), url
            assert "Rosalind Quintero" not in response.get_data(as_text=True)
    for url in own_urls:
        html = _text_of(client.get(url))
        assert "Rosalind Quintero" not in html and "Quintero Cooperative" not in html, url
    edit_url = f"/communities/{personas['lakeside']}/members/{bobs}/edit"
    client.post(edit_url, data={"csrf_token": token, **HOSTILE_FORM, "next_module": "0"})
    with app.app_context():
        rosa = db.session.get(Membership, alices)
        assert (rosa.member_id, rosa.member.name, rosa.member.email, rosa.member.language) == person
        assert (rosa.name, rosa.organization.name, rosa.role, rosa.status) == \
            ("Rosalind Quintero", "Quintero Cooperative", "member", "active")
        assert db.session.get(Membership, bobs).organization.name == "Evil Corp"  # his own community's detail
