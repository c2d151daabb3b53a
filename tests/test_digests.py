"""Lesson digests: the schedule across DST and zones, late and double ticks, the drip, frequencies, content."""
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from service import digest_schedule, digests, lessons, members
from service.extensions import db
from service.models import (Community, DigestIssue, Lesson, LessonModule, Member, Membership, OutboundEmail,
                            Practice)
from tests.conftest import run_worker

UTC = timezone.utc


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _lesson(modules=3) -> Lesson:
    lesson = Lesson(slug="test-lesson", title_en="Test lesson", title_es="Lección de prueba")
    for position in range(modules):
        module = lessons.draft_module(  # its body rendered, as a saved module's is
            title_en=f"Module {position + 1}", title_es=f"Módulo {position + 1}",
            goal_en=f"Goal {position + 1}", goal_es=f"Meta {position + 1}",
            body_en=f"Body of module {position + 1} with **bold** <script>alert(1)</script>",
            body_es=f"Texto del módulo {position + 1}", reflection_en="Think", practice_prompt_en="Try")
        module.position = position
        lesson.modules.append(module)
    db.session.add(lesson)
    db.session.flush()
    return lesson


def _setup(cadence="weekly", weekday=1, hour=9, zone="America/Chicago", enabled_at=None):
    community = _riverside()
    community.digest_cadence, community.digest_weekday, community.digest_hour = cadence, weekday, hour
    community.time_zone = zone
    community.lesson_id = _lesson().id
    community.digest_enabled = True
    community.digest_enabled_at = enabled_at or datetime(2026, 1, 1, tzinfo=UTC)
    db.session.commit()
    return community


@pytest.mark.parametrize("zone, day, expected", [
    # Tuesday 09:00 in Chicago: UTC-6 in winter, UTC-5 after the March change.
    ("America/Chicago", date(2027, 3, 9), datetime(2027, 3, 9, 15, 0, tzinfo=UTC)),
    ("America/Chicago", date(2027, 3, 16), datetime(2027, 3, 16, 14, 0, tzinfo=UTC)),
    ("America/Chicago", date(2027, 11, 9), datetime(2027, 11, 9, 15, 0, tzinfo=UTC)),
    # Madrid changes two weeks later than the US; Mexico City no longer changes.
    ("Europe/Madrid", date(2027, 3, 23), datetime(2027, 3, 23, 8, 0, tzinfo=UTC)),
    ("Europe/Madrid", date(2027, 3, 30), datetime(2027, 3, 30, 7, 0, tzinfo=UTC)),
    ("America/Mexico_City", date(2027, 7, 6), datetime(2027, 7, 6, 15, 0, tzinfo=UTC)),
])
def test_slots_keep_the_local_hour_across_dst(app, ctx, personas, zone, day, expected):
    community = _setup(zone=zone)
    assert digest_schedule.is_slot_day(community, day)
    assert digest_schedule.slot_at(community, day) == expected
    assert digest_schedule.latest_slot(community, expected + timedelta(minutes=1)) == expected
    assert digest_schedule.next_slot(community, expected - timedelta(minutes=1)) == expected


def test_biweekly_and_monthly_cadences(app, ctx, personas):
    community = _setup(cadence="biweekly")
    first = digest_schedule.next_slot(community, datetime(2027, 3, 1, tzinfo=UTC))
    second = digest_schedule.next_slot(community, first)
    assert (second - first) in (timedelta(days=14), timedelta(days=14, hours=-1), timedelta(days=14, hours=1))
    community.digest_cadence = "monthly"
    slot = digest_schedule.next_slot(community, datetime(2027, 3, 1, tzinfo=UTC))
    local = slot.astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago"))
    assert local.weekday() == 1 and local.day <= 7 and local.hour == 9      # first Tuesday of the month


