"""Member engagement: a member's history in one community, who has gone quiet, and a personal check-in."""
import re
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest
from sqlalchemy import DateTime, bindparam, func, select, text

from service import engagement, members
from service.errors import DomainError
from service.extensions import db
from service.models import (AuditEvent, Charter, CharterVote, Community, Coordinator, FormRequest, FormResponse,
                            InboundMessage, Invitation, Meeting, Member, Membership, OutboundEmail, Practice)
from tests.conftest import PASSWORD, csrf_from, login, run_worker

AT = datetime(2026, 6, 15, 17, 0, tzinfo=timezone.utc)  # "now" for the gone-quiet computations
DAY = timedelta(days=1)
_numbers = count(1)


def _membership(community_id: int, email: str) -> Membership:
    return db.session.scalar(select(Membership).join(Member).where(
        Membership.community_id == community_id, Member.email == email))


# Seeding: one helper per kind of activity, each at a moment the test chooses.

def _meeting(community_id: int, title: str, starts_at: datetime) -> Meeting:
    meeting = Meeting(community_id=community_id, uid=f"m{next(_numbers)}@test", title=title, starts_at=starts_at)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def _invite(meeting: Meeting, member_id: int, invited_at: datetime, answer: str | None = None,
            answered_at: datetime | None = None, note: str = "", attended: bool | None = None) -> None:
    db.session.add(Invitation(meeting_id=meeting.id, member_id=member_id, created_at=invited_at, answer=answer,
                              answered_at=answered_at, note=note, attended=attended))


def _form(community_id: int, member_id: int, title: str, at: datetime, status: str = "submitted") -> None:
    request = FormRequest(community_id=community_id, kind="charter", title=title, created_at=at - DAY)
    db.session.add(request)
    db.session.flush()
    db.session.add(FormResponse(request_id=request.id, member_id=member_id, status=status, updated_at=at,
                                submitted_at=at if status == "submitted" else None))


def _vote(community_id: int, member_id: int, at: datetime, comment: str = "") -> None:
    charter = Charter(community_id=community_id, version=next(_numbers), status="proposed", proposed_at=at - DAY)
    db.session.add(charter)
    db.session.flush()
    db.session.add(CharterVote(charter_id=charter.id, member_id=member_id, decision="change", comment=comment,
                               decided_at=at))


def _practice(community_id: int, member_id: int, title: str, at: datetime) -> None:
    db.session.add(Practice(community_id=community_id, member_id=member_id, title=title, what_we_did="We tried it.",
                            created_at=at))


def _reply(community_id: int, member_id: int, subject: str, at: datetime, status: str = "done",
           outcome: str | None = "comment", purpose: str = "reply") -> None:
    number = next(_numbers)
    db.session.add(InboundMessage(via="test", message_id=f"<in-{number}@mail.example.net>", raw=b"Subject: x\r\n\r\nx",
                                  purpose=purpose, member_id=member_id, community_id=community_id, status=status,
                                  outcome=outcome, subject=subject, received_at=at))


def _email(community_id: int, member: Member, kind: str, at: datetime, status: str = "sent",
           last_error: str | None = None) -> None:
    db.session.add(OutboundEmail(kind=kind, community_id=community_id, member_id=member.id, recipient=member.email,
                                 idempotency_key=f"test:{next(_numbers)}", context={}, status=status,
                                 last_error=last_error, created_at=at, sent_at=at if status == "sent" else None))


# The member's page

