"""The dashboard inbox: what members wrote, what was understood, and a coordinator's actions by hand."""
import html
import quopri
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from service import meeting_emails, meetings
from service.addresses import make_address
from service.extensions import db
from service.inbound.store import PROCESS_JOB
from service.models import (AuditEvent, Community, InboundMessage, Invitation, Meeting, Member, OutboundEmail,
                            Practice)
from service.queue import get_queue
from tests.conftest import PASSWORD, csrf_from, login
from tests.inbound_mail import compose, deliver
from tests.test_authorization import snapshot

XSS = '<script>alert("inbox")</script><img src=x onerror=alert(1)>'


# --- making messages ------------------------------------------------------------------------------

def _ana() -> Member:
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def _ben() -> Member:
    return db.session.scalar(select(Member).where(Member.email == "ben@example.org"))


def _meeting(community_id: int, title: str = "Monthly call", days: int = 7) -> Meeting:
    community = db.session.get(Community, community_id)
    meeting = meetings.create_meeting(None, community, title=title,
                                      starts_at=datetime.now(timezone.utc) + timedelta(days=days))
    db.session.commit()
    return meeting


def _stored(community_id: int | None, member: Member | None, status: str, *, text: str = "",
            subject: str = "Re: Monthly call",
            object_kind: str | None = None, object_id: int | None = None, reason: str = "",
            outcome: str | None = None, detail: dict | None = None, received_at: datetime | None = None,
            sender: str | None = None, body: str | None = None) -> InboundMessage:
    """A message as processing would have left it (the replies branch decides unclear/done on its own)."""
    sender = sender or (member.email if member else "someone@example.net")
    to = make_address("reply", member.id, community_id) if member and community_id else "reply+1.1.0@cop.localhost"
    raw = compose(sender, to, subject, body if body is not None else (text or "(no words)"))
    row = InboundMessage(via="test", message_id=f"<inbox-{uuid.uuid4()}@mail.example.net>", raw=raw,
                         size=len(raw), envelope_to=to, from_address=sender, subject=subject, purpose="reply",
                         community_id=community_id, member_id=member.id if member else None, status=status,
                         outcome=outcome, reason=reason, text=text, object_kind=object_kind, object_id=object_id,
                         detail=detail or {})
    if received_at:
        row.received_at = received_at
    db.session.add(row)
    db.session.commit()
    return row


def _held_from_another_address(app, personas, body: str = "Yes, I'll be there.") -> InboundMessage:
    """Ana's reply address, written from her work account: processing holds it."""
    address = make_address("reply", _ana().id, personas["riverside"])
    row = deliver(app, compose("ana.torres@casaverde.example", address, "Re: Monthly call", body), address)
    assert row.status == "held"
    return row


def _act(client, community_id: int, row_id: int, action: str, **data) -> str:
    """Press an action's button on the inbox page; the text of the page it leads to (entities decoded)."""
    page = client.get(f"/communities/{community_id}/inbox")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(f"/communities/{community_id}/inbox/{row_id}/act",
                           data={"csrf_token": token, "action": action, **data}, follow_redirects=True)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def _row(row_id: int) -> InboundMessage:
    db.session.expire_all()
    return db.session.get(InboundMessage, row_id)


def _answer(meeting_id: int, member: Member) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(Invitation.answer).where(Invitation.meeting_id == meeting_id,
                                                             Invitation.member_id == member.id))


