"""Health over time: every figure equals an SQL count over seeded rows, months end at midnight in the community's
zone, the dashboard's overview shows only one's own communities and what needs attention, and the monthly
summary goes once to coordinators and leaders, with the figures."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, bindparam, select, text

from service import community_health, health_overview, health_summaries
from service.coordinators import create_coordinator
from service.extensions import db
from service.models import (AuditEvent, Community, CommunityCoordinator, Coordinator, FormAnswer, FormRequest, FormResponse,
                            HealthMonth, InboundMessage, Invitation, Meeting, Member, Membership, OutboundEmail, Practice)
from tests.conftest import PASSWORD, login, run_worker

UTC = timezone.utc
MOMENT = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)
# Midnight on the 1st in Chicago, written out by hand: CDT (UTC-5) until 2 a.m. on 1 November 2026, CST after.
MONTHS = {"2026-08": ("2026-08-01 05:00", "2026-09-01 05:00"), "2026-09": ("2026-09-01 05:00", "2026-10-01 05:00"),
          "2026-10": ("2026-10-01 05:00", "2026-11-01 05:00"), "2026-11": ("2026-11-01 05:00", "2026-12-01 06:00")}


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def sql(statement: str, **values):
    """One number from hand-written SQL; datetime parameters bound as the columns store them."""
    values = {name: value for name, value in values.items() if f":{name}" in statement}
    query = text(statement).bindparams(*[bindparam(name, type_=DateTime(timezone=True))
                                         for name, value in values.items() if isinstance(value, datetime)])
    return db.session.execute(query, values).scalar()


def _member(community_id: int, number: int) -> int:
    member = Member(email=f"m{number}-{community_id}@example.org", name=f"Member {number}")
    db.session.add(member)
    db.session.flush()
    db.session.add(Membership(community_id=community_id, member_id=member.id, name=member.name, language="en"))
    return member.id


def _meeting(community_id: int, starts: str, invitations: list[tuple], taken: bool = False,
             status: str = "scheduled") -> int:
    """A meeting and its invitations: (member id, answer, answered at, attended)."""
    meeting = Meeting(community_id=community_id, uid=f"{community_id}-{starts}@test", title=f"Call {starts}",
                      starts_at=at(starts), status=status, attendance_taken_at=at(starts) if taken else None)
    db.session.add(meeting)
    db.session.flush()
    for member_id, answer, answered_at, attended in invitations:
        db.session.add(Invitation(meeting_id=meeting.id, member_id=member_id, answer=answer, attended=attended,
                                  answered_at=at(answered_at) if answered_at else None))
    return meeting.id


def _feedback(community_id: int, meeting_id: int, answers: list[tuple]) -> None:
    """(member id, status, submitted at, usefulness, recommend) per response."""
    request = FormRequest(community_id=community_id, kind="feedback", meeting_id=meeting_id, title="Feedback")
    db.session.add(request)
    db.session.flush()
    for member_id, status, submitted, usefulness, recommend in answers:
        response = FormResponse(request_id=request.id, member_id=member_id, status=status,
                                submitted_at=at(submitted) if submitted else None)
        db.session.add(response)
        db.session.flush()
        db.session.add_all([FormAnswer(response_id=response.id, question="usefulness", value_int=usefulness),
                            FormAnswer(response_id=response.id, question="recommend", value_int=recommend),
                            FormAnswer(response_id=response.id, question="what_worked", value_text="The hosts")])


def _inbound(community_id: int, member_id: int | None, received: str, status: str = "done",
             purpose: str = "reply") -> None:
    db.session.add(InboundMessage(received_at=at(received), via="test", message_id=f"<{received}-{member_id}@t>",
                                  raw=b"", community_id=community_id, member_id=member_id, status=status,
                                  purpose=purpose))


def _audit(action: str, member_id: int, stamp: str) -> None:
    db.session.add(AuditEvent(actor="system", action=action, object_type="member", object_id=member_id,
                              created_at=at(stamp), details={}))


@pytest.fixture
def seeded(app, personas):
    """Riverside (Chicago) with four months of taking part, Lakeside with rows that must not count there."""
    with app.app_context():
        river, lake = personas["riverside"], personas["lakeside"]
        m = [_member(river, n) for n in range(6)]
        other = _member(lake, 9)
        first = _meeting(river, "2026-08-10 17:00", [
            (m[0], "yes", "2026-08-01 12:00", True), (m[1], "yes", "2026-08-02 12:00", False),
            (m[2], "no", "2026-08-03 12:00", None), (m[3], "maybe", "2026-08-04 12:00", True),
            (m[4], None, None, None), (m[5], None, None, None)], taken=True)
        # 23:30 on 31 August in Chicago (04:30 UTC on 1 September): August's.
        _meeting(river, "2026-09-01 04:30", [(m[0], "yes", "2026-08-30 12:00", None), (m[1], None, None, None),
                                             (m[2], None, None, None)])
        # 00:30 on 1 September in Chicago: September's.
        third = _meeting(river, "2026-09-01 05:30", [
            (m[0], "yes", "2026-08-31 12:00", True), (m[1], "yes", "2026-08-31 13:00", True),
            (m[2], "yes", "2026-08-31 14:00", True), (m[3], "no", "2026-08-31 15:00", None)], taken=True)
        _meeting(river, "2026-10-05 17:00", [(m[0], "yes", "2026-10-01 12:00", None),
                                             (m[4], "no", "2026-10-01 12:00", None)], status="cancelled")
        _meeting(river, "2026-11-20 18:00", [(m[n], "yes" if n == 5 else None, "2026-11-14 09:00" if n == 5 else None,
                                              None) for n in range(6)])
        _meeting(lake, "2026-08-10 17:00", [(other, "yes", "2026-08-01 12:00", True)], taken=True)
        _feedback(river, first, [(m[0], "submitted", "2026-08-11 12:00", 5, 10),
                                 (m[1], "submitted", "2026-08-12 12:00", 4, 8),
                                 (m[3], "submitted", "2026-08-13 12:00", 3, 6),
                                 (m[2], "draft", None, 1, 0)])
        _feedback(river, third, [(m[0], "submitted", "2026-09-02 12:00", 2, 5),
                                 (m[2], "submitted", "2026-09-03 12:00", 4, 9)])
        for member_id, created in ((m[1], "2026-08-15 12:00"), (m[3], "2026-11-01 04:59"),
                                   (m[4], "2026-11-01 05:00")):
            db.session.add(Practice(community_id=river, member_id=member_id, title="Shared", what_we_did="x",
                                    created_at=at(created)))
        db.session.add(Practice(community_id=lake, member_id=other, title="Theirs", what_we_did="x",
                                created_at=at("2026-08-15 12:00")))
        _inbound(river, m[3], "2026-09-10 12:00")
        _inbound(river, m[3], "2026-09-11 12:00", status="ignored")           # an out-of-office reply
        _inbound(river, None, "2026-09-12 12:00", purpose="bounce")           # a delivery report
        _inbound(river, m[5], "2026-10-02 12:00", status="unclear")
        _inbound(lake, other, "2026-10-02 13:00")
        _audit("member.bounced", m[4], "2026-10-03 12:00")
        _audit("member.bounced", m[4], "2026-10-20 12:00")                    # again after a lift: one member
        _audit("member.unsubscribe", m[5], "2026-11-02 12:00")
        _audit("member.unsubscribe", m[2], "2026-10-31 12:00")
        _audit("member.bounced", other, "2026-10-03 12:00")
        db.session.execute(text("UPDATE membership SET created_at = :t").bindparams(
            bindparam("t", type_=DateTime(timezone=True))), {"t": at("2026-07-01 12:00")})
        joiner = _member(river, 7)
        db.session.execute(text("UPDATE membership SET created_at = :t WHERE member_id = :m").bindparams(
            bindparam("t", type_=DateTime(timezone=True))), {"t": at("2026-10-15 12:00"), "m": joiner})
        db.session.commit()
        return {"riverside": river, "lakeside": lake, "members": m}


def _expected(community_id: int, month: str, moment: datetime = MOMENT) -> dict:
    """Each figure of one month, as it is at `moment`, counted by hand-written SQL over the source tables."""
    start, end = (at(stamp) for stamp in MONTHS[month])
    meetings = ("FROM invitation i JOIN meeting m ON m.id = i.meeting_id WHERE m.community_id = :c "
                "AND m.status <> 'cancelled' AND m.starts_at >= :start AND m.starts_at < :end")
    values = {"c": community_id, "start": start, "end": end}
    invited = sql(f"SELECT count(*) {meetings}", **values)
    answered = sql(f"SELECT count(*) {meetings} AND i.answer IS NOT NULL", **values)
    counted = sql(f"SELECT count(*) {meetings} AND m.attendance_taken_at IS NOT NULL", **values)
    attended = sql(f"SELECT count(*) {meetings} AND m.attendance_taken_at IS NOT NULL AND i.attended", **values)
    feedback = ("FROM form_answer a JOIN form_response r ON r.id = a.response_id JOIN form_request q "
                "ON q.id = r.request_id JOIN meeting m ON m.id = q.meeting_id WHERE q.community_id = :c "
                "AND q.kind = 'feedback' AND r.status = 'submitted' AND m.starts_at >= :start AND m.starts_at < :end")
    as_of = min(end, moment)
    window = {"c": community_id, "since": as_of - timedelta(days=60), "until": as_of}
    active = sql("""SELECT count(DISTINCT member_id) FROM (
          SELECT i.member_id, i.answered_at AS at FROM invitation i JOIN meeting m ON m.id = i.meeting_id
           WHERE m.community_id = :c
          UNION ALL SELECT i.member_id, m.starts_at FROM invitation i JOIN meeting m ON m.id = i.meeting_id
           WHERE m.community_id = :c AND i.attended
          UNION ALL SELECT r.member_id, r.submitted_at FROM form_response r JOIN form_request q ON q.id = r.request_id
           WHERE q.community_id = :c AND r.status = 'submitted'
          UNION ALL SELECT member_id, received_at FROM inbound_message
           WHERE community_id = :c AND status <> 'ignored' AND purpose <> 'bounce'
          UNION ALL SELECT member_id, created_at FROM practice WHERE community_id = :c) AS taking_part
        WHERE member_id IS NOT NULL AND at >= :since AND at < :until""", **window)
    suppressed = ("SELECT count(DISTINCT e.object_id) FROM audit_event e JOIN membership s ON s.member_id = e.object_id "
                  "AND s.community_id = :c WHERE e.object_type = 'member' AND e.action = :action "
                  "AND e.created_at >= :start AND e.created_at < :end")
    return {
        "members": sql("SELECT count(*) FROM membership WHERE community_id = :c AND status = 'active' "
                       "AND created_at < :end", **values),
        "invited": invited, "answered": answered, "counted": counted, "attended": attended,
        "rsvp_rate": answered / invited if invited else None,
        "attendance_rate": attended / counted if counted else None,
        "feedback": sql(f"SELECT count(DISTINCT r.id) {feedback}", **values),
        "usefulness": sql(f"SELECT avg(a.value_int) {feedback} AND a.question = 'usefulness'", **values),
        "recommend": sql(f"SELECT avg(a.value_int) {feedback} AND a.question = 'recommend'", **values),
        "practices": sql("SELECT count(*) FROM practice WHERE community_id = :c AND created_at >= :start "
                         "AND created_at < :end", **values),
        "replies": sql("SELECT count(*) FROM inbound_message WHERE community_id = :c AND status <> 'ignored' "
                       "AND purpose <> 'bounce' AND received_at >= :start AND received_at < :end", **values),
        "active": active,
        "bounced": sql(suppressed, action="member.bounced", **values),
        "unsubscribed": sql(suppressed, action="member.unsubscribe", **values),
    }


def _assert_counted(found: list, community_id: int, moment: datetime = MOMENT) -> None:
    """Every figure of these months equals the hand-written SQL's count at `moment`."""
    for month in found:
        expected = _expected(community_id, month.month.isoformat()[:7], moment)
        for name, value in expected.items():
            actual = getattr(month, name)
            if isinstance(value, (float, int)) and not isinstance(value, bool) and name in ("usefulness", "recommend",
                                                                                          "rsvp_rate",
                                                                                          "attendance_rate"):
                assert actual == pytest.approx(float(value)), (month.month, name)
            else:
                assert actual == value, (month.month, name, actual, value)


