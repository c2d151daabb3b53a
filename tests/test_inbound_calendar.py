"""Calendar answers: Accept / Maybe / Decline in Gmail, Outlook or Apple Calendar becomes the member's RSVP.

Each fixture is a calendar REPLY in the shape one of those clients sends,
put through the real pipeline: stored by `store.receive`, processed by the
inbound job on a real RQ worker. The fixtures name the meeting by a fixed
UID, so the test's meeting takes that UID (as if our invitation had carried
it); one test answers the invitation we actually sent, UID and all.
"""
from datetime import datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from service import addresses, meetings
from service.extensions import db
from service.ical import meeting_calendar
from service.inbound import calendar, itip, store
from service.inbound.message import read_message
from service.models import Community, InboundMessage, Invitation, Meeting, Member, OutboundEmail
from tests.conftest import run_worker
from tests.inbound_mail import deliver

FIXTURES = Path(__file__).parent / "fixtures" / "inbound" / "calendar"
FIXTURE_UID = "5b1e8c3a-6f1d-4c55-9a0e-2d7f4e1b9c60@cop.localhost"


def _community(name="Riverside COP") -> Community:
    return db.session.scalar(select(Community).where(Community.name == name))


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _meeting(community="Riverside COP", uid=FIXTURE_UID, starts_in=timedelta(days=3)) -> Meeting:
    """A meeting every active member of the community is invited to, carrying the fixtures' UID."""
    meeting = meetings.create_meeting(None, _community(community), title="Monthly call",
                                      starts_at=datetime.now(timezone.utc) + starts_in)
    if uid:
        meeting.uid = uid
    db.session.commit()
    return meeting


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _receive(app, raw: bytes, to: str) -> InboundMessage:
    """Through the pipeline as the MTA would hand it over: stored, then processed by the worker."""
    row = deliver(app, raw, to)
    assert row.status != "received", "the worker processed it"
    return row


def _invitation(meeting: Meeting, email="ana@example.org") -> Invitation:
    db.session.expire_all()
    return meetings.invitation_for(db.session.get(Meeting, meeting.id), _member(email))


def _outbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboundEmail))


@pytest.mark.parametrize("fixture, answer, note", [
    ("google_accepted.eml", "yes", ""),
    ("google_declined_es.eml", "no", "Me toca cubrir un turno ese día; mando mis notas por correo."),
    ("outlook_tentative.eml", "maybe", "I should be able to join, but a board meeting may run late."),
    ("outlook_aceptado_es.eml", "yes", ""),
    ("apple_accepted.eml", "yes", ""),
])
def test_each_clients_answer_becomes_the_rsvp_without_a_confirmation_mail(app, ctx, personas, fixture, answer,
                                                                          note):
    meeting = _meeting()
    run_worker(app)  # the invitations go out first
    mail_before = _outbox_count()
    row = _receive(app, _fixture(fixture), addresses.make_address("calendar", meeting.id))
    assert (row.status, row.outcome, row.reason) == ("done", "calendar_rsvp", "")
    assert (row.object_kind, row.object_id, row.community_id) == ("meeting", meeting.id, meeting.community_id)
    assert row.member_id == _member().id
    invitation = _invitation(meeting)
    assert (invitation.answer, invitation.note) == (answer, note)
    assert _outbox_count() == mail_before, "the calendar already shows the answer: no confirmation email"


def test_accepting_then_declining_changes_the_answer(app, ctx, personas):
    meeting = _meeting()
    to = addresses.make_address("calendar", meeting.id)
    assert _receive(app, _fixture("google_accepted.eml"), to).status == "done"
    assert _invitation(meeting).answer == "yes"
    assert _receive(app, _fixture("google_declined_es.eml"), to).status == "done"
    assert _invitation(meeting).answer == "no"


