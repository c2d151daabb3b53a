"""Rotating facilitation: who facilitates which upcoming meeting, the email that tells them, handing a meeting on
by link or by reply, and the invitation and pages that name the facilitator."""
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from service import facilitation, meetings, members, preferences
from service.addresses import make_address
from service.email_render import render
from service.extensions import db
from service.inbound.intent import wants_to_hand_on
from service.models import (AuditEvent, Community, FacilitatorSwap, InboundMessage, Meeting, Member, Membership,
                            OutboundEmail)
from service.tokens import make_token
from tests.conftest import PASSWORD, csrf_from, login, post_form, run_worker
from tests.inbound_mail import compose, deliver

LINK_RE = re.compile(r"https?://[^\s\"'<>]+")
# Ana (Spanish) comes with the personas; the others join Riverside in this order.
PEOPLE = [("Bo Chen", "bo@example.org"), ("Cy Diaz", "cy@example.org"), ("Di Evans", "di@example.org"),
          ("Ed Ford", "ed@example.org"), ("Fe Gomez", "fe@example.org")]


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _id(email: str) -> int:
    return db.session.scalar(select(Member.id).where(Member.email == email))


def _membership(email: str) -> Membership:
    return db.session.scalar(select(Membership).join(Member).where(
        Member.email == email, Membership.community_id == _riverside().id))


def _join_everyone() -> None:
    for name, email in PEOPLE:
        members.add_member(None, _riverside(), name=name, email=email, organization="Casa Verde")
    db.session.commit()


def _meeting(days: int, title: str | None = None, **details) -> Meeting:
    meeting = meetings.create_meeting(None, _riverside(), title=title or f"Exchange in {days} days",
                                      starts_at=datetime.now(timezone.utc) + timedelta(days=days), **details)
    db.session.commit()
    return meeting


def _facilitators(titles: list[str]) -> list[str | None]:
    db.session.expire_all()
    names = members.names_in(_riverside())
    by_title = {m.title: m.facilitator_id for m in db.session.scalars(select(Meeting))}
    return [names.get(by_title[title]) for title in titles]


def _told(kind="facilitator_assigned") -> list[tuple[str, int]]:
    """(recipient, meeting id) of every facilitator email queued, in order."""
    return [(row.recipient, row.context["meeting_id"]) for row in db.session.scalars(
        select(OutboundEmail).where(OutboundEmail.kind == kind).order_by(OutboundEmail.id))]


def _willing(*emails: str) -> None:
    for email in emails:
        _membership(email).willing_to_facilitate = True
    db.session.commit()


def _two_willing_and_a_meeting(app, days=5) -> Meeting:
    """Ana and Bo in the rotation (Ana first: she joined first), and a meeting that goes to Ana."""
    _join_everyone()
    _willing("ana@example.org", "bo@example.org")
    meeting = _meeting(days, "Monthly exchange", location="Main St. Library")
    assert meeting.facilitator_id == _id("ana@example.org")
    return meeting


# --- who is next ----------------------------------------------------------------------------------

def test_the_rotation_goes_round_fairly_skipping_no_answers_the_inactive_and_the_unsubscribed(app, ctx, personas):
    _join_everyone()
    titles = [_meeting(days).title for days in (3, 10, 17, 24, 31)]  # nobody willing yet: no facilitators
    assert _facilitators(titles) == [None] * 5
    riverside = _riverside()
    second, third = (db.session.scalar(select(Meeting).where(Meeting.title == t)) for t in titles[1:3])
    meetings.record_rsvp(second, db.session.get(Member, _id("bo@example.org")), "no")
    meetings.update_meeting(None, third, starts_at=third.starts_at, title=third.title,
                            facilitator_id=_id("cy@example.org"))  # chosen by hand
    members.set_membership_status(None, _membership("di@example.org"), "inactive")
    preferences.unsubscribe(db.session.get(Member, _id("ed@example.org")), via="page")
    _willing("ana@example.org", "bo@example.org", "cy@example.org", "di@example.org", "ed@example.org")

    assert facilitation.rotate(riverside) == 4
    db.session.commit()
    # Ana and Bo never facilitated (Ana joined first); Bo said No to the second; Cy's meeting stays hers, so she
    # counts as facilitating on day 17; then whoever facilitated least recently. Di, Ed and Fe never.
    assert _facilitators(titles) == ["Ana Torres", "Ana Torres", "Cy Diaz", "Bo Chen", "Ana Torres"]
    told = [email for email, _meeting_id in _told()]
    assert sorted(told) == sorted(["ana@example.org"] * 3 + ["cy@example.org", "bo@example.org"])

    assert facilitation.rotate(riverside) == 0  # the same data, the same answer: nothing new, nobody told twice
    db.session.commit()
    assert len(_told()) == 5
    assert all(m.facilitator_told_at for m in db.session.scalars(select(Meeting)))