def _audited(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- the list -------------------------------------------------------------------------------------

def test_the_inbox_puts_what_needs_a_person_first_and_says_what_was_understood(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    meeting = _meeting(riverside)
    old = datetime.now(timezone.utc) - timedelta(days=2)
    _stored(riverside, ana, "done", text="Yes!", subject="Re: Answered", outcome="rsvp", object_kind="meeting",
            object_id=meeting.id, detail={"answer": "yes"})
    _stored(riverside, ana, "ignored", subject="Out of office", reason="an automatic reply (Auto-Submitted)")
    _stored(riverside, ana, "failed", subject="Re: Broken", reason="processing failed (ValueError)")
    _stored(riverside, ana, "unclear", text="Is it online?", subject="Re: Question", object_kind="meeting",
            object_id=meeting.id, reason="a question, not an answer", received_at=old)
    _stored(riverside, None, "held", subject="Re: Stranger", sender="x@y.example",
            reason="sent from x@y.example, not from the address of the member")
    _stored(riverside, ana, "done", text="Thanks for the notes", subject="Re: Charter", outcome="comment",
            object_kind="charter", object_id=1)

    page = alice_client.get(f"/communities/{riverside}/inbox").get_data(as_text=True)
    order = [page.index(subject) for subject in ("Re: Stranger", "Re: Question", "Re: Broken", "Re: Charter",
                                                 "Out of office", "Re: Answered")]
    assert order == sorted(order), "held and unclear first, then failed, then the newest of the rest"
    assert "RSVP yes to the meeting “Monthly call”" in page
    assert "Comment on the charter" in page
    assert "Held: sent from x@y.example, not from the address of the member" in page
    assert "Not understood: a question, not an answer" in page
    assert "Ana Torres" in page and "Is it online?" in page
    assert "held: 1" in page and "unclear: 1" in page and "failed: 1" in page and "understood: 2" in page
    # The community's time zone: Chicago, six hours behind UTC in winter (Central Standard Time).
    local = old.astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago"))
    assert local.strftime("%-I:%M") in page


def test_the_community_page_says_how_many_replies_need_the_coordinator(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "need you" not in page and "needs you" not in page
    _stored(riverside, ana, "unclear", text="hmm")
    _stored(riverside, ana, "failed", reason="processing failed")
    _stored(riverside, ana, "done", outcome="comment", text="fine")
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert re.search(rf'<a href="/communities/{riverside}/inbox">2 replies need you</a>', page)


def test_what_a_member_wrote_is_shown_as_text_never_as_html(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    row = _stored(riverside, ana, "unclear", text=XSS, subject=f"Re: {XSS}")
    held = _stored(riverside, None, "held", subject="Re: hi", sender="x@y.example", body=f"<b>bold</b> {XSS}")
    for url in (f"/communities/{riverside}/inbox", f"/communities/{riverside}/inbox/{row.id}",
                f"/communities/{riverside}/inbox/{held.id}"):
        page = alice_client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page, url
        assert "&lt;script&gt;alert(&#34;inbox&#34;)&lt;/script&gt;" in page, url


def test_the_inbox_filters_by_status_and_shows_fifty_a_page(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    for number in range(51):
        _stored(riverside, ana, "done", text=f"comment {number}", subject=f"Re: Note {number:02d}",
                outcome="comment", received_at=datetime.now(timezone.utc) - timedelta(minutes=number))
    _stored(riverside, ana, "unclear", subject="Re: The odd one")
    first = alice_client.get(f"/communities/{riverside}/inbox").get_data(as_text=True)
    assert first.count('<article class="inbound') == 50 and "Re: The odd one" in first
    assert "Re: Note 48" in first and "Re: Note 49" not in first and "Next page" in first
    second = alice_client.get(f"/communities/{riverside}/inbox?page=2").get_data(as_text=True)
    assert second.count('<article class="inbound') == 2 and "Re: Note 50" in second
    assert "Previous page" in second and "Next page" not in second
    unclear = alice_client.get(f"/communities/{riverside}/inbox?status=unclear").get_data(as_text=True)
    assert unclear.count('<article class="inbound') == 1 and "Re: The odd one" in unclear


# --- who may see what -----------------------------------------------------------------------------

def test_another_communitys_inbox_messages_and_actions_are_not_found(app, ctx, alice_client, personas):
    lakeside, riverside, ben = personas["lakeside"], personas["riverside"], _ben()
    bens = _stored(lakeside, ben, "unclear", text="Secret words of Ben", subject="Re: Lakeside plans")
    token = csrf_from(alice_client.get("/").get_data(as_text=True))
    before = snapshot()
    for url in (f"/communities/{lakeside}/inbox", f"/communities/{lakeside}/inbox/{bens.id}",
                f"/communities/{lakeside}/inbox/{bens.id}/raw",
                # bob's message under alice's own community
                f"/communities/{riverside}/inbox/{bens.id}", f"/communities/{riverside}/inbox/{bens.id}/raw",
                "/inbox/unaddressed"):
        response = alice_client.get(url)
        assert response.status_code == 404, url
        assert "Secret words of Ben" not in response.get_data(as_text=True)
    for url in (f"/communities/{lakeside}/inbox/{bens.id}/act", f"/communities/{riverside}/inbox/{bens.id}/act"):
        response = alice_client.post(url, data={"csrf_token": token, "action": "comment"})
        assert response.status_code == 404, url
    assert snapshot() == before
    listing = alice_client.get(f"/communities/{riverside}/inbox").get_data(as_text=True)
    assert "Lakeside plans" not in listing


def test_bob_and_carol_the_admin_see_lakesides_inbox(app, client, personas):
    lakeside = personas["lakeside"]
    with app.app_context():  # a context of its own: Flask-Login keeps the user of a shared one
        _stored(lakeside, _ben(), "unclear", text="Words of Ben", subject="Re: Lakeside plans")
        db.session.remove()
    for email in ("bob@example.org", "carol@example.org"):
        other = app.test_client()
        assert login(other, email, PASSWORD).status_code == 302
        assert "Words of Ben" in other.get(f"/communities/{lakeside}/inbox").get_data(as_text=True), email


def test_mail_that_reached_no_community_is_for_admins_who_can_ignore_it(app, ctx, client, personas):
    stray = _stored(None, None, "held", subject="Re: who am I", sender="stray@example.net",
                    reason="not sent to one of our signed addresses (unknown or altered)")
    assert login(client, "carol@example.org", PASSWORD).status_code == 302
    page = client.get("/inbox/unaddressed").get_data(as_text=True)
    assert "Re: who am I" in page and "Record as a practice" not in page
    assert client.get(f"/inbox/unaddressed/{stray.id}/raw").status_code == 200
    token = csrf_from(page)
    refused = client.post(f"/inbox/unaddressed/{stray.id}/act", data={"csrf_token": token, "action": "practice"},
                          follow_redirects=True).get_data(as_text=True)
    assert "nobody to act for" in refused and _row(stray.id).status == "held"
    client.post(f"/inbox/unaddressed/{stray.id}/act", data={"csrf_token": token, "action": "ignore"})
    assert _row(stray.id).status == "ignored"
    assert [event.details["previous_status"] for event in _audited("inbound.ignore")] == ["held"]


def test_mail_that_reached_no_community_is_not_found_for_a_coordinator(app, ctx, alice_client, personas):
    stray = _stored(None, None, "held", subject="Re: who am I", sender="stray@example.net", body="Stray words")
    token = csrf_from(alice_client.get("/").get_data(as_text=True))
    before = snapshot()
    for url in ("/inbox/unaddressed", f"/inbox/unaddressed/{stray.id}", f"/inbox/unaddressed/{stray.id}/raw",
                f"/communities/{personas['riverside']}/inbox/{stray.id}"):
        response = alice_client.get(url)
        assert response.status_code == 404 and "Stray words" not in response.get_data(as_text=True), url
    assert alice_client.post(f"/inbox/unaddressed/{stray.id}/act",
                             data={"csrf_token": token, "action": "ignore"}).status_code == 404
    assert snapshot() == before
    assert "Unaddressed mail" not in alice_client.get("/").get_data(as_text=True)


def test_an_action_without_the_csrf_token_is_refused_and_changes_nothing(app, ctx, alice_client, personas):
    riverside = personas["riverside"]
    meeting = _meeting(riverside)
    row = _stored(riverside, _ana(), "unclear", text="yes pls", object_kind="meeting", object_id=meeting.id)
    before = snapshot()
    for data in ({}, {"csrf_token": "forged"}):
        response = alice_client.post(f"/communities/{riverside}/inbox/{row.id}/act",
                                     data={"action": "rsvp_yes", **data})
        assert response.status_code == 400
    assert snapshot() == before


# --- actions --------------------------------------------------------------------------------------

def test_recording_an_unclear_reply_as_rsvp_yes_answers_the_invitation(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    meeting = _meeting(riverside)
    row = _stored(riverside, ana, "unclear", text="Claro que sí, ahí nos vemos", object_kind="meeting",
                  object_id=meeting.id, reason="no clear answer")
    page = _act(alice_client, riverside, row.id, "rsvp_yes")
    assert "Ana Torres's answer to “Monthly call” is recorded." in page
    assert _answer(meeting.id, ana) == "yes"
    stored = _row(row.id)
    assert (stored.status, stored.outcome, stored.handled_by_id) == ("done", "rsvp", personas["alice"])
    assert "RSVP yes to the meeting “Monthly call”" in page and "(by Alice)" in page
    [event] = _audited("inbound.rsvp_yes")
    assert (event.coordinator_id, event.object_id, event.community_id) == (personas["alice"], row.id, riverside)
    assert event.details["answer"] == "yes"
    note = db.session.scalar(select(Invitation.note).where(Invitation.meeting_id == meeting.id))
    assert note == "Claro que sí, ahí nos vemos"
    # Ana was told a person would read it; now she hears what was recorded, with the links to change it.
    confirmation = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "reply_rsvp"))
    assert (confirmation.recipient, confirmation.context["meeting_id"]) == ("ana@example.org", meeting.id)


def test_a_reply_with_no_meeting_is_recorded_for_the_meeting_the_coordinator_picks(app, ctx, alice_client,
                                                                                   personas):
    riverside, ana = personas["riverside"], _ana()
    first, second = _meeting(riverside, "First call", 5), _meeting(riverside, "Second call", 12)
    row = _stored(riverside, ana, "unclear", text="I can come to the second one", subject="Hello")
    listing = alice_client.get(f"/communities/{riverside}/inbox").get_data(as_text=True)
    assert f'<option value="{first.id}">First call</option>' in listing
    page = _act(alice_client, riverside, row.id, "rsvp_maybe", meeting_id=second.id)
    assert "“Second call” is recorded" in page
    assert (_answer(first.id, ana), _answer(second.id, ana)) == (None, "maybe")
    assert (_row(row.id).object_kind, _row(row.id).object_id) == ("meeting", second.id)


def test_a_meeting_of_another_community_cannot_be_chosen(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    _meeting(riverside)
    lakeside_meeting = _meeting(personas["lakeside"], "Lakeside call")
    row = _stored(riverside, ana, "unclear", text="yes", subject="Hello")
    before = snapshot()
    page = _act(alice_client, riverside, row.id, "rsvp_yes", meeting_id=lakeside_meeting.id)
    assert "Choose the meeting this answer is for." in page
    assert snapshot() == before


def test_a_refusal_of_the_domain_shows_and_leaves_the_message_as_it_was(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    meeting = _meeting(riverside)
    meeting.starts_at = datetime.now(timezone.utc) - timedelta(hours=1)  # it has started since the reply came
    db.session.commit()
    row = _stored(riverside, ana, "unclear", text="yes", object_kind="meeting", object_id=meeting.id,
                  reason="no clear answer")
    before = snapshot()
    page = _act(alice_client, riverside, row.id, "rsvp_yes")
    assert "This meeting has already started, so answers are closed." in page
    assert snapshot() == before
    assert _row(row.id).status == "unclear" and _answer(meeting.id, ana) is None


def test_a_reply_recorded_as_a_practice_waits_in_the_review_queue(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    row = _stored(riverside, ana, "unclear", subject="RE: Fwd: Saturday seed swap",
                  text="We set up a seed swap table at the Saturday market.\nTwenty families came.")
    page = _act(alice_client, riverside, row.id, "practice")
    assert "practice is waiting for review" in page
    practice = db.session.scalar(select(Practice))
    assert (practice.title, practice.status, practice.member_id) == ("Saturday seed swap", "pending", ana.id)
    assert "Twenty families came." in practice.what_we_did
    assert (_row(row.id).status, _row(row.id).outcome) == ("done", "practice")
    assert len(_audited("inbound.practice")) == 1
    assert db.session.scalar(select(OutboundEmail.recipient).where(OutboundEmail.kind == "reply_practice")) \
        == "ana@example.org"
    queue = alice_client.get(f"/communities/{riverside}/practices/").get_data(as_text=True)
    assert "Saturday seed swap" in queue


def test_an_empty_practice_is_refused_with_the_reason(app, ctx, alice_client, personas):
    riverside = personas["riverside"]
    row = _stored(riverside, _ana(), "unclear", subject="Re: ideas", text="", body="")
    before = snapshot()
    page = _act(alice_client, riverside, row.id, "practice")
    assert "Tell us what you did." in page
    assert snapshot() == before


def test_comment_and_ignore(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    comment = _stored(riverside, ana, "unclear", text="Loved the last session", object_kind="charter",
                      object_id=1)
    ignored = _stored(riverside, ana, "unclear", text="asdf")
    page = _act(alice_client, riverside, comment.id, "comment")
    assert "kept as Ana Torres's comment" in page and "Comment on the charter" in page
    _act(alice_client, riverside, ignored.id, "ignore")
    assert (_row(comment.id).status, _row(comment.id).outcome) == ("done", "comment")
    assert _row(ignored.id).status == "ignored" and _row(ignored.id).handled_by_id == personas["alice"]
    assert len(_audited("inbound.comment")) == 1 and len(_audited("inbound.ignore")) == 1


def test_a_message_already_dealt_with_is_not_acted_on_twice(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    row = _stored(riverside, ana, "unclear", text="ok")
    _act(alice_client, riverside, row.id, "comment")
    before = snapshot()
    page = _act(alice_client, riverside, row.id, "ignore")
    assert "Someone already dealt with this message." in page
    assert snapshot() == before


def test_process_again_puts_a_failed_message_back_in_the_queue(app, ctx, alice_client, personas):
    riverside = personas["riverside"]
    row = _stored(riverside, _ana(), "failed", reason="processing failed (KeyError); the message is kept")
    row.attempts = 3
    db.session.commit()
    get_queue().empty()
    page = _act(alice_client, riverside, row.id, "process_again")
    assert "will be processed again" in page
    stored = _row(row.id)
    assert (stored.status, stored.attempts, stored.reason) == ("received", 0, "")
    [job] = get_queue().get_jobs()
    assert (job.func_name, job.args) == (PROCESS_JOB, (row.id,))
    assert len(_audited("inbound.process_again")) == 1


def test_an_unclear_message_cannot_be_processed_again(app, ctx, alice_client, personas):
    riverside = personas["riverside"]
    row = _stored(riverside, _ana(), "unclear", text="hmm")
    page = _act(alice_client, riverside, row.id, "process_again")
    assert "Only held or failed messages can be processed again." in page
    assert _row(row.id).status == "unclear"


def test_a_held_message_acts_for_the_member_only_once_the_coordinator_confirms_who_wrote_it(app, ctx, alice_client,
                                                                                          personas):
    riverside, ana = personas["riverside"], _ana()
    meeting = _meeting(riverside)
    row = _held_from_another_address(app, personas)
    listing = alice_client.get(f"/communities/{riverside}/inbox").get_data(as_text=True)
    assert "I checked that Ana Torres wrote this message, although it came from ana.torres@casaverde.example" \
        in listing
    assert "RSVP yes for Ana Torres" in listing

    before = snapshot()
    page = _act(alice_client, riverside, row.id, "rsvp_yes", meeting_id=meeting.id)
    assert "Tick the box to confirm that Ana Torres wrote it" in page
    assert snapshot() == before

    _act(alice_client, riverside, row.id, "rsvp_yes", meeting_id=meeting.id, sender_confirmed="y")
    assert _answer(meeting.id, ana) == "yes"
    stored = _row(row.id)
    assert (stored.status, stored.member_id, stored.handled_by_id) == ("done", ana.id, personas["alice"])
    [event] = _audited("inbound.rsvp_yes")
    assert event.details["previous_status"] == "held"


def test_ignoring_a_held_message_needs_no_confirmation(app, ctx, alice_client, personas):
    row = _held_from_another_address(app, personas)
    _act(alice_client, personas["riverside"], row.id, "ignore")
    assert _row(row.id).status == "ignored"


# --- the raw message ------------------------------------------------------------------------------

def test_the_raw_message_is_plain_text_and_its_member_links_act_as_nobody(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    meeting = _meeting(riverside)
    link = meeting_emails.rsvp_links(meeting, ana)["yes"]
    token = link.rsplit("/", 1)[-1].split("?")[0]
    quoted = f"Yes!\n\n> Answer here: {link}\n> <a href=\"{link}\">Yes</a>\n"
    plain = _stored(riverside, ana, "unclear", text="Yes!", body=quoted + XSS)
    response = alice_client.get(f"/communities/{riverside}/inbox/{plain.id}/raw")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = response.get_data(as_text=True)
    assert "Subject: Re: Monthly call" in text and '<script>alert("inbox")</script>' in text  # never run
    assert token not in text and "/test-copy/" in text

    # Quoted-printable cuts long lines with "=" at their end, inside the link too.
    encoded = quopri.encodestring((f"Yes!\n> {'x' * 60} {link}\n").encode()).decode()
    assert "=\n" in encoded and token not in encoded.replace("=\n", "\n").split()
    raw = (f"From: {ana.email}\r\nTo: {make_address('reply', ana.id, riverside)}\r\nSubject: Re: call\r\n"
           f"Message-ID: <qp@mail.example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{encoded}").encode()
    qp = InboundMessage(via="test", message_id="<qp@mail.example.net>", raw=raw, size=len(raw), purpose="reply",
                        community_id=riverside, member_id=ana.id, status="unclear", subject="Re: call",
                        from_address=ana.email, text="Yes!", detail={})
    db.session.add(qp)
    db.session.commit()
    text = alice_client.get(f"/communities/{riverside}/inbox/{qp.id}/raw").get_data(as_text=True)
    assert token not in quopri.decodestring(text.encode()).decode() and "/test-copy/" in text


def test_the_words_shown_for_a_held_message_carry_no_usable_member_link(app, ctx, alice_client, personas):
    riverside, ana = personas["riverside"], _ana()
    meeting = _meeting(riverside)
    link = meeting_emails.rsvp_links(meeting, ana)["no"]
    row = _held_from_another_address(app, personas, body=f"Forwarding Ana's answer.\n> {link}\n")
    page = alice_client.get(f"/communities/{riverside}/inbox/{row.id}").get_data(as_text=True)
    assert "Forwarding Ana&#39;s answer." in page and link not in page and "/test-copy/" in page


@pytest.mark.parametrize("language, words", [("es", "2 respuestas necesitan su atención"),
                                             ("en", "2 replies need you")])
def test_the_replies_waiting_notice_speaks_the_coordinators_language(app, ctx, client, personas, language, words):
    from service.models import Coordinator
    riverside, ana = personas["riverside"], _ana()
    _stored(riverside, ana, "unclear", text="hmm")
    _stored(riverside, ana, "held", text="hmm")
    db.session.get(Coordinator, personas["alice"]).language = language
    db.session.commit()
    assert login(client, "alice@example.org", PASSWORD).status_code == 302
    assert words in client.get(f"/communities/{riverside}").get_data(as_text=True)