def test_a_double_tick_and_a_late_tick_send_each_issue_once(app, ctx, personas, smtp):
    community = _setup()
    slot = digest_schedule.latest_slot(community, datetime(2027, 3, 10, tzinfo=UTC))
    assert digests.tick(slot + timedelta(seconds=30)) == {community.id: 1}
    assert digests.tick(slot + timedelta(seconds=90)) == {}                 # the next minute's tick
    assert digests.tick(slot + timedelta(hours=5)) == {}                    # late after downtime
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 1
    assert db.session.scalar(select(func.count()).select_from(DigestIssue)) == 1


def test_after_a_long_outage_only_the_current_issue_goes_out(app, ctx, personas, smtp):
    community = _setup()
    start = digest_schedule.latest_slot(community, datetime(2027, 3, 3, tzinfo=UTC))
    digests.tick(start + timedelta(minutes=1))
    # Five weeks without a tick: one issue, for the latest slot, not five.
    later = start + timedelta(days=35, hours=2)
    assert digests.tick(later) == {community.id: 1}
    issues = db.session.scalars(select(DigestIssue).order_by(DigestIssue.number)).all()
    assert [i.number for i in issues] == [1, 2]
    assert digest_schedule.latest_slot(community, later) == issues[1].slot_at.replace(tzinfo=UTC) \
        if issues[1].slot_at.tzinfo is None else issues[1].slot_at


def test_slots_before_digests_were_turned_on_are_not_sent(app, ctx, personas):
    community = _setup(enabled_at=datetime(2027, 3, 10, tzinfo=UTC))
    assert digests.tick(datetime(2027, 3, 10, 1, tzinfo=UTC)) == {}        # Tuesday's slot predates it
    assert digests.tick(datetime(2027, 3, 16, 16, tzinfo=UTC)) == {community.id: 1}


def _module_titles_sent(email):
    rows = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == email,
                                                          OutboundEmail.kind == "digest")
                              .order_by(OutboundEmail.id)).all()
    return [db.session.get(LessonModule, r.context["module_id"]).title_en if r.context["module_id"] else None
            for r in rows]


def test_the_drip_advances_per_member_and_a_late_joiner_starts_at_the_beginning(app, ctx, personas):
    community = _setup()
    ana = _member()
    members.set_person_language(ana, "en")  # the person's choice, every community's mail
    tuesdays = [digest_schedule.latest_slot(community, datetime(2027, 3, 3, tzinfo=UTC)) + timedelta(days=7 * k)
                for k in range(5)]
    digests.tick(tuesdays[0] + timedelta(minutes=1))
    digests.tick(tuesdays[1] + timedelta(minutes=1))
    members.add_member(None, community, name="Late Joiner", email="late@example.org")
    db.session.commit()
    for slot in tuesdays[2:]:
        digests.tick(slot + timedelta(minutes=1))
    assert _module_titles_sent("ana@example.org") == ["Module 1", "Module 2", "Module 3", None, None]
    assert _module_titles_sent("late@example.org") == ["Module 1", "Module 2", "Module 3"]


def test_monthly_reader_gets_one_digest_a_month_and_never_gets_none(app, ctx, personas):
    community = _setup()
    members.add_member(None, community, name="Mo Nthly", email="monthly@example.org")
    members.add_member(None, community, name="Ne Ver", email="never@example.org")
    _member("monthly@example.org").digest_frequency = "monthly"
    _member("never@example.org").digest_frequency = "never"
    db.session.commit()
    first = digest_schedule.latest_slot(community, datetime(2027, 3, 3, tzinfo=UTC))
    for week in range(9):
        digests.tick(first + timedelta(days=7 * week, minutes=1))
    assert len(_module_titles_sent("ana@example.org")) == 9
    assert len(_module_titles_sent("monthly@example.org")) == 3           # weeks 0, 4 and 8
    assert _module_titles_sent("never@example.org") == []


