"""Issue 12 probed after the merge, as a member's mail client and an attacker would: the emails as parsed
back by the standard library, header injection through every value that reaches a header, and the public
forms not yet covered elsewhere with control characters."""
import re
from datetime import datetime, time, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from service import communities, form_requests, lessons, meetings, members
from service.extensions import db
from service.models import Community, Coordinator, Member
from service.tokens import make_token
from tests.conftest import run_worker
from tests.test_input_at_the_door import (DIRT, control_characters_stored, dirty, fill_in,  # noqa: F401 (world)
                                          stored_anywhere, world)

UTC = timezone.utc
MARKDOWN_MARKS = re.compile(r"\*\*|__|^#{1,6} |\]\(|^> |`", re.MULTILINE)
LINKS = re.compile(r"https?://\S+")  # signed tokens in links may hold "__": they are not Markdown


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _ana() -> Member:
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def _parsed(received) -> EmailMessage:
    """The message as a mail client reads it: from the bytes on the wire, with the default policy."""
    return message_from_bytes(received.raw, policy=policy.default)


def _every_kind(app, smtp) -> dict:
    """Riverside sends Ana a welcome, a digest, an invitation, a cancellation and a form request, each with
    Markdown in what a coordinator wrote; {kind: parsed message}."""
    with app.app_context():
        community = _riverside()
        ana = _ana()
        members.set_person_language(ana, "en")  # the person's choice, every community's mail
        alice = db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))
        lesson = lessons.create_lesson(alice, title_en="Sustaining a COP")
        lessons.add_module(alice, lesson, title_en="Leaders", goal_en="Find leaders",
                           body_en="# Why\n\nRead [the guide](https://example.org/guide) and `notes`, **now**.")
        community.lesson_id, community.digest_enabled = lesson.id, True
        community.digest_enabled_at = datetime(2026, 1, 1, tzinfo=UTC)
        members.send_welcome(community, ana)
        day = (datetime.now(UTC) + timedelta(days=30)).date()
        meeting = meetings.create_meeting(None, community, starts_at=meetings.to_utc(community, day, time(18)),
                                          title="Monthly call",
                                          agenda="## Topics\n\n1. **Funding**\n2. [Plan](https://example.org/p)")
        db.session.commit()
        run_worker(app)
        meetings.cancel_meeting(None, db.session.merge(meeting))
        form_requests.send_request(None, _riverside(), "charter", "Our charter", [_ana().id],
                                   meetings.to_utc(_riverside(), day, time(12)))
        db.session.commit()
        from service import digests
        digests.tick(datetime.now(UTC) + timedelta(days=8))
        db.session.commit()
        run_worker(app)
    by_kind = {}
    for received in smtp.to("ana@example.org"):
        message = _parsed(received)
        kind = ("cancellation" if message["Subject"].startswith(("Cancel", "Canceled", "Cancelled"))
                else "invitation" if message["Subject"].startswith("Invitation")
                else "welcome" if "elcome" in message["Subject"]
                else "form request" if "charter" in message["Subject"]
                else "digest")
        by_kind.setdefault(kind, []).append((received, message))
    return by_kind


def test_each_kind_of_member_mail_reads_well_in_a_standard_mail_client(app, personas, smtp):
    by_kind = _every_kind(app, smtp)
    assert set(by_kind) == {"welcome", "digest", "invitation", "cancellation", "form request"}, \
        {kind: [m["Subject"] for _r, m in found] for kind, found in by_kind.items()}
    for kind, found in by_kind.items():
        [(received, message)] = found
        assert message.defects == [] and all(part.defects == [] for part in message.walk()), kind
        assert max(len(line) for line in received.raw.split(b"\r\n")) <= 998, kind
        text = message.get_body(("plain",)).get_content()
        assert text.strip() and not MARKDOWN_MARKS.search(LINKS.sub("", text)), (kind, text)
        if kind != "welcome":  # not bulk mail by design (service/mailer.py's KINDS)
            assert message["List-Unsubscribe"] and \
                message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", kind
        calendars = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        assert len(calendars) == (1 if kind in ("invitation", "cancellation") else 0), kind
    [(_r, invitation)] = by_kind["invitation"]
    assert "Funding" in invitation.get_body(("plain",)).get_content()
    [(_r, cancellation)] = by_kind["cancellation"]
    [calendar] = [p for p in cancellation.walk() if p.get_content_type() == "text/calendar"]
    assert "METHOD:CANCEL" in calendar.get_content() and "RSVP=TRUE" not in calendar.get_content()