def test_the_same_answer_delivered_twice_is_processed_once(app, ctx, personas):
    meeting = _meeting()
    to = addresses.make_address("calendar", meeting.id)
    first = _receive(app, _fixture("outlook_tentative.eml"), to)
    again, created = store.receive(_fixture("outlook_tentative.eml"), envelope_to=to, via="test")
    assert not created and again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_answering_the_invitation_we_sent_records_it(app, ctx, personas, smtp):
    """The whole loop: our invitation's ORGANIZER receives the REPLY a calendar builds from it."""
    meeting = _meeting(uid=None)
    run_worker(app)
    [received] = smtp.to("ana@example.org")
    part = next(p for p in received.message.walk() if p.get_content_type() == "text/calendar")
    invitation = icalendar.Calendar.from_ical(part.get_content())
    event = next(c for c in invitation.walk() if c.name == "VEVENT")
    organizer = str(event["ORGANIZER"]).removeprefix("mailto:")
    assert addresses.read_address(organizer) == ("calendar", (meeting.id,))
    assert str(event["UID"]) == meeting.uid
    answer = icalendar.Calendar()  # what a calendar sends back: the same event, METHOD:REPLY, our PARTSTAT
    answer.add("prodid", "-//Example Calendar//EN")
    answer.add("version", "2.0")
    answer.add("method", "REPLY")
    reply_event = icalendar.Event()
    for name in ("UID", "SEQUENCE", "DTSTART", "DTEND", "ORGANIZER"):
        reply_event.add(name, event[name])
    attendee = icalendar.vCalAddress("mailto:ana@example.org")
    attendee.params["partstat"] = "TENTATIVE"
    reply_event.add("attendee", attendee)
    answer.add_component(reply_event)
    raw = (f"From: Ana Torres <ana@example.org>\r\nTo: {organizer}\r\nSubject: Tentative: Monthly call\r\n"
           "Message-ID: <loop-1@example.org>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/calendar; charset=utf-8; method=REPLY\r\n\r\n").encode() + answer.to_ical()
    row = _receive(app, raw, organizer)
    assert (row.status, row.outcome) == ("done", "calendar_rsvp")
    assert _invitation(meeting).answer == "maybe"


def test_the_organizer_address_round_trips_and_names_the_community(app, ctx, personas):
    meeting = _meeting()
    text = meeting_calendar(meeting, _member(), None, "REQUEST")
    organizer = next(c for c in icalendar.Calendar.from_ical(text).walk() if c.name == "VEVENT")["ORGANIZER"]
    assert addresses.read_address(str(organizer).removeprefix("mailto:")) == ("calendar", (meeting.id,))
    assert organizer.params["CN"] == "Riverside COP"
    tampered = addresses.make_address("calendar", meeting.id).replace(f"+{meeting.id}.", f"+{meeting.id + 1}.")
    assert addresses.read_address(tampered) is None


def test_the_uid_stays_the_same_when_the_meeting_changes(app, ctx, personas):
    meeting = _meeting(uid=None)
    uid = meeting.uid
    meetings.update_meeting(None, meeting, starts_at=meeting.starts_at + timedelta(hours=1), title="Moved call")
    db.session.commit()
    text = meeting_calendar(meeting, _member(), None, "REQUEST")
    event = next(c for c in icalendar.Calendar.from_ical(text).walk() if c.name == "VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 1)


def test_an_answer_sent_from_someone_elses_address_is_held(app, ctx, personas):
    meeting = _meeting()
    row = _receive(app, _fixture("spoofed_attendee.eml"), addresses.make_address("calendar", meeting.id))
    assert row.status == "held" and "mallory@example.net" in row.reason and "ana@example.org" in row.reason
    assert row.outcome is None
    assert _invitation(meeting).answer is None, "nothing recorded"


def test_an_answer_for_someone_not_invited_is_held(app, ctx, personas):
    meeting = _meeting()
    db.session.delete(_invitation(meeting))
    db.session.commit()
    row = _receive(app, _fixture("google_accepted.eml"), addresses.make_address("calendar", meeting.id))
    assert row.status == "held" and "not invited" in row.reason
    assert db.session.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.answer.is_not(None))) == 0


def test_the_uid_of_another_communitys_meeting_is_held(app, ctx, personas):
    """The calendar address of a Riverside meeting, the UID of a Lakeside one: neither gets an answer."""
    lakeside = _meeting("Lakeside COP")
    riverside = _meeting(uid="riverside-own-uid@cop.localhost")
    row = _receive(app, _fixture("google_accepted.eml"), addresses.make_address("calendar", riverside.id))
    assert row.status == "held" and "another meeting" in row.reason
    assert row.community_id == riverside.community_id  # shown in Riverside's inbox, never in Lakeside's
    assert _invitation(riverside).answer is None
    assert db.session.scalar(select(func.count()).select_from(Invitation).where(
        Invitation.meeting_id == lakeside.id, Invitation.answer.is_not(None))) == 0