def test_new_meetings_take_turns_as_they_are_scheduled(app, ctx, personas):
    _join_everyone()
    _willing("ana@example.org", "bo@example.org", "cy@example.org")
    titles = [_meeting(days).title for days in (7, 14, 21, 28)]
    assert _facilitators(titles) == ["Ana Torres", "Bo Chen", "Cy Diaz", "Ana Torres"]


def test_with_one_willing_member_there_is_no_rotation_and_a_hand_set_facilitator_is_respected(
        app, ctx, personas, alice_client):
    _join_everyone()
    _willing("ana@example.org")
    lone = _meeting(4, "Lone meeting")
    assert lone.facilitator_id is None and _told() == []
    page = alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)
    assert "The rotation starts once 2 members are willing to facilitate." in page

    chosen = _meeting(6, "Chosen by hand", facilitator_id=_id("fe@example.org"))
    _willing("bo@example.org")
    facilitation.rotate(_riverside())
    db.session.commit()
    assert _facilitators(["Lone meeting", "Chosen by hand"]) == ["Ana Torres", "Fe Gomez"]
    assert db.session.get(Meeting, chosen.id).facilitator_told_at is not None  # told, and can hand it on too
    row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "facilitator_assigned",
                                                        OutboundEmail.recipient == "fe@example.org"))
    text = render(row, db.session.get(Member, row.member_id), _riverside()).text
    assert 'The coordinator of Riverside COP asked you to facilitate "Chosen by hand".' in text
    assert "/facilitate/" in text


# --- the coordinator's and the member's pages -----------------------------------------------------

def test_the_coordinator_ticks_willing_on_the_member_page_and_the_community_page_shows_the_turns(
        app, ctx, personas, alice_client):
    _join_everyone()
    _meeting(9, "Spring exchange")
    base = f"/communities/{personas['riverside']}"
    for email in ("ana@example.org", "bo@example.org"):
        membership = _membership(email)
        edit = f"{base}/members/{membership.id}/edit"
        form = alice_client.get(edit).get_data(as_text=True)
        assert "Willing to facilitate meetings" in form
        data = {"organization": "Casa Verde", "role": "member", "next_module": "0", "willing_to_facilitate": "y",
                "name": membership.name, "email": email, "language": membership.language,
                "digest_frequency": "weekly"}
        assert post_form(alice_client, edit, data).status_code == 302
    db.session.expire_all()
    assert _facilitators(["Spring exchange"]) == ["Ana Torres"]  # the second tick started the rotation
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.facilitation"))
    assert event.actor == "alice@example.org" and event.details["willing"] is True

    page = alice_client.get(base).get_data(as_text=True)
    section = page[page.index('id="rotation"'):]
    assert section.index("Bo Chen") < section.index("Ana Torres")  # Bo is next: Ana has the spring meeting
    assert "Spring exchange" in section