# --- header injection: CR/LF in every value that reaches a header ------------------------------------

INJECTED = "Bcc: victim@evil.example"


def _headers(received) -> list[str]:
    head = received.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and line[0] not in " \t"]


def test_cr_lf_in_names_subjects_community_names_and_video_links_never_add_a_header(app, personas, smtp):
    from service import announcements
    with app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        community = communities.create_community(alice, name=f"Harbor\r\n{INJECTED}\r\nCOP",
                                                 time_zone="America/Chicago")
        members.add_member(alice, community, name=f"Rosa\r\n{INJECTED}", email="rosa@example.org",
                           organization=f"Org\r\n{INJECTED}", welcome=True)
        announcements.send_announcement(alice, community, f"News\r\n{INJECTED}", "Body", "n-1")
        db.session.commit()
        day = (datetime.now(UTC) + timedelta(days=30)).date()
        try:
            meetings.create_meeting(alice, community, starts_at=meetings.to_utc(community, day, time(18)),
                                    title=f"Call\r\n{INJECTED}", location=f"Room\r\n{INJECTED}",
                                    video_url=f"https://meet.example/a\r\n{INJECTED}")
        except Exception as error:  # refused at the door is fine; stored and sent is not
            assert "link" in str(error).lower() or "url" in str(error).lower(), error
            db.session.rollback()
            meetings.create_meeting(alice, db.session.merge(community),
                                    starts_at=meetings.to_utc(community, day, time(18)),
                                    title=f"Call\r\n{INJECTED}", location=f"Room\r\n{INJECTED}")
        db.session.commit()
        run_worker(app)
    with app.app_context():
        from service.models import OutboundEmail
        rows = [(r.kind, r.status, r.last_error) for r in db.session.scalars(select(OutboundEmail))]
    received = smtp.to("rosa@example.org")
    assert len(received) >= 3, (rows, [r.message["Subject"] for r in received])
    assert len(received) >= 3, [r.message["Subject"] for r in received]
    assert smtp.to("victim@evil.example") == []
    for one in received:
        assert "Bcc" not in _headers(one), one.raw[:2000]
        assert _parsed(one).defects == []


# --- public forms with control characters, on the real database ---------------------------------------

@pytest.fixture
def ana_links(app, personas):
    with app.app_context():
        community = _riverside()
        ana = _ana()
        day = (datetime.now(UTC) - timedelta(days=2)).date()
        meeting = meetings.create_meeting(None, community, starts_at=datetime.now(UTC) + timedelta(days=3),
                                          title="Call")
        db.session.commit()
        links = {"preferences": f"/m/preferences/{make_token('preferences', ana.id)}",
                 "unsubscribe": f"/m/unsubscribe/{make_token('unsubscribe', ana.id)}",
                 "rsvp": f"/m/meetings/{meeting.id}/rsvp/{make_token('rsvp', ana.id, meeting.id)}",
                 "meeting": meeting.id, "day": day}
        db.session.remove()
    return links


def test_control_characters_in_the_preferences_form_are_cleaned_not_a_500(app, client, ana_links):
    response = fill_in(client, ana_links["preferences"], {"name": dirty("Ana María Torres")})
    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)[:2000]
    with app.app_context():
        assert control_characters_stored() == []
        assert stored_anywhere("Ana María Torres")


@pytest.mark.parametrize("link", ["preferences", "unsubscribe", "rsvp"])
def test_control_characters_in_a_member_link_token_are_the_bad_link_page(client, ana_links, link):
    url = ana_links[link]
    for broken in (url + DIRT, url[:-4] + "%00%00%00%00", url.replace("/m/", "/m/%00", 1)):
        response = client.get(broken)
        assert response.status_code in (400, 404), (broken, response.status_code)
        assert client.post(broken, data={"List-Unsubscribe": "One-Click"}).status_code in (400, 404)


# --- a newcomer's `make run` ------------------------------------------------------------------------------