def _seed_two_communities(app, personas):
    """Ana belongs to Riverside (Alice's) and to Lakeside (Bob's); each community holds some of her history."""
    with app.app_context():
        bob = db.session.get(Coordinator, personas["bob"])
        lakeside = db.session.get(Community, personas["lakeside"])
        members.add_member(bob, lakeside, name="Ana at the lake", email="ana@example.org", organization="Lake Org")
        riverside_id, lakeside_id = personas["riverside"], personas["lakeside"]
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        ana.paused, ana.digest_frequency = True, "monthly"
        start = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)  # 10:00 in Chicago (daylight time)
        _membership(riverside_id, "ana@example.org").created_at = start - 30 * DAY
        kickoff = _meeting(riverside_id, "Spring kickoff", start)
        _invite(kickoff, ana.id, start - 9 * DAY, "yes", start - 8 * DAY, note="Bringing two colleagues",
                attended=True)
        missed = _meeting(riverside_id, "Budget circle", start + 20 * DAY)
        _invite(missed, ana.id, start + 10 * DAY, attended=False)
        _form(riverside_id, ana.id, "Charter questions", start + 1 * DAY)
        _form(riverside_id, ana.id, "Feedback half done", start + 2 * DAY, status="draft")
        _vote(riverside_id, ana.id, start + 3 * DAY, comment="Please add Saturday meetings")
        _practice(riverside_id, ana.id, "Shared rides to the clinic", start + 4 * DAY)
        _reply(riverside_id, ana.id, "About the garden", start + 5 * DAY)
        _email(riverside_id, ana, "meeting_invitation", start - 9 * DAY + timedelta(minutes=1))
        _email(riverside_id, ana, "digest", start + 6 * DAY, status="suppressed", last_error="paused")
        lake_meeting = _meeting(lakeside_id, "Lakeside secret meeting", start)
        _invite(lake_meeting, ana.id, start - DAY, "no", start, attended=False)
        _form(lakeside_id, ana.id, "Lakeside private form", start)
        _vote(lakeside_id, ana.id, start, comment="Lakeside-only comment")
        _practice(lakeside_id, ana.id, "Lakeside boat practice", start)
        _reply(lakeside_id, ana.id, "Lakeside reply subject", start)
        _email(lakeside_id, ana, "announcement", start)
        db.session.commit()
        return _membership(riverside_id, "ana@example.org").id, _membership(lakeside_id, "ana@example.org").id


def test_the_member_page_shows_every_kind_of_history_newest_first_in_the_communitys_time_zone(
        app, alice_client, personas):
    riverside_ana, _lakeside_ana = _seed_two_communities(app, personas)
    page = alice_client.get(f"/communities/{personas['riverside']}/members/{riverside_ana}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    kinds = re.findall(r'<li class="entry (\w+)">', html)
    assert kinds == ["absent", "invited", "email", "reply", "practice", "charter_vote", "form_draft", "form",
                     "attended", "answered", "email", "invited", "joined"]  # newest first
    for words in ("Did not attend", "Email sent to them:", "Wrote to us:", "Shared a practice:",
                  "Asked for a change to version", "Started the form, not sent yet:", "Answered the form",
                  "Attended", "Answered Yes to", "Invited to", "Joined the community"):
        assert words in html, words
    for shown in ("Spring kickoff", "Bringing two colleagues", "Budget circle", "Charter questions",
                  "Feedback half done", "Please add Saturday meetings", "Shared rides to the clinic",
                  "About the garden", "Meeting invitation", "Lesson digest", "paused all email", "suppressed"):
        assert shown in html, shown
    assert "Tue, Mar 10, 2026, 10:00\u202fAM" in html  # the meeting's start, 15:00 UTC, in Chicago
    preferences = re.search(r'<dl class="facts member-preferences">(.*?)</dl>', html, re.S).group(1)
    assert "Spanish" in preferences and "Monthly" in preferences and "paused all email" in preferences
    assert "Mar 15, 2026" in preferences  # last activity: the reply, five days after the kickoff


def test_the_member_page_shows_nothing_from_the_persons_other_community(app, alice_client, personas):
    riverside_ana, _lakeside_ana = _seed_two_communities(app, personas)
    html = alice_client.get(f"/communities/{personas['riverside']}/members/{riverside_ana}").get_data(as_text=True)
    for elsewhere in ("Lakeside", "Lake Org", "Ana at the lake", "Message to the community", "Answered No"):
        assert elsewhere not in html, elsewhere


def test_the_member_page_is_404_across_communities(app, client, personas):
    riverside_ana, lakeside_ana = _seed_two_communities(app, personas)
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    login(client, "alice@example.org", PASSWORD)
    assert client.get(f"/communities/{riverside}/members/{lakeside_ana}").status_code == 404  # B's member via A
    assert client.get(f"/communities/{lakeside}/members/{lakeside_ana}").status_code == 404   # B itself
    assert client.get(f"/communities/{lakeside}/gone-quiet").status_code == 404
    bobs = app.test_client()
    login(bobs, "bob@example.org", PASSWORD)
    assert bobs.get(f"/communities/{riverside}/members/{riverside_ana}").status_code == 404
    assert bobs.get(f"/communities/{lakeside}/members/{lakeside_ana}").status_code == 200


def test_the_members_list_links_to_each_members_page(app, alice_client, personas):
    riverside_ana, _ = _seed_two_communities(app, personas)
    html = alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)
    assert f'href="/communities/{personas["riverside"]}/members/{riverside_ana}">Ana Torres</a>' in html
    assert f'href="/communities/{personas["riverside"]}/gone-quiet"' in html


