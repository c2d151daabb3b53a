"""Members' signed links: unsubscribe (page and RFC 8058 one-click), preferences, scanners, tokens."""
import re
import time

import pytest
from sqlalchemy import select

from service import announcements, members
from service.extensions import db
from service.models import AuditEvent, Community, Member, OutboundEmail, Suppression
from service.tokens import make_token
from tests.conftest import csrf_from, run_worker

LINK_RE = re.compile(r"https?://[^\s\"'<>]+")


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _state():
    """What a scanner must never change: members, suppressions, outbox statuses, audit trail."""
    db.session.expire_all()
    return (
        [(m.id, m.status, m.paused, m.language, m.digest_frequency) for m in db.session.scalars(select(Member))],
        sorted(db.session.scalars(select(Suppression.address))),
        [(e.id, e.status) for e in db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id))],
        db.session.query(AuditEvent).count(),
    )


def test_unsubscribe_page_needs_a_post(app, ctx, personas, client):
    token = make_token("unsubscribe", _member().id)
    before = _state()
    for method in ("get", "head"):
        response = getattr(client, method)(f"/m/unsubscribe/{token}")
        assert response.status_code == 200
    assert _state() == before
    page = client.get(f"/m/unsubscribe/{token}").get_data(as_text=True)
    assert "ana@example.org" in page and "<form method=\"post\"" in page


def test_one_click_unsubscribe_works_without_cookies_or_csrf(app, ctx, personas):
    token = make_token("unsubscribe", _member().id)
    bare = app.test_client(use_cookies=False)
    response = bare.post(f"/m/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "Location" not in response.headers
    db.session.expire_all()
    assert _member().status == "unsubscribed"
    assert db.session.scalar(select(Suppression.reason).where(Suppression.address == "ana@example.org")) == "unsubscribed"
    # Doing it again is harmless.
    assert bare.post(f"/m/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_after_unsubscribing_a_fan_out_sends_nothing_to_that_member(app, ctx, personas, smtp, client):
    community = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    members.add_member(None, community, name="Kim Doe", email="kim@example.org")
    db.session.commit()
    client.post(f"/m/unsubscribe/{make_token('unsubscribe', _member().id)}")
    announcements.send_announcement(None, community, "Meeting notes", "Notes from Tuesday.", "nonce-1")
    db.session.commit()
    run_worker(app)
    assert smtp.to("ana@example.org") == []
    assert len(smtp.to("kim@example.org")) == 1
    row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == "ana@example.org"))
    assert row.status == "suppressed" and row.last_error == "unsubscribed"


def test_resubscribe_after_a_mistake(app, ctx, personas, client):
    token = make_token("unsubscribe", _member().id)
    client.post(f"/m/unsubscribe/{token}")
    response = client.post(f"/m/unsubscribe/{token}/undo")
    assert response.status_code == 200
    db.session.expire_all()
    assert _member().status == "active"
    assert db.session.scalar(select(Suppression).where(Suppression.address == "ana@example.org")) is None


def test_preferences_change_frequency_language_and_pause(app, ctx, personas, client):
    url = f"/m/preferences/{make_token('preferences', _member().id)}"
    page = client.get(url)
    assert page.status_code == 200 and 'lang="es"' in page.get_data(as_text=True)  # Ana reads Spanish
    response = client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "name": "Ana Torres",
                                      "digest_frequency": "monthly", "language": "en", "paused": "y"})
    assert response.status_code == 200
    assert 'lang="en"' in response.get_data(as_text=True)  # the answer is already in the new language
    db.session.expire_all()
    member = _member()
    assert (member.digest_frequency, member.language, member.paused) == ("monthly", "en", True)


def test_paused_member_receives_nothing(app, ctx, personas, smtp, client):
    url = f"/m/preferences/{make_token('preferences', _member().id)}"
    page = client.get(url).get_data(as_text=True)
    client.post(url, data={"csrf_token": csrf_from(page), "name": "Ana Torres", "digest_frequency": "weekly",
                           "language": "es", "paused": "y"})
    community = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    announcements.send_announcement(None, community, "Hello", "Body", "nonce-2")
    db.session.commit()
    run_worker(app)
    assert smtp.messages == []


def test_preferences_refuse_a_missing_csrf_token_and_bad_choices(app, ctx, personas, client):
    url = f"/m/preferences/{make_token('preferences', _member().id)}"
    assert client.post(url, data={"digest_frequency": "never", "language": "en"}).status_code == 400
    page = client.get(url).get_data(as_text=True)
    response = client.post(url, data={"csrf_token": csrf_from(page), "name": "Ana Torres",
                                      "digest_frequency": "hourly", "language": "fr"})
    assert response.status_code == 400
    db.session.expire_all()
    assert _member().digest_frequency == "weekly" and _member().language == "es"


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),   # tampered signature
    lambda token: token.split(".")[0],                                        # truncated
    lambda token: "not-a-token",
])
def test_tampered_links_are_refused_and_change_nothing(app, ctx, personas, client, mangle):
    token = mangle(make_token("unsubscribe", _member().id))
    before = _state()
    response = client.post(f"/m/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400 and "does not work" in response.get_data(as_text=True)
    assert _state() == before


def test_a_token_for_one_purpose_does_not_work_for_another(app, ctx, personas, client):
    preferences_token = make_token("preferences", _member().id)
    response = client.post(f"/m/unsubscribe/{preferences_token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    db.session.expire_all()
    assert _member().status == "active"


def test_links_last_at_least_sixty_days_and_then_expire(app, ctx, personas, client, monkeypatch):
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - 61 * 86400)
    old = make_token("preferences", _member().id)
    monkeypatch.setattr(time, "time", lambda: now - 91 * 86400)
    too_old = make_token("preferences", _member().id)
    monkeypatch.undo()
    assert client.get(f"/m/preferences/{old}").status_code == 200
    response = client.get(f"/m/preferences/{too_old}")
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_scanners_opening_every_link_of_every_email_change_nothing(app, ctx, personas, smtp):
    """Mail scanners GET (and HEAD) every link in every message: nothing may change."""
    community = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    members.send_welcome(community, _member())
    announcements.send_announcement(None, community, "News", "Read this.", "nonce-3")
    db.session.commit()
    run_worker(app)
    kinds = {row.kind for row in db.session.scalars(select(OutboundEmail))}
    from service.mailer import KINDS
    assert {"welcome", "announcement"} <= kinds
    links = set()
    for received in smtp.messages:
        message = received.message
        for part in ("plain", "html"):
            links |= set(LINK_RE.findall(message.get_body((part,)).get_content()))
        links |= set(LINK_RE.findall(message.get("List-Unsubscribe", "")))
    assert any("/m/unsubscribe/" in link for link in links) and any("/m/preferences/" in link for link in links)
    before = _state()
    scanner = app.test_client(use_cookies=False)
    for link in links:
        for method in (scanner.get, scanner.head):
            assert method(_path(link.rstrip(">"))).status_code in (200, 302, 404)
    assert _state() == before
    assert set(KINDS) >= kinds