def test_make_run_on_another_port_prints_it_its_mail_links_lead_there_and_ctrl_c_stops_it_quietly(tmp_path):
    """PORT=5731 `make run` (port 5000 is often taken): the demo's mail must not link to :5000."""
    import mailbox
    import os
    import signal
    import subprocess
    import sys
    import time as clock
    from pathlib import Path
    from urllib.request import urlopen

    from tests.smtp_server import free_port
    port, mail_port = free_port(), free_port()
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "PUBLIC_BASE_URL", "APP_ENV")}
    env.update(PORT=str(port), MAIL_PORT=str(mail_port), INSTANCE_DIR=str(tmp_path), FLASK_APP="wsgi.py")
    process = subprocess.Popen([sys.executable, "-m", "service.embedded"], cwd=Path(__file__).parents[1], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        printed = ""
        while "Press Ctrl-C" not in printed and process.poll() is None:
            printed += process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in printed, printed
        deadline = clock.monotonic() + 90
        while True:  # it prints the address just before it starts listening there
            try:
                assert urlopen(f"http://127.0.0.1:{port}/login", timeout=10).status == 200
                break
            except OSError:
                assert clock.monotonic() < deadline
                clock.sleep(0.2)
        sink = mailbox.Maildir(tmp_path / "mailsink", create=False)
        while not len(sink) and clock.monotonic() < deadline:
            clock.sleep(0.5)
        message = message_from_bytes(sink.get_bytes(next(iter(sink.keys()))), policy=policy.default)
        links = message["List-Unsubscribe"] + message.get_body(("plain",)).get_content()
        assert f"http://127.0.0.1:{port}/m/" in links and "127.0.0.1:5000" not in links, links
        clock.sleep(1)  # the worker and the scheduler at rest, as after a look at the Outbox
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in its terminal: to every process of the foreground group
        said = process.communicate(timeout=60)[0]
    assert process.returncode == 0 and "Traceback" not in said, said  # it stops everything it started, quietly


# --- NUL in every query string and path text, on the real database --------------------------------------

def _get_urls(app, world) -> list[str]:
    """Every GET route of the app with real ids from `world`, a NUL in each text argument."""
    ids = {"community_id": world["r"], "meeting_id": world["meeting"], "membership_id": world["membership"],
           "practice_id": world["practice"], "lesson_id": world["lesson"], "module_id": world["module"],
           "charter_id": world["charter"], "response_id": world["response"], "email_id": 1, "import_id": 1,
           "request_id": 1, "form_request_id": 1, "intake_entry_id": 1, "inbound_message_id": world["inbound"],
           "community_coordinator_id": 1, "attachment_id": 1}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {name: ids.get(name, "a\x00b") for name in rule.arguments}
        if "direction" in values:
            values["direction"] = "up"
        if "action" in values and rule.endpoint != "member_links.test_copy":
            continue
        with app.test_request_context():
            from flask import url_for
            urls.append(url_for(rule.endpoint, **values))
    return urls


def test_a_nul_in_any_query_string_or_path_text_is_never_a_500(app, client, world):
    from tests.conftest import PASSWORD, login
    login(client, "alice@example.org", PASSWORD)
    junk = "?q=%00&page=%00&status=%00&kind=%00&community=%00&community_id=%00&next=%00&lang=%00&answer=%00"
    failures, urls = [], _get_urls(app, world)
    assert len(urls) > 50
    for url in urls:
        for tried in (url, url + junk):
            status = client.get(tried).status_code
            if status >= 500 and not tried.startswith("/readyz"):  # its 503 says no worker runs here
                failures.append((tried, status))
    assert failures == []


def test_a_nul_a_far_date_or_a_huge_id_in_any_posted_field_of_any_form_is_never_a_500(app, client, world):
    from flask import url_for

    from tests.conftest import PASSWORD, csrf_from, login
    login(client, "alice@example.org", PASSWORD)
    token = csrf_from(client.get("/communities/new").get_data(as_text=True))
    ids = {"community_id": world["r"], "meeting_id": world["meeting"], "membership_id": world["membership"],
           "practice_id": world["practice"], "lesson_id": world["lesson"], "module_id": world["module"],
           "charter_id": world["charter"], "response_id": world["response"], "email_id": 1, "import_id": 1,
           "request_id": 1, "form_request_id": 1, "intake_entry_id": 1, "inbound_message_id": world["inbound"],
           "community_coordinator_id": 1}
    tokens = {"rsvp.answer": world["rsvp"], "rsvp.feedback": world["rsvp"], "charter_links.show": world["vote"],
              "form_links.answer": world["form"], "intake_public.join": world["join"],
              "practice_links.share": world["share"]}
    fields = """agenda all_yes attended availability body body_en body_es comment contact_ok deadline_date deadline_time
        description digest_cadence digest_enabled digest_frequency digest_hour digest_weekday duration_minutes email
        facilitator_id feedback_delay_hours goal_en goal_es hopes invite_all keep_read_only kind language lesson_id location
        meeting_id member_ids membership_id name next_module nonce note organization password paused
        practice_prompt_en reason reflection_en reminder_offsets role save save_draft send_to_all send_welcome stage
        start_date start_time subject submit summary_en time_zone title title_en topics video_url website
        what_happened what_we_did answer decision action purpose""".split()  # every form field's name
    numbers = ("_id", "_ids", "_module", "_hour", "_weekday", "_minutes", "_hours", "_offsets", "attended")
    nul = {"csrf_token": token, **{field: "x\x00y" for field in fields}}
    far = {**nul, **{field: "9999-12-31" for field in fields if field.endswith("_date")},
           **{field: "23:59" for field in fields if field.endswith("_time")},
           **{field: "99999999999999999999" for field in fields if field.endswith(numbers)},
           "facilitator_id": "-99999999999999999999"}
    failures = []
    for (rule, data) in ((rule, data) for rule in app.url_map.iter_rules() for data in (nul, far)):
        if "POST" not in rule.methods or rule.endpoint in ("auth.logout",):
            continue
        values = {name: ids.get(name, tokens.get(rule.endpoint, "a\x00b")) for name in rule.arguments}
        values.update({"action": "deactivate"} if "action" in values else {},
                      **({"direction": "up"} if "direction" in values else {}))
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        status = client.post(url, data=data).status_code
        if status >= 500:
            failures.append((url, status))
    assert failures == []
    with app.app_context():
        assert control_characters_stored() == []


def test_lines_in_an_agenda_location_or_title_never_add_an_event_or_attendee_to_the_invitation(app, personas,
                                                                                               smtp):
    from icalendar import Calendar
    smuggled = "\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nATTENDEE;RSVP=TRUE:mailto:victim@evil.example\r\n"
    with app.app_context():
        community = _riverside()
        meetings.create_meeting(None, community, starts_at=datetime.now(UTC) + timedelta(days=5),
                                title=f"Call{smuggled}", location=f"Room{smuggled}", agenda=f"Intro{smuggled}Close")
        db.session.commit()
        run_worker(app)
    [received] = smtp.to("ana@example.org")
    [part] = [p for p in _parsed(received).walk() if p.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    attendees = event.get("ATTENDEE")
    assert [str(a) for a in (attendees if isinstance(attendees, list) else [attendees])] == ["mailto:ana@example.org"]
    assert "Close" in str(event["DESCRIPTION"])


# --- item 1: what another community calls a person stays there -------------------------------------------

def test_a_refused_bounce_lift_names_the_person_as_this_community_knows_them(app, alice_client, personas):
    """Ben is Bob's "Ben Lake"; Alice added his address as "Benjamin L": her page never shows Bob's name."""
    from service import bounces
    from tests.conftest import post_form
    with app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        riverside = db.session.get(Community, personas["riverside"])
        membership = members.add_member(alice, riverside, name="Benjamin L", email="ben@example.org")
        bounces.record_bounce(membership.member, "hard", "SMTP 550 5.1.1 User unknown")
        db.session.commit()
        url = f"/outbox/communities/{riverside.id}/memberships/{membership.id}/lift-bounce"
    response = post_form(alice_client, f"/communities/{personas['riverside']}", {}, post_url=url)
    page = alice_client.get(response.location).get_data(as_text=True)
    assert "Benjamin L also belongs to another coordinator" in page and "Ben Lake" not in page


@pytest.mark.parametrize("page, values", [
    ("/communities/{r}/edit", {"feedback_delay_hours": "99999999999999999999"}),
    ("/communities/{r}/edit", {"reminder_offsets": "99999999999999999999"}),
    ("/communities/{r}/edit", {"reminder_offsets": "-1, 1e9, 24"}),
    ("/communities/{r}/digest/", {"digest_hour": "99999999999999999999"}),
    ("/communities/{r}/meetings/new", {"title": "Call", "start_date": "2030-01-01", "start_time": "18:00",
                                      "duration_minutes": "99999999999999999999"}),
    ("/communities/{r}/meetings/new", {"title": "Call", "start_date": "2030-01-01", "start_time": "18:00",
                                      "duration_minutes": "2147483647"}),
    ("/communities/{r}/meetings/{meeting}/edit", {"duration_minutes": "99999999999999999999"}),
], ids=["feedback delay", "reminder offset", "reminder offsets", "digest hour", "meeting duration",
        "meeting duration int max", "meeting edit duration"])
def test_a_huge_number_in_an_otherwise_good_form_is_a_form_error_not_a_500(app, alice_client, world, page, values):
    response = fill_in(alice_client, page.format(**world), values)
    assert response.status_code in (200, 302, 400), response.get_data(as_text=True)[:3000]
    if response.status_code == 302:  # taken: then the page it leads to shows it
        assert alice_client.get(response.location).status_code == 200


def test_an_announcement_with_a_very_long_link_and_line_breaks_reads_back_whole(app, personas, smtp):
    from service import announcements
    link = "https://example.org/" + "a" * 3000
    with app.app_context():
        announcements.send_announcement(None, _riverside(), "News " * 29,
                                        f"First line\nsecond line\n\nSee {link} now", "long-1")
        db.session.commit()
        run_worker(app)
    [received] = smtp.to("ana@example.org")
    assert max(len(line) for line in received.raw.split(b"\r\n")) <= 998
    message = _parsed(received)
    assert message.defects == [] and all(part.defects == [] for part in message.walk())
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert link in text  # an announcement is plain text: its words as typed, a link unbroken
    assert f'href="{link}"' in html and "<br" in html
    assert message["Subject"] == ("News " * 29).strip()


def test_the_outbox_shows_a_shared_members_mail_with_links_that_act_as_nobody(app, personas, alice_client, tmp_path):
    """Embedded mode shows each email as sent; Ben's own preferences link there would let Alice rename him in
    Bob's community too, and his unsubscribe link would stop Bob's mail to him."""
    from service import announcements
    from service.models import OutboundEmail, Suppression
    from tests.test_outbox_page import embedded_sink
    with embedded_sink(app, tmp_path), app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        riverside = db.session.get(Community, personas["riverside"])
        members.add_member(alice, riverside, name="Benjamin L", email="ben@example.org")
        announcements.send_announcement(alice, riverside, "News", "Hello all", "n-1")
        db.session.commit()
        run_worker(app)
        row_id = db.session.scalar(select(OutboundEmail.id).where(OutboundEmail.recipient == "ben@example.org"))
    shown = alice_client.get(f"/outbox/{row_id}").get_data(as_text=True)
    html = alice_client.get(f"/outbox/{row_id}/html").get_data(as_text=True)
    assert "Benjamin L" in shown and "/m/test-copy/member_links.preferences" in shown + html
    leaked = [link for link in re.findall(r"/m/[^\s\"'<>&]+", shown + html) if not link.startswith("/m/test-copy/")]
    assert leaked == []
    for path in ("/m/test-copy/member_links.preferences", "/m/test-copy/member_links.unsubscribe"):
        assert "This is a test copy" in alice_client.get(path).get_data(as_text=True)
        alice_client.post(path, data={"name": "Renamed by Alice", "List-Unsubscribe": "One-Click"})
    with app.app_context():
        ben = db.session.scalar(select(Member).where(Member.email == "ben@example.org"))
        assert ben.name == "Ben Lake" and db.session.scalars(select(Suppression)).all() == []


@pytest.mark.parametrize("name", ['Eve <eve@evil.example>, "Mallory" <m@evil.example>', 'Ana "the boss", Torres',
                                  "=?utf-8?q?victim=40evil.example?=", "Ana\\\" <x@evil.example>"])
def test_a_name_that_looks_like_addresses_leaves_one_recipient_in_to(app, personas, smtp, name):
    with app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        members.add_member(alice, _riverside(), name=name, email="rosa@example.org", welcome=True)
        db.session.commit()
        run_worker(app)
    [received] = smtp.to("rosa@example.org")
    message = _parsed(received)
    assert received.rcpt_tos == ["rosa@example.org"] and message.defects == []
    [address] = message["To"].addresses
    assert (address.addr_spec, address.display_name) == ("rosa@example.org", name)