# Gone quiet

CUTOFF = AT - timedelta(days=engagement.QUIET_DAYS)


def _person(community_id: int, name: str, joined: datetime, **member_fields) -> Member:
    coordinator = db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))
    membership = members.add_member(coordinator, db.session.get(Community, community_id), name=name,
                                    email=f"{name.lower().replace(' ', '.')}@example.org")
    membership.created_at = joined
    for key, value in member_fields.items():
        setattr(membership.member, key, value)
    return membership.member


def _seed_quiet(app, personas) -> set[str]:
    """A Riverside crowd with activity on both sides of the 60-day line; the names that have gone quiet."""
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    old = AT - 200 * DAY
    with app.app_context():
        db.session.execute(
            Membership.__table__.update().where(Membership.community_id == riverside).values(created_at=old))
        meeting_recent = _meeting(riverside, "Recent call", CUTOFF + DAY)
        meeting_old = _meeting(riverside, "Old call", CUTOFF - 5 * DAY)
        p = {name: _person(riverside, name, old) for name in (
            "Rsvp Boundary", "Rsvp Just Over", "Attended Recently", "Attended Long Ago", "Form Recent",
            "Form Draft Only", "Vote Recent", "Practice Recent", "Reply Recent", "Auto Reply Only", "Held Only",
            "Bounce Report Only", "Invited Only", "Only Elsewhere", "Paused Quiet")}
        p["Joined At Cutoff"] = _person(riverside, "Joined At Cutoff", CUTOFF)
        p["Joined After Cutoff"] = _person(riverside, "Joined After Cutoff", CUTOFF + timedelta(seconds=1))
        p["Unsubscribed"] = _person(riverside, "Unsubscribed", old, status="unsubscribed")
        inactive = _person(riverside, "Inactive Here", old)
        _membership(riverside, inactive.email).status = "inactive"
        p["Paused Quiet"].paused = True
        _invite(meeting_recent, p["Rsvp Boundary"].id, CUTOFF - 9 * DAY, "yes", CUTOFF)  # exactly 60 days: recent
        _invite(meeting_recent, p["Rsvp Just Over"].id, CUTOFF - 9 * DAY, "no",
                CUTOFF - timedelta(seconds=1))
        _invite(meeting_recent, p["Attended Recently"].id, CUTOFF - 9 * DAY, attended=True)
        _invite(meeting_old, p["Attended Long Ago"].id, CUTOFF - 9 * DAY, attended=True)
        _invite(meeting_recent, p["Invited Only"].id, CUTOFF + DAY)
        _form(riverside, p["Form Recent"].id, "A form", AT - DAY)
        _form(riverside, p["Form Draft Only"].id, "A form", AT - DAY, status="draft")
        _vote(riverside, p["Vote Recent"].id, AT - DAY)
        _practice(riverside, p["Practice Recent"].id, "Recent practice", AT - 2 * DAY)
        _reply(riverside, p["Reply Recent"].id, "Hello", AT - 3 * DAY, status="unclear", outcome=None)
        _reply(riverside, p["Auto Reply Only"].id, "Out of office", AT - DAY, status="ignored", outcome=None)
        _reply(riverside, p["Held Only"].id, "From another address", AT - DAY, status="held", outcome=None)
        _reply(riverside, p["Bounce Report Only"].id, "Undeliverable", AT - DAY, outcome="bounce")
        bob = db.session.get(Coordinator, personas["bob"])
        members.add_member(bob, db.session.get(Community, lakeside), name="Only Elsewhere",
                           email=p["Only Elsewhere"].email)
        _practice(lakeside, p["Only Elsewhere"].id, "Lakeside practice", AT - DAY)
        _reply(lakeside, p["Only Elsewhere"].id, "Lakeside hello", AT - DAY)
        db.session.commit()
    return {"Ana Torres", "Rsvp Just Over", "Attended Long Ago", "Form Draft Only", "Auto Reply Only", "Held Only",
            "Bounce Report Only", "Invited Only", "Only Elsewhere", "Paused Quiet", "Joined At Cutoff"}