def test_a_sent_digest_has_its_sections_in_order_and_only_approved_practices(app, ctx, personas, smtp):
    community = _setup()
    ana, = [_member()]
    members.set_person_language(ana, "en")  # the person's choice, every community's mail
    from service import meetings
    meetings.create_meeting(None, community, starts_at=datetime.now(UTC) + timedelta(days=20), title="Spring call")
    slot = digest_schedule.next_slot(community, datetime.now(UTC) - timedelta(days=8))
    db.session.add_all([
        Practice(community_id=community.id, member_id=ana.id, title="Shared pantry calendar",
                 what_we_did="We put <b>one</b> calendar online", status="approved",
                 reviewed_at=slot - timedelta(days=1), contact_ok=True),
        Practice(community_id=community.id, member_id=ana.id, title="Unreviewed idea",
                 what_we_did="Not yet approved", status="pending"),
        Practice(community_id=community.id, member_id=ana.id, title="Declined idea",
                 what_we_did="No", status="declined", reviewed_at=slot - timedelta(days=1)),
    ])
    db.session.commit()
    digests.tick(slot + timedelta(minutes=1))
    run_worker(app)
    digest = [m for m in smtp.to("ana@example.org") if "digest" in (m.message["Subject"] or "")][0].message
    text = digest.get_body(("plain",)).get_content()
    html = digest.get_body(("html",)).get_content()
    order = [text.index(marker) for marker in ("== Module 1 ==", "== Practices from the community ==",
                                               "== Coming up ==", "== Share what you tried ==")]
    assert order == sorted(order)
    assert "Shared pantry calendar" in text and "Unreviewed idea" not in text and "Declined idea" not in text
    assert "Spring call" in text and "/rsvp/" in text
    assert "<script>" not in html and "&lt;b&gt;one&lt;/b&gt;" in html          # member text escaped
    assert "Body of module 1 with bold" in text and "**" not in text           # the lesson's Markdown as text
    assert "Body of module 1 with <strong>bold</strong>" in html
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_spanish_member_reads_spanish(app, ctx, personas, smtp):
    community = _setup()
    slot = digest_schedule.next_slot(community, datetime.now(UTC) - timedelta(days=8))
    digests.tick(slot + timedelta(minutes=1))
    run_worker(app)
    message = smtp.to("ana@example.org")[0].message
    text = message.get_body(("plain",)).get_content()
    assert "Módulo 1" in message["Subject"] and "Texto del módulo 1" in text
    assert "Darse de baja" in text


def test_the_organization_contact_gets_the_organization_edition(app, ctx, personas, smtp):
    community = _setup()
    ana = _member()
    db.session.scalar(select(Membership).where(Membership.member_id == ana.id)).organization.contact_member_id = ana.id
    db.session.commit()
    slot = digest_schedule.next_slot(community, datetime.now(UTC) - timedelta(days=8))
    digests.tick(slot + timedelta(minutes=1))
    run_worker(app)
    subjects = [m.message["Subject"] for m in smtp.to("ana@example.org")]
    assert len(subjects) == 2 and any("Casa Verde" in s for s in subjects)


def test_an_organization_contact_outside_the_community_gets_no_edition_of_it(app, ctx, personas, smtp):
    """Ben (Lakeside only) is the contact of an organization Ana has in Riverside: he learns nothing of Riverside."""
    community = _setup()
    ben = _member("ben@example.org")
    db.session.scalar(select(Membership).where(Membership.member_id == _member().id)).organization \
        .contact_member_id = ben.id
    db.session.commit()
    slot = digest_schedule.next_slot(community, datetime.now(UTC) - timedelta(days=8))
    digests.tick(slot + timedelta(minutes=1))
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 1  # her own digest
    assert smtp.to("ben@example.org") == []


def test_preview_renders_without_sending(app, ctx, personas):
    community = _setup()
    text, html, subject = digests.preview(community, _member())
    assert "Módulo 1" in subject and "Texto del módulo 1" in text and "<html" in html
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0
    assert db.session.scalar(select(Membership.next_module).where(Membership.member_id == _member().id)) == 0