def test_a_uid_we_never_issued_is_unclear(app, ctx, personas):
    meeting = _meeting(uid="some-other-uid@cop.localhost")
    row = _receive(app, _fixture("apple_accepted.eml"), addresses.make_address("calendar", meeting.id))
    assert row.status == "unclear" and FIXTURE_UID in row.reason
    assert _invitation(meeting).answer is None


def test_an_answer_to_a_cancelled_meeting_records_nothing(app, ctx, personas):
    meeting = _meeting()
    meetings.cancel_meeting(None, meeting)
    db.session.commit()
    row = _receive(app, _fixture("outlook_aceptado_es.eml"), addresses.make_address("calendar", meeting.id))
    assert row.status == "unclear" and "cancelled" in row.reason
    assert _invitation(meeting).answer is None


def test_a_malformed_calendar_is_unclear_and_the_raw_message_kept(app, ctx, personas):
    meeting = _meeting()
    raw = _fixture("malformed_calendar.eml")
    row = _receive(app, raw, addresses.make_address("calendar", meeting.id))
    assert row.status == "unclear" and "no complete VCALENDAR" in row.reason
    assert bytes(row.raw) == raw
    assert _invitation(meeting).answer is None


def test_a_calendar_answer_at_the_members_reply_address_counts(app, ctx, personas):
    """Some clients send the REPLY to the email's Reply-To: the member's signed reply address."""
    meeting = _meeting()
    ana, riverside = _member(), _community()
    row = InboundMessage(via="test", envelope_to=addresses.make_address("reply", ana.id, riverside.id),
                         envelope_from="", message_id="<reply-path-1@example.org>", raw=b"", size=0,
                         from_address="ana@example.org", subject="", purpose="reply", status="received")
    db.session.add(row)
    incoming = read_message(_fixture("apple_accepted.eml"))
    assert calendar.handle_if_calendar_reply(row, incoming, ana, riverside) is True
    db.session.commit()
    assert (row.status, row.outcome) == ("done", "calendar_rsvp")
    assert _invitation(meeting).answer == "yes"


def test_a_calendar_answer_marked_automatic_at_the_reply_address_counts_through_the_pipeline(app, ctx, personas):
    """A REPLY sent to the email's Reply-To, marked Auto-Submitted by the calendar server: still her answer,
    and, like every calendar answer, not confirmed by mail."""
    meeting = _meeting()
    ana, riverside = _member(), _community()
    outbox_before = _outbox_count()
    to = addresses.make_address("reply", ana.id, riverside.id)
    row = _receive(app, b"Auto-Submitted: auto-generated\r\n" + _fixture("google_accepted.eml"), to)
    assert (row.status, row.outcome, row.member_id) == ("done", "calendar_rsvp", ana.id)
    assert _invitation(meeting).answer == "yes"
    assert _outbox_count() == outbox_before


def test_a_calendar_answer_at_a_reply_address_of_another_community_is_held(app, ctx, personas):
    """Ana's Lakeside reply address, the UID of a Riverside meeting: held, and Lakeside learns nothing of it."""
    riverside_meeting = _meeting()
    ana, lakeside = _member(), _community("Lakeside COP")
    row = InboundMessage(via="test", envelope_to=addresses.make_address("reply", ana.id, lakeside.id),
                         envelope_from="", message_id="<reply-path-2@example.org>", raw=b"", size=0,
                         from_address="ana@example.org", subject="", purpose="reply", status="received",
                         community_id=lakeside.id, member_id=ana.id)  # as the core's reply routing leaves it
    db.session.add(row)
    assert calendar.handle_if_calendar_reply(row, read_message(_fixture("google_accepted.eml")), ana, lakeside)
    db.session.commit()
    assert row.status == "held" and row.community_id == lakeside.id and row.object_id is None
    assert "Monthly call" not in row.reason
    assert _invitation(riverside_meeting).answer is None


def test_a_plain_reply_is_left_to_the_reply_handler(app, ctx, personas):
    ana, riverside = _member(), _community()
    incoming = read_message(b"From: ana@example.org\r\nSubject: Re: Monthly call\r\n\r\nYes, count me in.\r\n")
    assert calendar.handle_if_calendar_reply(None, incoming, ana, riverside) is False