# The same rule written once more, independently, as one SQL statement over the seeded tables.
QUIET_SQL = text("""
    SELECT ms.name FROM membership ms JOIN member m ON m.id = ms.member_id
    WHERE ms.community_id = :c AND ms.status = 'active' AND m.status = 'active' AND ms.created_at <= :cutoff
      AND NOT EXISTS (SELECT 1 FROM invitation i JOIN meeting mt ON mt.id = i.meeting_id
                      WHERE mt.community_id = :c AND i.member_id = m.id
                        AND (i.answered_at >= :cutoff OR (i.attended AND mt.starts_at >= :cutoff)))
      AND NOT EXISTS (SELECT 1 FROM form_response r JOIN form_request q ON q.id = r.request_id
                      WHERE q.community_id = :c AND r.member_id = m.id AND r.status = 'submitted'
                        AND r.submitted_at >= :cutoff)
      AND NOT EXISTS (SELECT 1 FROM charter_vote v JOIN charter ch ON ch.id = v.charter_id
                      WHERE ch.community_id = :c AND v.member_id = m.id AND v.decided_at >= :cutoff)
      AND NOT EXISTS (SELECT 1 FROM practice p WHERE p.community_id = :c AND p.member_id = m.id
                        AND p.created_at >= :cutoff)
      AND NOT EXISTS (SELECT 1 FROM inbound_message im WHERE im.community_id = :c AND im.member_id = m.id
                        AND im.status IN ('done', 'unclear') AND im.purpose IN ('reply', 'calendar')
                        AND (im.outcome IS NULL OR im.outcome <> 'bounce') AND im.received_at >= :cutoff)
""").bindparams(bindparam("cutoff", type_=DateTime(timezone=True)))  # stored as the columns store it (SQLite: text)


def test_gone_quiet_equals_an_independent_sql_count_and_the_hand_count(app, ctx, personas):
    by_hand = _seed_quiet(app, personas)
    riverside = db.session.get(Community, personas["riverside"])
    listed = {q.name for q in engagement.gone_quiet(riverside, at=AT)}
    by_sql = set(db.session.scalars(QUIET_SQL, {"c": riverside.id, "cutoff": CUTOFF}))
    assert listed == by_sql == by_hand
    assert "Rsvp Boundary" not in listed and "Rsvp Just Over" in listed  # the 60-day line, to the second
    assert "Joined At Cutoff" in listed and "Joined After Cutoff" not in listed


def test_gone_quiet_lists_those_never_active_first_then_the_longest_quiet(app, ctx, personas):
    _seed_quiet(app, personas)
    quiet = engagement.gone_quiet(db.session.get(Community, personas["riverside"]), at=AT)
    never = [q for q in quiet if q.last_active_at is None]
    assert quiet[:len(never)] == never
    moments = [q.last_active_at for q in quiet[len(never):]]
    assert moments == sorted(moments) and moments  # Rsvp Just Over, Attended Long Ago...


def test_the_gone_quiet_page_lists_them_with_a_check_in_button(app, alice_client, personas):
    _seed_quiet(app, personas)
    with app.app_context():
        _person(personas["riverside"], "Brand New", datetime.now(timezone.utc))
        active = _person(personas["riverside"], "Active Today", AT - 200 * DAY)
        _practice(personas["riverside"], active.id, "Today's practice", datetime.now(timezone.utc))
        db.session.commit()
    html = alice_client.get(f"/communities/{personas['riverside']}/gone-quiet").get_data(as_text=True)
    rows = [row for row in re.findall(r"<tr>(.*?)</tr>", html, re.S) if "<td>" in row]
    names = {re.search(r">([^<]+)</a>", row).group(1) for row in rows}
    # The page is computed at the real now, when every seeded moment is months past.
    assert {"Rsvp Boundary", "Joined After Cutoff", "Ana Torres"} <= names
    assert not {"Brand New", "Active Today", "Inactive Here", "Unsubscribed"} & names
    paused_row = next(row for row in rows if "Paused Quiet" in row)
    assert "paused all email" in paused_row and "Send a check-in" not in paused_row
    assert "Send a check-in" in next(row for row in rows if "Rsvp Just Over" in row)


# The check-in email

def _check_in(client, community_id: int, membership_id: int, token: str | None):
    data = {"csrf_token": token} if token else {}
    return client.post(f"/communities/{community_id}/gone-quiet/{membership_id}/check-in", data=data)