def test_a_member_joins_the_rotation_from_their_preferences_link(app, ctx, personas, client):
    _join_everyone()
    _willing("bo@example.org")
    _meeting(9, "Spring exchange")
    url = f"/m/preferences/{make_token('preferences', _id('ana@example.org'))}"
    page = client.get(url).get_data(as_text=True)
    assert "Riverside COP" in page and "Lakeside COP" not in page  # only her own communities
    response = client.post(url, data={"csrf_token": csrf_from(page), "name": "Ana Torres",
                                      "digest_frequency": "weekly", "language": "es",
                                      "facilitate": str(_membership("ana@example.org").id)})
    assert response.status_code == 200
    db.session.expire_all()
    assert _membership("ana@example.org").willing_to_facilitate
    assert _facilitators(["Spring exchange"]) == ["Ana Torres"]

    page = client.get(url).get_data(as_text=True)  # and leaves it again: no box ticked
    client.post(url, data={"csrf_token": csrf_from(page), "name": "Ana Torres", "digest_frequency": "weekly",
                           "language": "es"})
    db.session.expire_all()
    assert not _membership("ana@example.org").willing_to_facilitate


# --- the emails -----------------------------------------------------------------------------------

def test_the_facilitator_is_told_once_in_their_language_and_the_invitation_names_them(app, ctx, personas, smtp):
    meeting = _two_willing_and_a_meeting(app)
    run_worker(app)
    to_ana = [r.message for r in smtp.to("ana@example.org")]
    told = [m for m in to_ana if "Monthly exchange" in m["Subject"] and "Invit" not in m["Subject"]]
    assert len(told) == 1
    text = told[0].get_body(("plain",)).get_content()
    assert told[0]["Subject"] == 'Usted facilita "Monthly exchange"'  # Ana reads Spanish
    assert "/m/meetings/%d/facilitate/" % meeting.id in text and "Quién facilita:" not in text

    invitation = next(r.message for r in smtp.to("bo@example.org") if r.message["Subject"].startswith("Invitation"))
    assert "Facilitator: Ana Torres" in invitation.get_body(("plain",)).get_content()
    assert "Ana Torres" in invitation.get_body(("html",)).get_content()
    calendar = next(part for part in invitation.walk() if part.get_content_type() == "text/calendar")
    assert "Facilitator: Ana Torres" in calendar.get_content().replace("\r\n ", "")

    facilitation.rotate(_riverside())
    db.session.commit()
    run_worker(app)
    assert len([r for r in smtp.to("ana@example.org") if "Usted facilita" in r.message["Subject"]]) == 1


# --- handing on by link ---------------------------------------------------------------------------

def _hand_on_path(app, meeting: Meeting, email: str) -> str:
    return f"/m/meetings/{meeting.id}/facilitate/{make_token('facilitator', _id(email), meeting.id)}"


def test_the_link_asks_first_then_hands_the_meeting_to_the_next_who_is_told(app, ctx, personas, client, smtp):
    meeting = _two_willing_and_a_meeting(app)
    run_worker(app)
    text = next(r.message for r in smtp.to("ana@example.org") if "Usted facilita" in r.message["Subject"]) \
        .get_body(("plain",)).get_content()
    link = next(url for url in LINK_RE.findall(text) if "/facilitate/" in url)
    path = "/" + link.split("/", 3)[3]

    scanner = app.test_client(use_cookies=False)
    with app.app_context():  # its own g: Flask-WTF keeps the form token there
        assert scanner.get(path).status_code == 200 and scanner.head(path).status_code == 200
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).facilitator_id == _id("ana@example.org")  # a GET hands nothing on

    page = client.get(path)
    assert "Pasarla" in page.get_data(as_text=True) or "Hand it on" in page.get_data(as_text=True)
    assert client.post(path, data={}).status_code == 400  # no CSRF token: nothing happens
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).facilitator_id == _id("ana@example.org")

    done = client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 200 and "Bo Chen" in done.get_data(as_text=True), done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).facilitator_id == _id("bo@example.org")
    run_worker(app)
    to_bo = next(r.message for r in smtp.to("bo@example.org") if "facilitate" in r.message["Subject"])
    assert "Ana Torres cannot facilitate" in to_bo.get_body(("plain",)).get_content()

    again = client.get(path)  # used: it says so, and there is no button
    assert again.status_code == 409
    assert "Bo Chen" in again.get_data(as_text=True) and "<button" not in again.get_data(as_text=True)