def test_digest_dashboard_settings_preview_and_test_send(app, ctx, personas, smtp, alice_client):
    from tests.conftest import csrf_from
    community = _riverside()
    community.lesson_id = _lesson().id
    db.session.commit()
    url = f"/communities/{community.id}/digest/"
    response = alice_client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page[:500]
    assert "Digests are off" in page
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "digest_enabled": "y",
                                            "lesson_id": community.lesson_id, "digest_cadence": "weekly",
                                            "digest_weekday": 3, "digest_hour": 25})
    assert response.status_code == 400                                     # hour out of range: nothing saved
    db.session.expire_all()
    assert not _riverside().digest_enabled
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "digest_enabled": "y",
                                            "lesson_id": community.lesson_id, "digest_cadence": "weekly",
                                            "digest_weekday": 3, "digest_hour": 8})
    assert response.status_code == 302
    db.session.expire_all()
    assert _riverside().digest_enabled and _riverside().digest_weekday == 3
    assert "Next issue:" in alice_client.get(url).get_data(as_text=True)
    membership = db.session.scalar(select(Membership).where(Membership.member_id == _member().id))
    preview = alice_client.get(f"{url}preview?membership_id={membership.id}").get_data(as_text=True)
    assert "Texto del módulo 1" in preview
    html = alice_client.get(f"{url}preview.html?membership_id={membership.id}")
    assert "sandbox" in html.headers["Content-Security-Policy"] and "Módulo 1" in html.get_data(as_text=True)
    page = alice_client.get(url).get_data(as_text=True)
    alice_client.post(f"{url}test", data={"csrf_token": csrf_from(page), "membership_id": membership.id})
    run_worker(app)
    [copy] = smtp.to("alice@example.org")
    assert copy.message["Subject"].startswith("[TEST]") and smtp.to("ana@example.org") == []
    db.session.expire_all()
    assert db.session.scalar(select(Membership.next_module).where(Membership.id == membership.id)) == 0


LINK_RE = re.compile(r"https?://[^\s\"'<>]+")


def _what_a_member_can_change():
    """Everything a member's links act on: their settings, answers, forms, practices, and the audit trail."""
    from service.models import AuditEvent, FormResponse, Invitation, Suppression
    db.session.expire_all()
    return ([(m.id, m.status, m.paused, m.language, m.digest_frequency) for m in db.session.scalars(select(Member))],
            [(i.id, i.answer, i.note) for i in db.session.scalars(select(Invitation))],
            [(r.id, r.status) for r in db.session.scalars(select(FormResponse))],
            sorted(db.session.scalars(select(Suppression.address))),
            db.session.scalar(select(func.count()).select_from(Practice)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)))


def test_a_test_copy_shows_the_members_links_but_every_one_of_them_acts_as_nobody(app, ctx, personas, smtp,
                                                                                   alice_client):
    from service import form_requests, meetings
    from tests.conftest import csrf_from
    community = _setup()
    ana = _member()
    members.set_person_language(ana, "en")  # the person's choice, every community's mail
    meetings.create_meeting(None, community, starts_at=datetime.now(UTC) + timedelta(days=20), title="Spring call")
    form_requests.send_request(None, community, "charter", "Draft our charter", [ana.id],
                               datetime.now(UTC) + timedelta(days=10))
    db.session.commit()
    membership = db.session.scalar(select(Membership).where(Membership.member_id == ana.id))
    url = f"/communities/{community.id}/digest/"
    page = alice_client.get(url).get_data(as_text=True)
    assert alice_client.post(f"{url}test", data={"csrf_token": csrf_from(page),
                                                 "membership_id": membership.id}).status_code == 302
    run_worker(app)
    [copy] = [m.message for m in smtp.to("alice@example.org")]
    text, html = copy.get_body(("plain",)).get_content(), copy.get_body(("html",)).get_content()
    assert "Spring call" in text and "Draft our charter" in text          # what the member would see
    links = set(LINK_RE.findall(text)) | set(LINK_RE.findall(html))
    actions = {link.rsplit("/", 1)[1] for link in links if "/m/test-copy/" in link}
    assert {"member_links.unsubscribe", "member_links.preferences", "rsvp.answer", "form_links.answer",
            "practice_links.share"} <= actions
    assert [link for link in links if "/m/" in link and "/m/test-copy/" not in link] == []  # no member's link
    assert copy["Reply-To"] == "alice@example.org" and copy["List-Unsubscribe"] is None
    assert "text/calendar" not in [part.get_content_type() for part in copy.walk()]
    before = _what_a_member_can_change()
    stranger = app.test_client(use_cookies=False)
    for link in links:
        path = "/" + link.split("/", 3)[3]
        stranger.post(path, data={"List-Unsubscribe": "One-Click"})
        stranger.post(path, data={"answer": "no", "submit": "1", "purpose": "x", "title": "x", "what_we_did": "x"})
    assert _what_a_member_can_change() == before
    unsubscribe = next(link for link in links if link.endswith("/m/test-copy/member_links.unsubscribe"))
    shown = alice_client.get("/" + unsubscribe.split("/", 3)[3]).get_data(as_text=True)
    assert "This is a test copy" in shown and "would let them unsubscribe" in shown