def test_a_check_in_reaches_exactly_that_member_once_in_their_language(app, alice_client, personas, smtp):
    riverside = personas["riverside"]
    with app.app_context():
        db.session.execute(Membership.__table__.update().values(created_at=AT - 200 * DAY))
        db.session.commit()
        ana_membership = _membership(riverside, "ana@example.org").id
    page = alice_client.get(f"/communities/{riverside}/gone-quiet").get_data(as_text=True)
    token = csrf_from(page)
    first = _check_in(alice_client, riverside, ana_membership, token)
    assert first.status_code == 302
    again = alice_client.get(first.headers["Location"]).get_data(as_text=True)
    assert "A check-in is on its way to Ana Torres." in again
    assert "next check-in possible from" in again
    second = alice_client.get(_check_in(alice_client, riverside, ana_membership, token).headers["Location"])
    assert "Ana Torres already got a check-in on" in second.get_data(as_text=True)
    run_worker(app)
    [received] = smtp.to("ana@example.org")
    assert len(smtp.messages) == 1
    message = received.message
    assert message["Subject"] == "Un saludo desde Riverside COP"
    assert "Auto-Submitted" not in message  # a person chose to send it
    assert message["List-Unsubscribe"]
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain.startswith("Hola, Ana Torres:\n\nHace tiempo que no sabemos de usted en Riverside COP")
    assert "Alice lee personalmente cada respuesta" in plain
    assert "Un saludo cordial,\nAlice\n" in plain
    assert "<" not in plain.split("-- ")[0]  # no markup in the text part
    assert "/unsubscribe/" in plain.split("-- ")[1]
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "member.check_in"))
        assert (event.community_id, event.object_id, event.actor) == (riverside, ana_membership, "alice@example.org")


def test_a_check_in_to_an_english_member_is_in_english(app, ctx, personas, smtp):
    riverside = db.session.get(Community, personas["riverside"])
    alice = db.session.get(Coordinator, personas["alice"])
    membership = members.add_member(alice, riverside, name="Sam Lee", email="sam@example.org", language="en")
    engagement.send_check_in(alice, riverside, membership)
    db.session.commit()
    run_worker(app)
    [received] = smtp.to("sam@example.org")
    assert received.message["Subject"] == "Checking in from Riverside COP"
    plain = received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain.startswith("Hello Sam Lee,\n\nWe have not heard from you in Riverside COP for a while")
    assert "Warm regards,\nAlice\n" in plain


def test_a_check_in_without_csrf_or_across_communities_sends_nothing(app, client, personas):
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    with app.app_context():
        ana_membership = _membership(riverside, "ana@example.org").id
        ben_membership = _membership(lakeside, "ben@example.org").id
    login(client, "alice@example.org", PASSWORD)
    assert _check_in(client, riverside, ana_membership, None).status_code == 400
    token = csrf_from(client.get(f"/communities/{riverside}").get_data(as_text=True))
    assert _check_in(client, lakeside, ben_membership, token).status_code == 404
    assert _check_in(client, riverside, ben_membership, token).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


def test_a_check_in_to_a_paused_member_is_refused_with_the_reason(app, ctx, personas):
    riverside = db.session.get(Community, personas["riverside"])
    alice = db.session.get(Coordinator, personas["alice"])
    membership = _membership(riverside.id, "ana@example.org")
    membership.member.paused = True
    with pytest.raises(DomainError) as refusal:
        engagement.send_check_in(alice, riverside, membership)
    assert refusal.value.message == "Ana Torres is not receiving email (paused all email), so no check-in was sent."
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


def test_the_gone_quiet_list_is_paged_and_a_check_in_returns_to_its_page(app, alice_client, personas, monkeypatch):
    from service.views import engagement as view
    monkeypatch.setattr(view, "QUIET_PAGE_SIZE", 5)
    riverside = personas["riverside"]
    with app.app_context():
        for number in range(11):
            _person(riverside, f"Quiet Person {number:02d}", AT - 400 * DAY)
        db.session.execute(Membership.__table__.update().values(created_at=AT - 400 * DAY))
        db.session.commit()
    pages = [alice_client.get(f"/communities/{riverside}/gone-quiet?page={n}").get_data(as_text=True)
             for n in (1, 2, 3)]
    names = [re.findall(r'/members/\d+">([^<]+)</a>', page) for page in pages]
    assert [len(found) for found in names] == [5, 5, 2]
    assert sorted(sum(names, [])) == sorted(["Ana Torres"] + [f"Quiet Person {n:02d}" for n in range(11)])
    assert "12 members have gone quiet." in pages[0] and "Page 2 of 3" in pages[1]
    assert "Page 3 of 3" in alice_client.get(f"/communities/{riverside}/gone-quiet?page=99").get_data(as_text=True)
    action = re.search(r'action="([^"]*/check-in\?page=2)"', pages[1]).group(1)
    response = alice_client.post(action, data={"csrf_token": csrf_from(pages[1])})
    assert response.headers["Location"].endswith(f"/communities/{riverside}/gone-quiet?page=2")