def test_the_coordinator_sees_who_handed_the_meeting_on(app, ctx, personas, alice_client):
    meeting = _two_willing_and_a_meeting(app)
    facilitation.hand_on(meeting, db.session.get(Member, _id("ana@example.org")), via="link")
    db.session.commit()
    page = alice_client.get(f"/communities/{personas['riverside']}/meetings/{meeting.id}").get_data(as_text=True)
    facilitator = page[page.index('id="facilitator"'):page.index("</dd>", page.index('id="facilitator"'))]
    assert facilitator.startswith('id="facilitator">Bo Chen')
    assert "Ana Torres handed it to Bo Chen" in facilitator and "from the email" in facilitator
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "meeting.facilitator",
                                                      AuditEvent.details["member"].as_integer() == _id("bo@example.org")))


def test_nobody_left_to_take_it_keeps_it_with_a_clear_message(app, ctx, personas, client):
    meeting = _two_willing_and_a_meeting(app)
    meetings.record_rsvp(meeting, db.session.get(Member, _id("bo@example.org")), "no")
    db.session.commit()
    path = _hand_on_path(app, meeting, "ana@example.org")
    page = client.get(path).get_data(as_text=True)
    refused = client.post(path, data={"csrf_token": csrf_from(page)})
    assert refused.status_code == 409
    assert "Nadie más" in refused.get_data(as_text=True)  # in Spanish, for Ana
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).facilitator_id == _id("ana@example.org")
    assert db.session.scalar(select(FacilitatorSwap)) is None


def test_a_facilitator_who_answers_no_hands_the_meeting_on(app, ctx, personas, client, alice_client):
    meeting = _two_willing_and_a_meeting(app)
    rsvp = f"/m/meetings/{meeting.id}/rsvp/{make_token('rsvp', _id('ana@example.org'), meeting.id)}"
    page = client.get(rsvp).get_data(as_text=True)
    assert client.post(rsvp, data={"csrf_token": csrf_from(page), "answer": "no"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).facilitator_id == _id("bo@example.org")
    assert ("bo@example.org", meeting.id) in _told()
    shown = alice_client.get(f"/communities/{personas['riverside']}/meetings/{meeting.id}").get_data(as_text=True)
    assert "Ana Torres handed it to Bo Chen" in shown and "they answered No" in shown


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
                                    lambda t: t.split(".", 1)[0] + ".999." + t.split(".", 2)[2]])
def test_tampered_links_are_refused_and_hand_nothing_on(app, ctx, personas, client, mangle):
    meeting = _two_willing_and_a_meeting(app)
    token = make_token("facilitator", _id("ana@example.org"), meeting.id)
    response = client.get(f"/m/meetings/{meeting.id}/facilitate/{mangle(token)}")
    assert response.status_code == 400 and "This link does not work" in response.get_data(as_text=True)
    page = client.get(_hand_on_path(app, meeting, "ana@example.org")).get_data(as_text=True)
    response = client.post(f"/m/meetings/{meeting.id}/facilitate/{mangle(token)}",
                           data={"csrf_token": csrf_from(page)})
    assert response.status_code == 400 and "This link does not work" in response.get_data(as_text=True)
    other_meeting = _meeting(12, "Another meeting")
    assert client.get(f"/m/meetings/{other_meeting.id}/facilitate/{token}").status_code == 400  # for one meeting
    rsvp = make_token("rsvp", _id("ana@example.org"), meeting.id)
    assert client.get(f"/m/meetings/{meeting.id}/facilitate/{rsvp}").status_code == 400  # for one purpose
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).facilitator_id == _id("ana@example.org")