def test_every_figure_equals_an_sql_count_of_its_month(app, ctx, seeded):
    community = db.session.get(Community, seeded["riverside"])
    found = community_health.months(community, 4, MOMENT)
    assert [m.month.isoformat()[:7] for m in found] == list(MONTHS)
    _assert_counted(found, community.id)


def test_months_end_at_midnight_in_the_communitys_zone(app, ctx, seeded):
    community = db.session.get(Community, seeded["riverside"])
    august, september, october, november = community_health.months(community, 4, MOMENT)
    # The 23:30 call on 31 August (local) is August's; the 00:30 call on 1 September is September's.
    assert (august.invited, august.answered, september.invited, september.answered) == (9, 5, 4, 4)
    assert (august.counted, august.attended, september.attended) == (6, 2, 3)
    assert (august.usefulness, august.recommend, september.usefulness) == (4.0, 8.0, 3.0)
    # A practice at 23:59 on 31 October (local) is October's, one a minute later November's.
    assert (october.practices, november.practices) == (1, 1)
    assert (october.replies, october.bounced, october.unsubscribed, november.unsubscribed) == (1, 1, 1, 1)
    assert october.invited == 0 and october.rsvp_rate is None  # the only October meeting was cancelled
    assert (september.members, october.members) == (7, 8)      # one joined in October
    assert november.rsvp_rate == pytest.approx(1 / 6)