def test_a_reply_to_a_check_in_reaches_the_inbox_as_a_comment_and_ends_the_quiet(app, ctx, personas, smtp):
    from service.addresses import make_address
    from tests.inbound_mail import compose, deliver
    riverside = db.session.get(Community, personas["riverside"])
    alice = db.session.get(Coordinator, personas["alice"])
    membership = _membership(riverside.id, "ana@example.org")
    membership.created_at = datetime.now(timezone.utc) - 100 * DAY
    engagement.send_check_in(alice, riverside, membership)
    db.session.commit()
    run_worker(app)
    ours = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "check_in"))
    assert [q.name for q in engagement.gone_quiet(riverside)] == ["Ana Torres"]
    to = make_address("reply", membership.member_id, riverside.id)
    stored = deliver(app, compose("ana@example.org", to, "Re: Un saludo desde Riverside COP",
                                  "Todo bien, gracias. Hemos tenido mucho trabajo este invierno.",
                                  In_Reply_To=ours.message_id), to)
    assert (stored.status, stored.outcome, stored.object_kind) == ("done", "comment", "check_in")
    assert engagement.gone_quiet(riverside) == []


def test_a_long_history_is_paged_newest_first(app, alice_client, personas, monkeypatch):
    from service.views import engagement as view
    monkeypatch.setattr(view, "HISTORY_PAGE_SIZE", 5)
    riverside_ana, _ = _seed_two_communities(app, personas)
    url = f"/communities/{personas['riverside']}/members/{riverside_ana}"
    pages = [alice_client.get(f"{url}?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    kinds = [re.findall(r'<li class="entry (\w+)">', page) for page in pages]
    assert kinds == [["absent", "invited", "email", "reply", "practice"],
                     ["charter_vote", "form_draft", "form", "attended", "answered"], ["email", "invited", "joined"]]
    assert "Page 1 of 3" in pages[0] and "Page 3 of 3" in pages[2]


def test_a_check_in_to_a_member_inactive_here_is_refused(app, ctx, personas):
    riverside = db.session.get(Community, personas["riverside"])
    alice = db.session.get(Coordinator, personas["alice"])
    membership = _membership(riverside.id, "ana@example.org")
    membership.status = "inactive"
    with pytest.raises(DomainError) as refusal:
        engagement.send_check_in(alice, riverside, membership)
    assert refusal.value.message == "Ana Torres is inactive in this community."
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


def test_a_check_in_from_the_members_page_returns_there(app, alice_client, personas, smtp):
    riverside = personas["riverside"]
    with app.app_context():
        ana_membership = _membership(riverside, "ana@example.org").id
    url = f"/communities/{riverside}/members/{ana_membership}"
    page = alice_client.get(url).get_data(as_text=True)
    action = re.search(r'action="([^"]*/check-in\?back=member)"', page).group(1)
    response = alice_client.post(action, data={"csrf_token": csrf_from(page)})
    assert response.headers["Location"].endswith(url)
    after = alice_client.get(url).get_data(as_text=True)
    assert "A check-in is on its way to Ana Torres." in after
    assert "next check-in possible from" in after and "check-in?back=member" not in after
    assert "Personal check-in" in after  # in her history, as an email sent to her


def test_two_clicks_racing_each_other_queue_one_check_in(app, ctx, personas, monkeypatch):
    riverside = db.session.get(Community, personas["riverside"])
    alice = db.session.get(Coordinator, personas["alice"])
    membership = _membership(riverside.id, "ana@example.org")
    engagement.send_check_in(alice, riverside, membership)
    db.session.commit()
    # The second request read the outbox before the first one's row was committed: it saw no check-in yet.
    monkeypatch.setattr(engagement, "_check_ins_to", lambda community, member_id: (0, None))
    with pytest.raises(DomainError) as refusal:
        engagement.send_check_in(alice, riverside, membership)
    assert refusal.value.message == "A check-in to Ana Torres is already on its way."
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "member.check_in")) == 1
