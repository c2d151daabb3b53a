"""Charter voting rules: quorum and approval per community, a voting deadline with one reminder, ratification
refused below the rules unless the coordinator gives a reason, and the ratified charter emailed to members."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from service import charter_rules, charters, members
from service.addresses import make_address
from service.charter_rules import Tally, needed
from service.clock import aware
from service.errors import DomainError
from service.extensions import db
from service.models import AuditEvent, Charter, Community, Coordinator, Member, Membership, OutboundEmail
from service.scheduled_work import summary, sweep_all
from tests.conftest import PASSWORD, csrf_from, login, run_worker
from tests.inbound_mail import compose, deliver

CHARTER_MD = ("## Purpose\n\nWe learn **together** how to serve families.\n\n"
              "## How we decide\n\n- by consent\n- in [meetings](https://example.org/meetings)\n\n"
              "<script>alert('charter')</script>")
HALF, TWO_THIRDS = 5000, 6667


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _member(email: str) -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _people(community: Community, count: int) -> list[Member]:
    """`count` English-speaking members beside Ana (who reads Spanish)."""
    added = [members.add_member(None, community, name=f"Member {n}", email=f"m{n}@example.org") for n in range(count)]
    db.session.commit()
    return [_member(f"m{n}@example.org") for n in range(count)] if added else []


def _proposed(community: Community, deadline_in: timedelta = timedelta(days=10)) -> Charter:
    charter = charters.current_draft(community)
    charters.save_draft(None, charter, CHARTER_MD)
    charters.propose(None, charter, datetime.now(timezone.utc) + deadline_in)
    db.session.commit()
    return charter


def _vote(charter: Charter, people: list[Member], decision: str = "approve") -> None:
    for person in people:
        charters.vote(charter, person, decision, "Shorter, please" if decision == "change" else "")
    db.session.commit()


# --- the arithmetic -------------------------------------------------------------------------------

@pytest.mark.parametrize("out_of, rule, count", [
    (30, HALF, 15), (31, HALF, 16), (2, HALF, 1), (200, HALF, 100),  # exactly half; an odd count rounds up
    (3, TWO_THIRDS, 2), (30, TWO_THIRDS, 20), (300, TWO_THIRDS, 200), (7, TWO_THIRDS, 5),  # exactly two thirds
    (3, 6700, 3),        # 67 % is more than two thirds: 2 of 3 (66.67 %) falls short
    (300, 10000, 300),   # everyone means everyone: 299 of 300 shows 99.67 %
    (10, 100, 1), (0, HALF, 0),
])
def test_the_fewest_needed_at_the_boundaries(out_of, rule, count):
    assert needed(out_of, rule) == count
    if out_of:
        assert Tally(out_of, count, count, rule, rule).quorum_met
        assert not Tally(out_of, count - 1, count - 1, rule, rule).quorum_met


def test_approval_is_counted_among_those_who_answered():
    exactly = Tally(active=30, answered=15, approved=10, quorum=HALF, approval=TWO_THIRDS)
    assert exactly.met and exactly.shortfalls() == []
    short = Tally(active=30, answered=15, approved=9, quorum=HALF, approval=TWO_THIRDS)
    assert not short.met
    assert short.shortfalls() == ["9 of 15 answering members approved; 10 needed."]
    few = Tally(active=30, answered=12, approved=12, quorum=HALF, approval=TWO_THIRDS)
    assert few.shortfalls() == ["12 of 30 active members answered; 15 needed."]
    assert not Tally(active=0, answered=0, approved=0, quorum=HALF, approval=TWO_THIRDS).met


@pytest.mark.parametrize("typed, stored", [("50", 5000), ("66.67", 6667), ("1", 100), ("100", 10000),
                                           (" 75 % ", 7500), ("66,67", 6667)])
def test_percentages_as_typed(typed, stored):
    assert charter_rules.parse_percent(typed, "quorum") == stored
    assert charter_rules.as_percent(stored) == typed.strip().rstrip("%").strip().replace(",", ".")


@pytest.mark.parametrize("typed", ["0", "0.99", "100.01", "-5", "abc", "", "nan", "inf", "66.667"])
def test_percentages_out_of_range_are_refused(typed):
    with pytest.raises(DomainError) as refusal:
        charter_rules.parse_percent(typed, "approval")
    assert refusal.value.field == "approval"


# --- ratifying against the rules ------------------------------------------------------------------

def test_below_quorum_cannot_be_ratified_without_a_reason(app, ctx, personas):
    community = _riverside()
    people = _people(community, 5)  # 6 active with Ana: 3 must answer
    charter = _proposed(community)
    _vote(charter, people[:2])
    with pytest.raises(DomainError) as refusal:
        charters.ratify(None, charter)
    assert "2 of 6 active members answered; 3 needed." in refusal.value.message
    with pytest.raises(DomainError):
        charters.ratify(None, charter, override_reason="   ")  # blank is no reason
    db.session.rollback()
    assert db.session.get(Charter, charter.id).status == "proposed"
    assert not db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "charter_ratified")).all()

    _vote(charter, people[2:3])  # the third answer reaches the quorum; all three approve
    charters.ratify(None, charter)
    db.session.commit()
    assert (charter.status, charter.override_reason) == ("ratified", None)


def test_approval_short_of_two_thirds_is_refused_with_the_figures(app, ctx, personas):
    community = _riverside()
    people = _people(community, 5)
    charter = _proposed(community)
    _vote(charter, people[:3])
    _vote(charter, people[3:5], "change")  # 3 of 5 approve: 4 needed
    with pytest.raises(DomainError) as refusal:
        charters.ratify(None, charter)
    assert "3 of 5 answering members approved; 4 needed." in refusal.value.message


def test_the_override_is_recorded_with_its_reason_and_shown_in_the_history(app, ctx, personas, alice_client):
    community = _riverside()
    people = _people(community, 3)
    charter = _proposed(community)
    _vote(charter, people[:1])
    url = f"/communities/{community.id}/charter"
    page = alice_client.get(url).get_data(as_text=True)
    assert "1 of 4 active members answered; 2 needed (50%)." in page and "Quorum not reached." in page

    # Without a reason: refused next to the field, with the figures; nothing changes.
    response = alice_client.post(f"{url}/versions/{charter.id}/ratify", data={"csrf_token": csrf_from(page)})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = html[html.index('class="field-error" id="reason-error"'):]
    assert "1 of 4 active members answered; 2 needed." in error[:400]
    db.session.expire_all()
    assert db.session.get(Charter, charter.id).status == "proposed"

    reason = "Everyone agreed at the March meeting; the email vote was only a formality."
    response = alice_client.post(f"{url}/versions/{charter.id}/ratify",
                                 data={"csrf_token": csrf_from(page), "reason": reason})
    assert response.status_code == 302
    db.session.expire_all()
    charter = db.session.get(Charter, charter.id)
    assert (charter.status, charter.override_reason) == ("ratified", reason)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "charter.ratify"))
    assert event.actor == "alice@example.org"
    assert event.details["override"] == {"reason": reason, "active": 4, "answered": 1, "approved": 1,
                                         "answers_needed": 2, "approvals_needed": 1}
    history = alice_client.get(url).get_data(as_text=True)
    versions = history[history.index('class="charter-versions"'):]
    assert "Ratified below the rules because" in versions and "Everyone agreed at the March meeting" in versions
    version_page = alice_client.get(f"{url}/versions/{charter.id}").get_data(as_text=True)
    assert "Everyone agreed at the March meeting" in version_page


def test_a_vote_by_email_reply_counts_toward_the_quorum_like_a_link(app, ctx, personas, smtp):
    community = _riverside()
    [sam] = _people(community, 1)  # Ana and Sam: one answer is the quorum, two thirds of it must approve
    community.charter_quorum = 10000  # both must answer
    charter = _proposed(community)
    run_worker(app)
    ana = _member("ana@example.org")
    proposal = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "charter_proposal",
                                                             OutboundEmail.member_id == ana.id))
    _vote(charter, [sam])  # by link
    assert charter_rules.tally(charter).answered == 1
    to = make_address("reply", ana.id, community.id)
    stored = deliver(app, compose(ana.email, to, "Re: our charter", "Apruebo, gracias.",
                                  In_Reply_To=proposal.message_id), to)
    assert stored.outcome == "charter_vote", stored.reason
    db.session.expire_all()
    count = charter_rules.tally(db.session.get(Charter, charter.id))
    assert (count.answered, count.approved, count.met) == (2, 2, True)


def test_a_reply_to_the_reminder_is_a_vote_too(app, ctx, personas, smtp):
    community = _riverside()
    _people(community, 1)
    charter = _proposed(community)
    _reminder_due_now(charter)
    sweep_all()
    run_worker(app)
    ana = _member("ana@example.org")
    reminder = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "charter_reminder",
                                                             OutboundEmail.member_id == ana.id))
    to = make_address("reply", ana.id, community.id)
    stored = deliver(app, compose(ana.email, to, "Re: Recordatorio", "Apruebo.", In_Reply_To=reminder.message_id), to)
    assert (stored.outcome, stored.object_kind, stored.object_id) == ("charter_vote", "charter", charter.id)
    assert charter_rules.tally(db.session.get(Charter, charter.id)).approved == 1


def test_a_member_who_left_no_longer_counts(app, ctx, personas):
    community = _riverside()
    people = _people(community, 2)
    charter = _proposed(community)
    _vote(charter, people)
    assert (charter_rules.tally(charter).active, charter_rules.tally(charter).answered) == (3, 2)
    alice = db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))
    members.set_membership_status(alice, members.membership_in(community, _membership_id(community, people[0])),
                                  "inactive")
    db.session.commit()
    count = charter_rules.tally(charter)
    assert (count.active, count.answered, count.approved) == (2, 1, 1)


def _membership_id(community: Community, member: Member) -> int:
    return db.session.scalar(select(Membership.id).where(Membership.community_id == community.id,
                                                         Membership.member_id == member.id))


# --- the rules on the charter page ----------------------------------------------------------------

def test_the_rules_are_edited_on_the_charter_page_and_audited(app, ctx, personas, alice_client):
    community = _riverside()
    url = f"/communities/{community.id}/charter"
    page = alice_client.get(url).get_data(as_text=True)
    assert 'value="50"' in page and 'value="66.67"' in page, page[page.index('id="rules"'):]
    token = csrf_from(page)

    response = alice_client.post(f"{url}/rules", data={"csrf_token": token, "quorum": "0", "approval": "abc"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.count("Enter a percentage between 1 and 100, such as 50 or 66.67.") >= 2  # summary and field
    assert 'id="quorum-error"' in html and 'value="0"' in html  # what was typed stays in the field
    response = alice_client.post(f"{url}/rules", data={"csrf_token": token, "quorum": "60", "approval": "101"})
    assert response.status_code == 400 and 'id="approval-error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert (_riverside().charter_quorum, _riverside().charter_approval) == (5000, 6667)  # nothing half-saved

    response = alice_client.post(f"{url}/rules", data={"csrf_token": token, "quorum": "60", "approval": "75"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (_riverside().charter_quorum, _riverside().charter_approval) == (6000, 7500)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "charter.rules"))
    assert event.details["quorum"] == {"old": "50", "new": "60"}
    assert event.details["approval"] == {"old": "66.67", "new": "75"}
    assert "at least 60% of active members" in alice_client.get(url).get_data(as_text=True)


def test_the_rules_need_a_csrf_token_and_stay_in_their_community(app, ctx, personas, client):
    login(client, "bob@example.org", PASSWORD)
    riverside = _riverside()
    page = client.get("/").get_data(as_text=True)
    response = client.post(f"/communities/{riverside.id}/charter/rules",
                           data={"csrf_token": csrf_from(page), "quorum": "1", "approval": "1"})
    assert response.status_code == 404
    db.session.expire_all()
    assert _riverside().charter_quorum == 5000


# --- the deadline and its reminder ----------------------------------------------------------------

def test_proposing_needs_a_later_day_and_saves_nothing_otherwise(app, ctx, personas, alice_client):
    community = _riverside()
    url = f"/communities/{community.id}/charter"
    page = alice_client.get(url).get_data(as_text=True)
    assert 'name="deadline"' in page
    today_there = datetime.now(ZoneInfo(community.time_zone)).date()  # the community's day, not the machine's
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "action": "propose", "body": CHARTER_MD,
                                            "deadline": today_there.isoformat()})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Voting must close on a later day than today." in html
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "action": "propose", "body": CHARTER_MD,
                                            "deadline": "9999-12-31"})
    assert response.status_code == 400 and "Choose a date within the next" in response.get_data(as_text=True)
    db.session.expire_all()
    charter = charters.latest(_riverside())
    assert charter.status == "draft" and charter.body != CHARTER_MD  # nothing saved, nothing sent
    assert not db.session.scalars(select(OutboundEmail)).all()

    day = date.today() + timedelta(days=5)
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "action": "propose", "body": CHARTER_MD,
                                            "deadline": day.isoformat()})
    assert response.status_code == 302
    db.session.expire_all()
    charter = charters.latest(_riverside())
    assert charter.status == "proposed" and aware(charter.deadline_at) > datetime.now(timezone.utc) + timedelta(days=4)
    assert "Voting closes" in alice_client.get(url).get_data(as_text=True)


def _reminder_due_now(charter: Charter) -> None:
    """Move the proposal back in time so that its reminder is due: proposed 5 days ago, closing in a day."""
    moment = datetime.now(timezone.utc)
    charter.proposed_at, charter.deadline_at = moment - timedelta(days=5), moment + timedelta(days=1)
    db.session.commit()


def test_the_reminder_reaches_exactly_those_who_have_not_answered_once(app, ctx, personas, smtp):
    community = _riverside()
    people = _people(community, 4)
    charter = _proposed(community)
    assert charter_rules.reminder_due(charter) == (aware(charter.deadline_at) - timedelta(hours=48)).replace(microsecond=0)
    assert sweep_all()["charters"] == {"charter_reminders_sent": 0}  # not due yet
    _vote(charter, people[:1])
    _vote(charter, people[1:2], "change")
    _reminder_due_now(charter)
    _vote(charter, people[2:3])  # answered meanwhile, before the reminder went

    result = sweep_all()
    assert result["charters"] == {"charter_reminders_sent": 1}
    assert "Charter voting reminders: 1 sent now." in summary(result)
    assert sweep_all()["charters"] == {"charter_reminders_sent": 0}  # never twice
    assert charter_rules.send_reminder(charter.id) == 0  # a late job finds it claimed
    db.session.commit()
    run_worker(app)
    reminded = sorted(row.recipient for row in db.session.scalars(
        select(OutboundEmail).where(OutboundEmail.kind == "charter_reminder")))
    assert reminded == ["ana@example.org", "m3@example.org"]
    [received] = smtp.to("m3@example.org")[-1:]
    assert received.message["Subject"].startswith("Reminder: your answer on our charter, version 1")
    plain = received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "We have not received your answer" in plain and "Voting closes on" in plain
    assert "We learn together how to serve families." in plain and "- in meetings <https://example.org/meetings>" \
        in plain
    assert "**" not in plain and "##" not in plain and "<script" not in plain and "<p>" not in plain
    spanish = smtp.to("ana@example.org")[-1].message
    assert "Recordatorio" in spanish["Subject"]
    assert "Aún no hemos recibido su respuesta" in spanish.get_body(("plain",)).get_content().replace("\r\n", "\n")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "charter.reminder"))
    assert event.details["recipients"] == 2


def test_a_short_vote_is_reminded_halfway_and_a_closed_one_not_at_all(app, ctx, personas):
    community = _riverside()
    _people(community, 1)
    charter = _proposed(community, deadline_in=timedelta(hours=30))
    halfway = aware(charter.proposed_at) + (aware(charter.deadline_at) - aware(charter.proposed_at)) / 2
    assert abs(charter_rules.reminder_due(charter) - halfway) < timedelta(seconds=1)
    charter.deadline_at = datetime.now(timezone.utc) - timedelta(minutes=1)  # voting closed unreminded
    db.session.commit()
    assert sweep_all()["charters"] == {"charter_reminders_sent": 0}
    with pytest.raises(DomainError, match="no longer open"):
        charters.vote(charter, _member("m0@example.org"), "approve")


def test_the_coordinator_moves_the_deadline_and_answers_reopen(app, ctx, personas, alice_client):
    community = _riverside()
    [sam] = _people(community, 1)
    charter = _proposed(community)
    charter.deadline_at = datetime.now(timezone.utc) - timedelta(hours=1)  # voting closed
    db.session.commit()
    with pytest.raises(DomainError):
        charters.vote(charter, sam, "approve")
    db.session.rollback()
    url = f"/communities/{community.id}/charter"
    page = alice_client.get(url).get_data(as_text=True)
    response = alice_client.post(f"{url}/versions/{charter.id}/deadline",
                                 data={"csrf_token": csrf_from(page), "deadline": "9999-12-31"})
    assert response.status_code == 400 and "Choose a date within the next" in response.get_data(as_text=True)
    response = alice_client.post(f"{url}/versions/{charter.id}/deadline",
                                 data={"csrf_token": csrf_from(page), "deadline": ""})
    assert response.status_code == 400 and "Enter the date, like 2026-03-17." in response.get_data(as_text=True)
    day = date.today() + timedelta(days=3)
    response = alice_client.post(f"{url}/versions/{charter.id}/deadline",
                                 data={"csrf_token": csrf_from(page), "deadline": day.isoformat()})
    assert response.status_code == 302
    db.session.expire_all()
    charter = db.session.get(Charter, charter.id)
    assert aware(charter.deadline_at) > datetime.now(timezone.utc) + timedelta(days=2)
    charters.vote(charter, sam, "approve")  # open again
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "charter.deadline"))
    assert event.actor == "alice@example.org" and event.details["new"].startswith(
        (day + timedelta(days=1)).isoformat()[:8])


def test_the_proposal_email_gives_the_deadline_and_readable_text(app, ctx, personas, smtp):
    community = _riverside()
    _people(community, 1)
    _proposed(community)
    run_worker(app)
    plain = smtp.to("m0@example.org")[0].message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Voting closes on" in plain and ", Central Time (Chicago)." in plain, plain
    spanish = smtp.to("ana@example.org")[0].message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "La votación cierra el" in spanish and "Hasta entonces puede cambiar su respuesta" in spanish
    assert "We learn together how to serve families." in plain and "**" not in plain and "<script" not in plain


# --- the ratified email ---------------------------------------------------------------------------

def test_members_are_emailed_the_ratified_charter_in_their_language(app, ctx, personas, smtp):
    community = _riverside()
    people = _people(community, 2)
    charter = _proposed(community)
    _vote(charter, people)
    alice = db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))
    charters.ratify(alice, charter)
    db.session.commit()
    with pytest.raises(DomainError):
        charters.ratify(alice, charter)
    run_worker(app)
    rows = db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "charter_ratified")).all()
    assert sorted(row.recipient for row in rows) == ["ana@example.org", "m0@example.org", "m1@example.org"]
    english = [r for r in smtp.to("m0@example.org") if "ratified" in r.message["Subject"]][0].message
    assert english["Subject"] == "Our charter is ratified: version 1 (Riverside COP)"
    plain = english.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Version 1 of the charter of Riverside COP is ratified: it is our charter now." in plain
    assert "Purpose\n-------\n\nWe learn together how to serve families." in plain and "- by consent" in plain
    assert "**" not in plain and "##" not in plain and "<script" not in plain and "<h2>" not in plain
    assert "/m/charters/" in plain
    assert "<strong>together</strong>" in english.get_body(("html",)).get_content()
    spanish = [r for r in smtp.to("ana@example.org") if "ratific" in r.message["Subject"]][0].message
    assert "Nuestra carta constitutiva está ratificada" in spanish["Subject"]
    assert "es nuestra carta constitutiva" in spanish.get_body(("plain",)).get_content().replace("\r\n", "\n")


# --- Spanish ---------------------------------------------------------------------------------------

def test_the_charter_page_in_spanish(app, ctx, personas, alice_client):
    db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org")).language = "es"
    community = _riverside()
    people = _people(community, 3)
    charter = _proposed(community)
    _vote(charter, people[:1])
    html = alice_client.get(f"/communities/{community.id}/charter").get_data(as_text=True)
    assert "Reglas de votación" in html
    assert "1 de 4 miembros activos respondieron; se necesitan 2 (50%)." in html
    assert "Quórum no alcanzado." in html
    assert "Motivo para ratificar por debajo de las reglas" in html
    assert "La votación cierra" in html