def test_google_sends_its_answer_twice_and_it_counts_once(ctx):
    incoming = read_message(_fixture("google_accepted.eml"))
    assert len(incoming.calendar_parts) == 2  # inline and invite.ics
    [reply] = itip.calendar_replies(incoming)
    assert (reply.uid, reply.attendee, reply.answer) == (FIXTURE_UID, "ana@example.org", "yes")


@pytest.mark.parametrize("partstat, answer", [("ACCEPTED", "yes"), ("TENTATIVE", "maybe"), ("DECLINED", "no"),
                                              ("NEEDS-ACTION", None), ("DELEGATED", None), ("X-ODD", None)])
def test_partstat_becomes_an_answer_only_when_it_is_one(ctx, partstat, answer):
    text = ("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u@x\r\nSEQUENCE:2\r\n"
            f"ATTENDEE;PARTSTAT={partstat}:MAILTO:Ana@Example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    incoming = read_message(b"From: a@b\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n" + text.encode())
    [reply] = itip.calendar_replies(incoming)
    assert (reply.answer, reply.attendee, reply.sequence) == (answer, "ana@example.org", 2)


def test_a_request_or_counter_is_not_an_answer(ctx):
    for method in ("REQUEST", "COUNTER", "CANCEL"):
        text = (f"BEGIN:VCALENDAR\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\nUID:u@x\r\n"
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        incoming = read_message(b"From: a@b\r\nContent-Type: text/calendar\r\n\r\n" + text.encode())
        assert itip.calendar_replies(incoming) == []
        assert any(method in problem for problem in incoming.problems)


CALENDAR_PIECES = ["BEGIN:VCALENDAR", "END:VCALENDAR", "BEGIN:VEVENT", "END:VEVENT", "METHOD:REPLY", "METHOD:",
                   "UID:", "SEQUENCE:", "ATTENDEE", ";PARTSTAT=", "ACCEPTED", ";CN=\"", "^'", ":mailto:", "MAILTO:",
                   "COMMENT:", "DTSTART:", "20261203T000000Z", "\r\n", "\r\n ", ":", ";", "\\", ",", "\x00", "é"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(CALENDAR_PIECES), st.text(max_size=4)), max_size=60).map("".join))
def test_no_calendar_text_makes_the_reader_raise(app, text):
    with app.app_context():
        incoming = read_message(b"From: a@b\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n"
                                + text.encode("utf-8", "surrogatepass"))
        replies = itip.calendar_replies(incoming)  # must not raise
    assert all(reply.answer in (None, "yes", "maybe", "no") for reply in replies)
    assert all("\x00" not in problem for problem in incoming.problems)


def test_control_characters_in_a_calendar_never_reach_the_database(app, ctx, personas):
    """PostgreSQL text cannot hold NUL: a UID or attendee carrying one is cleaned, and the message settled."""
    meeting = _meeting()
    text = ("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:\x00odd\x01uid\r\n"
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ana\x00@example.org\r\nCOMMENT:hi\x00there\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")
    raw = (b"From: ana@example.org\r\nMessage-ID: <nul-1@example.org>\r\n"
           b"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" + text.encode())
    row = _receive(app, raw, addresses.make_address("calendar", meeting.id))
    assert row.status == "unclear" and "odduid" in row.reason
    assert _invitation(meeting).answer is None


def test_an_answer_marked_automatic_still_counts_but_an_out_of_office_is_ignored(app, ctx, personas):
    """Calendar servers send the click's REPLY with Auto-Submitted; it is still the member's answer."""
    meeting = _meeting()
    to = addresses.make_address("calendar", meeting.id)
    row = _receive(app, b"Auto-Submitted: auto-generated\r\n" + _fixture("apple_accepted.eml"), to)
    assert (row.status, row.outcome) == ("done", "calendar_rsvp")
    assert _invitation(meeting).answer == "yes"
    notice = _receive(app, b"Auto-Submitted: auto-replied\r\nFrom: ana@example.org\r\nSubject: Out of office\r\n"
                           b"Message-ID: <ooo-1@example.org>\r\n\r\nI am out of the office until Monday.\r\n", to)
    assert notice.status == "ignored" and _invitation(meeting).answer == "yes"
