"""The door for received mail: stored before anything reads it, once per Message-ID, never lost; the routes
that need no understanding of the text (unsubscribe, who sent it, automatic mail, failures)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from service import clock, mailer
from service.addresses import make_address
from service.extensions import db
from service.inbound.store import receive
from service.models import InboundMessage, Member, OutboundEmail, Suppression
from service.queue import get_queue
from tests.inbound_mail import compose, deliver


def _ana():
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def test_the_list_unsubscribe_mailto_unsubscribes_the_member_and_sends_nothing(app, ctx, personas):
    """A mail client's unsubscribe button sends an empty message to the mailto of List-Unsubscribe."""
    ana = _ana()
    address = make_address("unsubscribe", ana.id)
    outbox_before = db.session.scalar(select(func.count(OutboundEmail.id)))
    stored = deliver(app, compose("ana@example.org", address, "unsubscribe", "This message will unsubscribe "
                                  "you."), address)
    assert (stored.status, stored.outcome, stored.member_id) == ("done", "unsubscribed", ana.id)
    db.session.expire_all()
    assert _ana().status == "unsubscribed"
    assert db.session.scalar(select(Suppression.reason).where(Suppression.address == "ana@example.org")) \
        == "unsubscribed"
    assert db.session.scalar(select(func.count(OutboundEmail.id))) == outbox_before


def test_the_same_message_twice_is_stored_and_processed_once(app, ctx, personas):
    address = make_address("unsubscribe", _ana().id)
    raw = compose("ana@example.org", address, "unsubscribe")
    first = deliver(app, raw, address)
    again, new = receive(raw, address, "mta")
    assert not new and again.id == first.id
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 1
    assert get_queue().count == 0


def test_a_message_without_message_id_is_still_stored_once(app, ctx, personas):
    address = make_address("unsubscribe", _ana().id)
    raw = b"From: ana@example.org\r\nTo: " + address.encode() + b"\r\nSubject: stop\r\n\r\nstop\r\n"
    deliver(app, raw, address)
    deliver(app, raw, address)
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 1


def test_a_tampered_address_is_held_and_nothing_acted_on(app, ctx, personas):
    genuine = make_address("unsubscribe", _ana().id)
    local, _, domain = genuine.partition("@")
    tampered = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"
    stored = deliver(app, compose("ana@example.org", tampered, "unsubscribe"), tampered)
    assert stored.status == "held" and "signed addresses" in stored.reason
    assert _ana().status == "active"


def test_a_reply_from_another_address_is_held_for_a_coordinator(app, ctx, personas):
    ana = _ana()
    address = make_address("reply", ana.id, personas["riverside"])
    stored = deliver(app, compose("mallory@evil.example", address, "Re: meeting", "yes"), address)
    assert stored.status == "held" and "mallory@evil.example" in stored.reason
    assert stored.community_id == personas["riverside"] and stored.member_id is None


def test_a_reply_address_for_a_community_the_member_is_not_in_is_held(app, ctx, personas):
    address = make_address("reply", _ana().id, personas["lakeside"])
    stored = deliver(app, compose("ana@example.org", address), address)
    assert stored.status == "held" and "not in this community" in stored.reason


def test_a_reply_address_of_a_community_deleted_since_is_held(app, ctx, personas):
    address = make_address("reply", _ana().id, 987654)  # signed, but no community has this id (any longer)
    stored = deliver(app, compose("ana@example.org", address, "Re: meeting", "yes"), address)
    assert stored.status == "held" and "no longer exists" in stored.reason
    assert _ana().status == "active" and db.session.scalar(select(func.count(OutboundEmail.id))) == 0


@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"X_Autoreply": "yes"},
    {"Subject": "Out of Office: back Monday"}, {"Subject": "Respuesta automática: fuera de la oficina"},
    {"List_Id": "<news.example.net>"}, {"Return_Path": "<>"},
])
def test_automatic_mail_is_ignored_and_never_answered(app, ctx, personas, headers):
    ana = _ana()
    address = make_address("unsubscribe", ana.id)
    subject = headers.pop("Subject", "Re: your email")
    stored = deliver(app, compose("ana@example.org", address, subject, "I am away.", **headers), address)
    assert stored.status == "ignored" and stored.reason
    assert _ana().status == "active"
    assert db.session.scalar(select(func.count(OutboundEmail.id))) == 0


@pytest.mark.parametrize("body", ["I am out of the office until Monday with limited access to email.",
                                  "Estoy fuera de la oficina hasta el lunes."])
def test_an_out_of_office_text_is_ignored(app, ctx, personas, body):
    address = make_address("unsubscribe", _ana().id)
    stored = deliver(app, compose("ana@example.org", address, "Re: Riverside news", body), address)
    assert stored.status == "ignored"
    assert _ana().status == "active"


def test_our_own_mail_coming_back_is_ignored(app, ctx, personas):
    address = make_address("unsubscribe", _ana().id)
    stored = deliver(app, compose(app.config["MAIL_DEFAULT_SENDER"], address, "Re: hello"), address)
    assert stored.status == "ignored" and "loop" in stored.reason


def test_a_message_that_breaks_processing_is_failed_and_kept(app, ctx, personas, monkeypatch):
    from service import preferences
    def broken(member, via):
        raise RuntimeError("boom")
    monkeypatch.setattr(preferences, "unsubscribe", broken)
    address = make_address("unsubscribe", _ana().id)
    raw = compose("ana@example.org", address, "unsubscribe")
    stored = deliver(app, raw, address)
    assert stored.status == "failed" and "RuntimeError" in stored.reason and stored.raw == raw


def test_the_recipient_headers_say_where_it_went_when_the_envelope_does_not(app, ctx, personas):
    """An IMAP mailbox or a webhook may not know the envelope recipient: Delivered-To / To tell."""
    address = make_address("unsubscribe", _ana().id)
    stored = deliver(app, compose("ana@example.org", f"Riverside <{address}>", "unsubscribe"), "")
    assert stored.purpose == "unsubscribe" and stored.status == "done"


def test_flask_mail_receive_refuses_a_message_over_the_limit_and_stores_nothing(app, ctx, personas):
    app.config["INBOUND_MAX_BYTES"] = 20_000
    try:
        address = make_address("unsubscribe", _ana().id)
        raw = compose("ana@example.org", address, "big", "x" * 30_000)
        result = app.test_cli_runner().invoke(args=["mail", "receive", "--to", address], input=raw)
    finally:
        app.config["INBOUND_MAX_BYTES"] = 10 * 1024 * 1024
    assert result.exit_code == 65 and "over the limit" in result.output
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 0


def test_the_sweeper_processes_what_redis_lost_and_fails_what_keeps_dying(app, ctx, personas):
    from jobs.sweeper import sweep
    address = make_address("unsubscribe", _ana().id)
    lost = deliver(app, compose("ana@example.org", address, "unsubscribe"), address)
    dying = deliver(app, compose("ana@example.org", address, "unsubscribe"), address)
    long_ago = clock.now() - timedelta(hours=1)
    lost.status, lost.received_at = "received", long_ago
    dying.status, dying.received_at, dying.attempts = "received", long_ago, 3
    db.session.commit()
    assert sweep()["inbound"] == {"requeued": 1, "failed": 1}
    db.session.expire_all()
    assert db.session.get(InboundMessage, dying.id).status == "failed"
    assert get_queue().count == 1