def test_an_expired_link_says_so(app, ctx, personas, client, monkeypatch):
    meeting = _two_willing_and_a_meeting(app)
    moment = time.time()
    monkeypatch.setattr(time, "time", lambda: moment - 91 * 86400)
    old = make_token("facilitator", _id("ana@example.org"), meeting.id)
    monkeypatch.undo()
    response = client.get(f"/m/meetings/{meeting.id}/facilitate/{old}")
    assert response.status_code == 400 and "This link has expired" in response.get_data(as_text=True)


# --- handing on by reply --------------------------------------------------------------------------

def _facilitator_email(app, meeting: Meeting) -> OutboundEmail:
    run_worker(app)
    db.session.expire_all()
    return db.session.scalar(select(OutboundEmail).where(
        OutboundEmail.kind == "facilitator_assigned", OutboundEmail.member_id == meeting.facilitator_id))


def test_a_reply_saying_no_puedo_hands_the_meeting_on_and_is_confirmed(app, ctx, personas, smtp, alice_client):
    meeting = _two_willing_and_a_meeting(app)
    ours = _facilitator_email(app, meeting)
    assert ours.status == "sent"
    ana = db.session.get(Member, _id("ana@example.org"))
    to = make_address("reply", ana.id, _riverside().id)
    raw = compose("Ana Torres <ana@example.org>", to, subject='RE: Usted facilita "Monthly exchange"',
                  body="No puedo esa semana, lo siento.\n\nEl lun., Ana escribió:\n> Te toca facilitar",
                  In_Reply_To=ours.message_id, References=ours.message_id)
    stored = deliver(app, raw, to)
    assert (stored.status, stored.outcome, stored.object_kind) == ("done", "facilitation_handed_on", "facilitation")
    assert db.session.get(Meeting, meeting.id).facilitator_id == _id("bo@example.org")
    swap = db.session.scalar(select(FacilitatorSwap))
    assert (swap.from_member_id, swap.to_member_id, swap.via) == (ana.id, _id("bo@example.org"), "email")
    run_worker(app)
    answer = next(r.message for r in smtp.to("ana@example.org") if r.message["Auto-Submitted"] == "auto-replied")
    assert "Bo Chen" in answer.get_body(("plain",)).get_content()
    assert answer["In-Reply-To"]
    assert any("facilitate" in r.message["Subject"] for r in smtp.to("bo@example.org"))
    inbox = alice_client.get(f"/communities/{personas['riverside']}/inbox").get_data(as_text=True)
    assert "Handed on the facilitation of “Monthly exchange” to the next in the rotation" in inbox


def test_a_reply_that_is_not_a_swap_reaches_the_coordinator_as_a_comment(app, ctx, personas, smtp):
    meeting = _two_willing_and_a_meeting(app)
    ours = _facilitator_email(app, meeting)
    ana = db.session.get(Member, _id("ana@example.org"))
    to = make_address("reply", ana.id, _riverside().id)
    raw = compose("ana@example.org", to, subject="Re: Usted facilita", body="¡Con gusto! Llevo el café.",
                  In_Reply_To=ours.message_id)
    stored = deliver(app, raw, to)
    assert (stored.status, stored.outcome) == ("done", "comment")
    assert db.session.get(Meeting, meeting.id).facilitator_id == ana.id


@pytest.mark.parametrize("text, swap", [
    ("swap please", True), ("Sorry, I can't that day.", True), ("I cannot do it", True),
    ("Need to swap, I'm travelling", True), ("No puedo, lo siento", True), ("Prefiero cambiar de fecha", True),
    ("Happy to do it!", False), ("Can't wait!", False), ("Can someone else take it?", False), ("", False),
    ("Claro que sí", False),
])
def test_what_counts_as_handing_on(text, swap):
    assert wants_to_hand_on(text) is swap


def test_a_coordinator_of_another_community_cannot_see_the_rotation(app, ctx, personas, client):
    _two_willing_and_a_meeting(app)
    login(client, "bob@example.org", PASSWORD)
    assert client.get(f"/communities/{personas['riverside']}").status_code == 404
    assert InboundMessage.query.count() == 0