def test_the_preview_shows_links_that_act_as_nobody(app, ctx, personas):
    _setup()
    text, html, _subject = digests.preview(_riverside(), _member())
    links = set(LINK_RE.findall(text)) | set(LINK_RE.findall(html))
    assert links and [link for link in links if "/m/" in link and "/m/test-copy/" not in link] == []


def test_another_coordinator_cannot_reach_the_digest_pages(app, personas):
    from tests.conftest import PASSWORD, csrf_from, login
    bob = app.test_client()
    login(bob, "bob@example.org", PASSWORD)
    url = f"/communities/{personas['riverside']}/digest/"
    token = csrf_from(bob.get(f"/communities/{personas['lakeside']}/digest/").get_data(as_text=True))
    assert bob.get(url).status_code == 404
    assert bob.get(f"{url}preview?membership_id=1").status_code == 404
    assert bob.get(f"{url}preview.html?membership_id=1").status_code == 404
    assert bob.post(url, data={"csrf_token": token, "digest_enabled": "y", "digest_cadence": "weekly",
                               "digest_weekday": 1, "digest_hour": 9, "lesson_id": 0}).status_code == 404
    assert bob.post(f"{url}test", data={"csrf_token": token, "membership_id": 1}).status_code == 404


def test_the_coordinator_can_start_a_late_joiner_where_the_others_are(app, ctx, personas, alice_client):
    from tests.conftest import csrf_from
    community = _setup()
    members.add_member(None, community, name="Late Joiner", email="late@example.org")
    db.session.commit()
    membership = db.session.scalar(select(Membership).join(Member).where(Member.email == "late@example.org"))
    url = f"/communities/{community.id}/members/{membership.id}/edit"
    page = alice_client.get(url).get_data(as_text=True)
    assert "2. Module 2" in page
    response = alice_client.post(url, data={"csrf_token": csrf_from(page), "name": "Late Joiner",
                                            "email": "late@example.org", "language": "en", "role": "member",
                                            "digest_frequency": "weekly", "next_module": 2})
    assert response.status_code == 302
    slot = digest_schedule.next_slot(community, datetime.now(UTC) - timedelta(days=8))
    digests.tick(slot + timedelta(minutes=1))
    assert _module_titles_sent("late@example.org") == ["Module 3"]


def test_forms_waiting_for_the_member_appear_with_their_links(app, ctx, personas, smtp):
    from service import form_requests
    community = _setup()
    ana = _member()
    members.set_person_language(ana, "en")  # the person's choice, every community's mail
    form_requests.send_request(None, community, "charter", "Draft our charter", [ana.id],
                               datetime.now(UTC) + timedelta(days=10))
    db.session.commit()
    slot = digest_schedule.next_slot(community, datetime.now(UTC) - timedelta(days=8))
    digests.tick(slot + timedelta(minutes=1))
    run_worker(app)
    digest = [m for m in smtp.to("ana@example.org") if "digest" in (m.message["Subject"] or "")][0].message
    text = digest.get_body(("plain",)).get_content()
    assert "== Waiting for your answer ==" in text and "Draft our charter: http" in text and "/m/forms/" in text