def test_the_health_page_shows_24_months_with_charts_and_a_table(app, seeded, client):
    login(client, "alice@example.org", PASSWORD)
    page = client.get(f"/communities/{seeded['riverside']}/health/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart line-chart"') == 10
    assert html.count('<th scope="row">') == 24  # one table row per month
    assert "Attendance rate: invitees marked present, out of everyone invited" in html
    community_page = client.get(f"/communities/{seeded['riverside']}").get_data(as_text=True)
    assert "Health over the last year" in community_page and community_page.count("line-chart") == 3
    assert client.get(f"/communities/{seeded['lakeside']}/health/").status_code == 404


def test_the_overview_lists_only_ones_own_communities_with_what_needs_attention(app, seeded, client):
    with app.app_context():
        river = seeded["riverside"]
        db.session.add(OutboundEmail(kind="announcement", community_id=river, recipient="x@example.org",
                                     idempotency_key="failed-1", status="failed", context={}))
        bounced = db.session.get(Member, seeded["members"][4])
        bounced.status = "bounced"
        db.session.commit()
    login(client, "alice@example.org", PASSWORD)
    html = client.get("/").get_data(as_text=True)
    assert "Riverside COP" in html and "Lakeside COP" not in html
    assert "1 email failed" in html and "1 reply needs you" in html and "1 member's address bounces" in html
    carol = app.test_client()
    login(carol, "carol@example.org", PASSWORD)
    admin_view = carol.get("/").get_data(as_text=True)
    assert "Riverside COP" in admin_view and "Lakeside COP" in admin_view


def test_the_overview_counts_each_figure_for_many_communities_at_once(app, ctx, seeded):
    communities = list(db.session.scalars(select(Community).order_by(Community.id)))
    moment = at("2026-09-05 12:00")
    river, lake = health_overview.overview(communities, moment)
    assert river.community.id == seeded["riverside"]
    # Active members by the end of the moment's month (the one who joined in October not yet).
    active_then = ("SELECT count(*) FROM membership WHERE community_id = :c AND status = 'active' "
                   "AND created_at < :end")
    end = at(MONTHS["2026-09"][1])
    assert (river.members, lake.members) == (sql(active_then, c=seeded["riverside"], end=end),
                                             sql(active_then, c=seeded["lakeside"], end=end)) == (7, 2)
    window = {"c": seeded["riverside"], "since": moment - timedelta(days=60), "until": moment}
    assert river.active == sql("""SELECT count(DISTINCT member_id) FROM (
        SELECT i.member_id, i.answered_at AS at FROM invitation i JOIN meeting m ON m.id = i.meeting_id
         WHERE m.community_id = :c
        UNION ALL SELECT i.member_id, m.starts_at FROM invitation i JOIN meeting m ON m.id = i.meeting_id
         WHERE m.community_id = :c AND i.attended
        UNION ALL SELECT r.member_id, r.submitted_at FROM form_response r JOIN form_request q ON q.id = r.request_id
         WHERE q.community_id = :c AND r.status = 'submitted'
        UNION ALL SELECT member_id, created_at FROM practice WHERE community_id = :c) AS taking_part
        WHERE at >= :since AND at < :until""", **window) == 4
    # Last month's (August's) meetings: 5 of Riverside's 9 invitations answered, Lakeside's one.
    assert river.rsvp_rate == pytest.approx(5 / 9) and lake.rsvp_rate == 1.0


def test_settled_months_stay_as_kept_and_the_two_latest_follow_every_change(app, ctx, seeded):
    community = db.session.get(Community, seeded["riverside"])
    first = community_health.months(community, 4, MOMENT)
    kept = db.session.scalars(select(HealthMonth.month).where(HealthMonth.community_id == community.id)).all()
    assert sorted(month.isoformat() for month in kept) == ["2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"]
    for created in ("2026-08-20 12:00", "2026-11-10 12:00"):  # recorded late about August, and in November
        db.session.add(Practice(community_id=community.id, member_id=seeded["members"][0], title="Late",
                                what_we_did="x", created_at=at(created)))
    db.session.commit()
    again = community_health.months(community, 4, MOMENT + timedelta(minutes=1))
    assert again[0].practices == first[0].practices           # August as it was kept
    assert again[3].practices == first[3].practices + 1       # November counted afresh, a minute on
    assert [m.active for m in again] == [m.active for m in first]


def test_the_cron_tick_counts_again_only_communities_whose_rows_changed(app, ctx, seeded):
    assert community_health.refresh_kept(MOMENT) == 2
    assert community_health.refresh_kept(MOMENT + timedelta(minutes=10)) == 0
    assert community_health.refresh_kept(MOMENT + timedelta(hours=5)) == 0  # nothing changed, nothing counted
    _inbound(seeded["riverside"], seeded["members"][0], "2026-11-15 19:00")
    db.session.commit()
    assert community_health.refresh_kept(MOMENT + timedelta(hours=6)) == 1
    kept = db.session.scalars(select(HealthMonth).where(HealthMonth.community_id == seeded["riverside"])
                              .order_by(HealthMonth.month)).all()
    assert [(row.month.isoformat(), row.replies) for row in kept] == [("2026-10-01", 1), ("2026-11-01", 1)]
    assert community_health.refresh_kept(at("2026-12-01 06:00")) == 2  # December began: every month moved on


# Each change a member or coordinator makes that a figure counts, as SQL on the tables (so no code path is
# trusted to say so): the page read right after it must show it.
CHANGES = {
    "an answer": "UPDATE invitation SET answer = 'yes', answered_at = '2026-11-15 17:00:00+00:00'"
                 " WHERE answer IS NULL AND meeting_id IN (SELECT id FROM meeting WHERE starts_at > '2026-11-01')",
    "attendance taken": "UPDATE meeting SET attendance_taken_at = starts_at WHERE starts_at > '2026-11-01'",
    "a meeting cancelled": "UPDATE meeting SET status = 'cancelled' WHERE starts_at > '2026-11-01'",
    "feedback given": lambda seeded: _feedback(seeded["riverside"], _november_meeting(), [
        (seeded["members"][0], "submitted", "2026-11-15 17:00", 5, 9)]),
    "a draft of feedback submitted": lambda seeded: (
        _feedback(seeded["riverside"], _november_meeting(), [(seeded["members"][0], "draft", None, 5, 9)]),
        db.session.commit(),
        db.session.execute(text("UPDATE form_response SET status = 'submitted', submitted_at = '2026-11-15 17:00:00'"
                                " WHERE status = 'draft'"))),
    "a practice withdrawn": "DELETE FROM practice WHERE created_at > '2026-11-01'",
    "a reply set aside": "UPDATE inbound_message SET status = 'ignored' WHERE status = 'unclear'",
    "a member left": "UPDATE membership SET status = 'inactive' WHERE id = (SELECT max(id) FROM membership)",
}


def _november_meeting() -> int:
    return db.session.scalar(select(Meeting.id).where(Meeting.starts_at > at("2026-11-01 00:00")))


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_figure_equals_an_sql_count_right_after_a_change(app, ctx, seeded, change):
    community = db.session.get(Community, seeded["riverside"])
    before = community_health.months(community, 4, MOMENT)
    _assert_counted(before, community.id)
    if callable(CHANGES[change]):
        CHANGES[change](seeded)
    else:
        db.session.execute(text(CHANGES[change]))
    db.session.commit()
    after = community_health.months(community, 4, MOMENT + timedelta(seconds=1))
    assert [vars(m) for m in after[2:]] != [vars(m) for m in before[2:]], change  # the change shows at once
    _assert_counted(after[2:], community.id, MOMENT + timedelta(seconds=1))


def test_a_bounce_in_another_community_shows_in_every_community_of_the_member(app, ctx, seeded):
    community = db.session.get(Community, seeded["riverside"])
    assert community_health.months(community, 4, MOMENT)[-1].bounced == 0
    _audit("member.bounced", seeded["members"][1], "2026-11-15 17:30")
    db.session.commit()
    assert community_health.months(community, 4, MOMENT + timedelta(seconds=1))[-1].bounced == 1


def test_active_members_follow_the_60_day_window_as_days_pass_with_no_change(app, ctx, seeded):
    community = db.session.get(Community, seeded["riverside"])
    early = at("2026-11-01 06:00")  # feedback on 2 and 3 September and a reply on 10 September still count
    later = at("2026-11-10 06:00")  # they do not
    first, second = (community_health.months(community, 2, moment)[-1] for moment in (early, later))
    assert first.active == _expected(community.id, "2026-11", early)["active"]
    assert second.active == _expected(community.id, "2026-11", later)["active"]
    assert second.active < first.active


def test_an_uncommitted_change_is_not_kept_as_the_figures(app, ctx, seeded):
    community = db.session.get(Community, seeded["riverside"])
    community_health.months(community, 4, MOMENT)
    _inbound(community.id, seeded["members"][0], "2026-11-15 17:00")
    db.session.flush()
    assert community_health.months(community, 4, MOMENT)[-1].replies == 1  # the session sees its own reply
    db.session.rollback()
    assert community_health.months(community, 4, MOMENT + timedelta(seconds=1))[-1].replies == 0


def test_the_health_page_and_the_dashboard_show_a_reply_recorded_a_moment_ago(app, seeded, client):
    login(client, "alice@example.org", PASSWORD)
    river = seeded["riverside"]

    def replies_this_month() -> str:
        html = client.get(f"/communities/{river}/health/").get_data(as_text=True)
        return html.split("Replies received")[-1]

    client.get("/")
    page_before = replies_this_month()
    with app.app_context():
        _inbound(river, seeded["members"][0], community_health.clock.now().isoformat(sep=" ")[:16])
        db.session.commit()
    assert replies_this_month() != page_before
    with app.app_context():
        for number in range(3):  # three new members: the dashboard's member count moves with them
            _member(river, 20 + number)
        db.session.commit()
        members = sql("SELECT count(*) FROM membership WHERE community_id = :c AND status = 'active'", c=river)
    assert f">{members}<" in client.get("/").get_data(as_text=True)


def _roles(app, community_id: int) -> None:
    with app.app_context():
        for email, role in (("dave@example.org", "leader"), ("erin@example.org", "observer")):
            account = create_coordinator(email, email.split("@")[0].title(), PASSWORD)
            db.session.flush()
            db.session.add(CommunityCoordinator(community_id=community_id, coordinator_id=account.id, role=role))
        db.session.execute(text("UPDATE community SET created_at = :t").bindparams(
            bindparam("t", type_=DateTime(timezone=True))), {"t": at("2026-07-01 12:00")})
        db.session.commit()


def test_the_monthly_summary_goes_once_to_coordinators_and_leaders_with_the_figures(app, seeded, smtp):
    _roles(app, seeded["riverside"])
    with app.app_context():
        assert health_summaries.queue_due(at("2026-11-01 12:00")) == 0   # 6:00 in Chicago: not yet
        assert health_summaries.queue_due(at("2026-11-02 15:00")) == 3   # alice, dave; bob for Lakeside
        assert health_summaries.queue_due(at("2026-11-03 15:00")) == 0   # once a month
        assert health_summaries.queue_due(at("2026-11-09 15:00")) == 0   # past the first week
    run_worker(app)
    received = {message.message["To"]: message.message for message in smtp.messages}
    assert sorted(received) == ["Alice <alice@example.org>", "Bob <bob@example.org>", "Dave <dave@example.org>"]
    message = received["Alice <alice@example.org>"]
    assert message["Subject"] == "Riverside COP in October 2026: how the community is doing"
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Here is how Riverside COP did in October 2026, with September 2026 beside it" in body
    # October: one reply, one practice, one bounced and one unsubscribed member; September: an RSVP rate of 100 %.
    assert "\nReplies received: 1 (September 2026: 1, ±0)\n" in body
    assert "\nPractices shared: 1 (September 2026: 0, +1)\n" in body
    assert "\nActive members (last 60 days): 5 (September 2026: 4, +1)\n" in body
    assert "\nRSVP rate: – (September 2026: 100%)\n" in body
    assert "\nMembers whose address started bouncing: 1 (September 2026: 0, +1)\n" in body
    assert f"/communities/{seeded['riverside']}/health/" in body
    with app.app_context():
        rows = db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "health_summary")).all()
        assert {row.status for row in rows} == {"sent"} and len(rows) == 3
        assert {row.community_id for row in rows} == {seeded["riverside"], seeded["lakeside"]}


def test_an_archived_community_gets_no_summary(app, seeded):
    _roles(app, seeded["riverside"])
    with app.app_context():
        db.session.get(Community, seeded["riverside"]).archived_at = at("2026-10-20 12:00")
        db.session.commit()
        assert health_summaries.queue_due(at("2026-11-02 15:00")) == 1  # Lakeside's coordinator only


def test_a_spanish_speaking_leader_reads_the_summary_in_spanish(app, seeded, smtp):
    _roles(app, seeded["riverside"])
    with app.app_context():
        dave = db.session.scalar(select(Coordinator).where(Coordinator.email == "dave@example.org"))
        dave.language = "es"
        db.session.commit()
        health_summaries.queue_due(at("2026-11-02 15:00"))
    run_worker(app)
    [message] = [received.message for received in smtp.messages if received.message["To"].endswith("<dave@example.org>")]
    assert message["Subject"] == "Riverside COP en octubre de 2026: cómo va la comunidad"
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Así le fue a Riverside COP en octubre de 2026, con septiembre de 2026 al lado" in body
    assert "\nTasa de respuesta: – (septiembre de 2026: 100\xa0%)\n" in body
    assert "\nOpiniones: qué tan útil (1–5): – (septiembre de 2026: 3,0)\n" in body
