"""Rotating SECRET_KEY: what was signed with a key in SECRET_KEY_FALLBACKS still works; other keys never do.

Members' links live 90 days and bounce addresses as long as mail is in
flight, so a rotated key is kept as a fallback for that long: it verifies,
only SECRET_KEY signs.
"""
from pathlib import Path

import pytest
from sqlalchemy import select

from service import bounces, intake, mailer
from service.addresses import make_address, read_address
from service.extensions import db
from service.models import BounceEvent, Community, Member, OutboundEmail, Suppression
from service.tokens import TokenError, make_token, read_token

NEW_KEY = "the-new-key-after-rotation-0123456789abcdef"
STRANGERS_KEY = "a-key-that-was-never-ours-0123456789abcdef"
DSN = Path(__file__).parent / "fixtures" / "bounces" / "postfix_dsn_user_unknown.eml"


@pytest.fixture
def rotate(app, monkeypatch):
    """rotate(): SECRET_KEY becomes NEW_KEY, the key used so far its fallback (as the operations guide says)."""
    def rotate(fallbacks=None):
        old = app.config["SECRET_KEY"]
        monkeypatch.setitem(app.config, "SECRET_KEY", NEW_KEY)
        monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [old] if fallbacks is None else fallbacks)
    return rotate


def _ana() -> Member:
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _signed_under_the_current_key(ana: Member) -> dict:
    """An unsubscribe link, the public join link, and a sent email's bounce and reply addresses."""
    riverside = _riverside()
    assert mailer.queue_email("welcome", ana, "welcome:ana", community=riverside) == 1
    row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == ana.email))
    row.status = "sent"
    db.session.commit()
    return {"unsubscribe": f"/m/unsubscribe/{make_token('unsubscribe', ana.id)}",
            "join": f"/join/{intake.link_token(riverside)}",
            "bounce": make_address("bounce", row.id),
            "reply": make_address("reply", ana.id, riverside.id)}


def _suppression_reasons() -> list[str]:
    return list(db.session.scalars(select(Suppression.reason)))


def _dsn_to(verp: str) -> bytes:
    return DSN.read_bytes().replace(b"{{RECIPIENT}}", b"ana@example.org").replace(b"{{VERP}}", verp.encode())


def test_links_and_addresses_signed_with_the_old_key_still_work_after_rotation(app, ctx, personas, rotate):
    ana = _ana()
    old = _signed_under_the_current_key(ana)
    rotate()
    client = app.test_client()
    assert client.get(old["join"]).status_code == 200
    assert read_address(old["reply"]) == ("reply", (ana.id, _riverside().id))
    assert client.get(old["unsubscribe"]).status_code == 200  # the confirmation page, not the bad-link one
    assert client.post(old["unsubscribe"], data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert _suppression_reasons() == ["unsubscribed"]
    assert bounces.handle_bounce_message(_dsn_to(old["bounce"]), old["bounce"]).startswith("hard bounce recorded")
    assert [event.member_id for event in db.session.scalars(select(BounceEvent))] == [ana.id]


def test_after_rotation_only_the_new_key_signs(app, ctx, monkeypatch, rotate):
    old_key = app.config["SECRET_KEY"]
    rotate()
    token, address = make_token("unsubscribe", 42), make_address("bounce", 7)
    assert read_token("unsubscribe", token) == 42 and read_address(address) == ("bounce", (7,))
    monkeypatch.setitem(app.config, "SECRET_KEY", old_key)
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [])
    with pytest.raises(TokenError):
        read_token("unsubscribe", token)  # the old key did not sign it
    assert read_address(address) is None


def test_links_and_addresses_signed_with_an_unknown_key_are_refused(app, ctx, personas, rotate, monkeypatch):
    ana = _ana()
    monkeypatch.setitem(app.config, "SECRET_KEY", STRANGERS_KEY)
    forged = _signed_under_the_current_key(ana)
    monkeypatch.setitem(app.config, "SECRET_KEY", NEW_KEY)
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", ["an-old-key-of-ours-0123456789abcdefghij"])
    client = app.test_client()
    assert client.get(forged["join"]).status_code == 404
    assert client.get(forged["unsubscribe"]).status_code == 400  # the bad-link page
    assert client.post(forged["unsubscribe"], data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert read_address(forged["reply"]) is None
    assert bounces.handle_bounce_message(_dsn_to(forged["bounce"]), forged["bounce"]) == \
        "ignored: not one of our bounce addresses"
    db.session.expire_all()
    assert _ana().status == "active" and _suppression_reasons() == []
    assert db.session.scalars(select(BounceEvent)).all() == []


def test_a_coordinator_stays_logged_in_across_a_rotation_while_the_old_key_is_a_fallback(
        app, alice_client, monkeypatch, rotate):
    cookie = alice_client.get_cookie("session").value  # signed with the key before rotation
    rotate()
    browser = app.test_client()
    browser.set_cookie("session", cookie)
    assert browser.get("/").status_code == 200
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [])  # the old key retired
    browser = app.test_client()
    browser.set_cookie("session", cookie)
    assert browser.get("/").status_code == 302
