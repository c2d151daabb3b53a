"""A member who never logs in, from the invitation to the unsubscribe, through the service as it is deployed.

Everything runs in tests/production_stack.py's process set (nginx over TLS, gunicorn, two workers, cron, the
MX, an SMTP server catching our mail) on a database migrated from nothing. The coordinator works in Chromium
on the dashboard; the member only reads the mail our SMTP server received, follows its links in Chromium, and
writes to our MX as their provider would: a calendar's Accept (an iTIP REPLY to the invitation's ORGANIZER),
a plain reply, a post to the community's address, and the List-Unsubscribe mailto.

Nothing is made due by writing rows: the coordinator sets the community's reminder to one minute before its
meetings, the feedback request to the meeting's end, and schedules a five-minute meeting starting in three or
four minutes; the journey then waits for the product's own clock (about ten minutes in all).
"""
import re
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import create_engine, text

from tests.browser import watched_page
from tests.production_stack import (PASSWORD, PUBLIC_BASE_URL, ProductionStack, chromium_for, links_in, reply_to,
                                    text_of)
from tests.worker_process import wait_until

ZONE = "America/Chicago"
COORDINATOR = "carmen@tta.example.org"
ANA = "ana.torres@casaverde.example.net"
BEN = "ben.lake@lakeorg.example.net"
TITLE, TITLE_ES = "Monthly call", "Llamada mensual"


def tab(browser, **options):
    """A tab of its own (cookies and all) on the public site, its problems recorded in `page.problems`."""
    return watched_page(browser, PUBLIC_BASE_URL, ignore_https_errors=True, locale="en-US", **options)


def log_in(page, email: str = COORDINATOR) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def until_shown(page, path: str, selector: str, wanted: str, timeout: float = 60) -> None:
    """Reload `path` until `selector` contains `wanted`, as a coordinator refreshing the page would."""
    def shown():
        page.goto(path)
        return wanted in (page.locator(selector).first.text_content() or "")
    wait_until(shown, timeout, f"{wanted!r} in {selector} of {path}", interval=1)


def link_to(message: EmailMessage, part: str) -> str:
    found = [link for link in links_in(message) if part in link]
    assert found, (part, links_in(message))
    return found[0]


def calendar_answer(invitation: EmailMessage, partstat: str, sender: str, client: str) -> EmailMessage:
    """What Gmail's or Outlook's calendar mails back when the member presses Accept / Decline / Maybe: an iTIP
    REPLY built from our invitation's event, to its ORGANIZER (our signed calendar address)."""
    part = next(p for p in invitation.walk() if p.get_content_type() == "text/calendar")
    event = next(c for c in icalendar.Calendar.from_ical(part.get_content()).walk() if c.name == "VEVENT")
    organizer = str(event["ORGANIZER"]).removeprefix("mailto:")
    answer = icalendar.Calendar()
    answer.add("prodid", "-//Google Inc//Google Calendar 70.9054//EN" if client == "gmail"
               else "Microsoft Exchange Server 2010")
    answer.add("version", "2.0")
    answer.add("method", "REPLY")
    reply_event = icalendar.Event()
    for name in ("UID", "SEQUENCE", "DTSTART", "DTEND", "ORGANIZER", "SUMMARY"):
        reply_event.add(name, event[name])
    reply_event.add("dtstamp", datetime.now(timezone.utc))
    attendee = icalendar.vCalAddress(f"mailto:{sender}")
    attendee.params["partstat"], attendee.params["cn"] = partstat, "Ana Torres"
    reply_event.add("attendee", attendee)
    answer.add_component(reply_event)
    ics = answer.to_ical().decode()
    verb = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentative"}[partstat]
    message = EmailMessage()
    message["From"] = f"Ana Torres <{sender}>"
    message["To"] = organizer
    message["Subject"] = f"{verb}: {event['SUMMARY']}"
    message["Message-ID"] = make_msgid(domain="google.com" if client == "gmail" else "outlook.com")
    message["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    message.set_content(f"Ana Torres has {verb.lower()} this invitation.")
    message.add_alternative(f"<p>Ana Torres has {verb.lower()} this invitation.</p>", subtype="html")
    message.add_alternative(ics, subtype="calendar", params={"method": "REPLY"})
    if client == "gmail":  # Gmail adds the same REPLY as an invite.ics attachment
        message.add_attachment(ics.encode(), maintype="application", subtype="ics", filename="invite.ics")
    return message


def plain_mail(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = make_msgid(domain="member.example.net")
    message["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    message.set_content(body)
    return message


def outbox(stack: ProductionStack) -> list[tuple[str, str, str]]:
    """(recipient, kind, status) of every outbox row, oldest first."""
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "SELECT recipient, kind, status FROM outbound_email ORDER BY id"))]
    finally:
        engine.dispose()


def set_up_community(page) -> int:
    """The coordinator's part, kept short: a community whose reminders go a minute before each meeting and
    whose feedback request goes when the meeting ends, where posts go out without waiting, and two members."""
    page.goto("/communities/new")
    page.get_by_label("Name", exact=True).fill("Riverside COP")
    page.get_by_label("Time zone").select_option(ZONE)
    page.get_by_label("Reminders, in minutes before each meeting").fill("1")
    page.get_by_label("Hours after a meeting to ask attendees for feedback").fill("0")
    page.get_by_label("No post waits: every member's post goes out at once").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/communities/\d+$"))
    community = int(page.url.rsplit("/", 1)[1])
    add_members(page, community, (("Ana Torres", ANA, "Casa Verde"), ("Ben Lake", BEN, "Lake Org")))
    return community


def add_members(page, community: int, people) -> None:
    """Add each (name, email, organization) on the member page, without a welcome email."""
    for name, email, organization in people:
        page.goto(f"/communities/{community}/members/new")
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Organization").fill(organization)
        page.get_by_label("Send a welcome email").uncheck()
        page.get_by_role("button", name="Add member").click()
        page.wait_for_url(re.compile(rf"/communities/{community}(/members)?/?(\?.*)?$"))


def schedule_meeting(page, community: int) -> tuple[int, datetime]:
    """A five-minute meeting starting three to four minutes from now (whole minutes, as the form takes them):
    time for three answers before the reminder, on a busy machine too."""
    starts = (datetime.now(timezone.utc) + timedelta(minutes=4)).replace(second=0, microsecond=0)
    local = starts.astimezone(ZoneInfo(ZONE))
    page.goto(f"/communities/{community}/meetings/new")
    page.get_by_label("Title in English").fill(TITLE)
    page.get_by_label("Title in Spanish").fill(TITLE_ES)
    page.get_by_label("Date", exact=True).fill(local.strftime("%Y-%m-%d"))
    page.get_by_label("Start time").fill(local.strftime("%H:%M"))
    page.get_by_label("Duration (minutes)").fill("5")
    page.get_by_role("button", name="Schedule and send invitations").click()
    page.wait_for_url(re.compile(rf"/communities/{community}/meetings/\d+$"))
    assert "2 invitations are on their way" in page.locator("body").inner_text()
    return int(page.url.rsplit("/", 1)[1]), starts


@pytest.mark.browser
@pytest.mark.journey
@pytest.mark.timeout(900)
def test_a_member_who_never_logs_in_takes_part_by_email_until_unsubscribing(app, database_url, redis_url,
                                                                            tmp_path):
    with ProductionStack(database_url, redis_url, tmp_path, "cop_journey_member") as stack, \
            chromium_for(stack) as browser:
        stack.create_account(COORDINATOR, "Carmen Ortiz", admin=True)
        with tab(browser) as coordinator, tab(browser) as ana_browser:
            log_in(coordinator)
            community = set_up_community(coordinator)
            meeting, starts = schedule_meeting(coordinator, community)
            meeting_page = f"/communities/{community}/meetings/{meeting}"

            # 1. The invitation arrives, in English, with a calendar part; Ana presses Accept in Gmail.
            invitation = stack.wait_for_mail(ANA, f"Invitation: {TITLE}")
            assert any(p.get_content_type() == "text/calendar" for p in invitation.walk())
            stack.send_mail(calendar_answer(invitation, "ACCEPTED", ANA, "gmail"))
            until_shown(coordinator, meeting_page, "#answer-yes", "Ana Torres")

            # 2. She replies to the invitation in plain words: the answer becomes No, and a confirmation says so.
            stack.send_mail(reply_to(invitation, "Sorry, I can't make it after all.", f"Ana Torres <{ANA}>"))
            confirmation = stack.wait_for_mail(ANA, f"Your answer is saved: {TITLE}")
            assert f'you will not come to "{TITLE}"' in text_of(confirmation)
            until_shown(coordinator, meeting_page, "#answer-no", "Ana Torres")

            # 3. Plans change again: Accept from Outlook's calendar (no confirmation mail: the calendar shows it).
            stack.send_mail(calendar_answer(invitation, "ACCEPTED", ANA, "outlook"))
            until_shown(coordinator, meeting_page, "#answer-yes", "Ana Torres")
            assert datetime.now(timezone.utc) < starts - timedelta(minutes=1), "too slow: the reminder is due"

            # 4. The reminder, a minute before the start, reaches both invitees who did not say No.
            reminder = stack.wait_for_mail(ANA, f"Reminder: {TITLE}", timeout=240)
            stack.wait_for_mail(BEN, f"Reminder: {TITLE}")
            assert TITLE in text_of(reminder)

            # 5. The meeting starts; the coordinator takes attendance (Ana, who said Yes, is ticked already).
            wait_until(lambda: datetime.now(timezone.utc) >= starts + timedelta(seconds=2), 240,
                       "the meeting to start", interval=1)
            coordinator.goto(f"{meeting_page}/attendance")
            assert coordinator.get_by_label("Ana Torres").is_checked()
            assert not coordinator.get_by_label("Ben Lake").is_checked()
            coordinator.get_by_role("button", name="Save attendance").click()
            coordinator.wait_for_url(re.compile(rf"{meeting_page}$"))

            # 6. While the meeting runs, Ana chooses monthly digests and Spanish from her preferences link.
            ana_browser.goto(link_to(reminder, "/m/preferences/"))
            ana_browser.get_by_label("Monthly", exact=True).check()
            ana_browser.get_by_label("Español", exact=True).check()
            ana_browser.get_by_role("button", name="Save my choices").click()
            assert ana_browser.get_by_role("status").first.inner_text().strip() != ""
            assert ana_browser.locator("html").get_attribute("lang") == "es"
            assert ana_browser.get_by_label("Mensual", exact=True).is_checked()

            # 7. She writes to the community's address from her footer: Ben receives her post.
            footer = re.search(r"Write to everyone in the community: (\S+@\S+)", text_of(reminder))
            assert footer, text_of(reminder)
            address = footer.group(1)
            stack.send_mail(plain_mail(f"Ana Torres <{ANA}>", address, "Our new intake form",
                                       "We moved our food pantry's intake to a one-page form. Happy to share it."))
            post = stack.wait_for_mail(BEN, "Our new intake form")
            assert "one-page form" in text_of(post) and "Ana Torres" in str(post["From"])

            # 8. The meeting ends: the feedback request comes, in Spanish, the first email since her choice.
            request = stack.wait_for_mail(ANA, TITLE_ES, timeout=420)
            assert str(request["Subject"]) == f"¿Qué tal estuvo “{TITLE_ES}”?"
            assert [str(m["Subject"]) for m in stack.mail_to(ANA)][-1] == str(request["Subject"])
            ana_browser.goto(link_to(request, "/feedback/"))
            assert ana_browser.locator("html").get_attribute("lang") == "es"
            ana_browser.locator("label[for=usefulness-4]").click()
            ana_browser.locator("label[for=recommend-9]").click()
            ana_browser.locator("#what_worked").fill("Las historias de otras organizaciones.")
            ana_browser.locator("button[name=submit]").click()
            assert ana_browser.get_by_role("status").first.is_visible()
            assert "Las historias de otras organizaciones." in ana_browser.locator("dl.answers").inner_text()

            # 9. Her mail client's Unsubscribe uses the List-Unsubscribe mailto; the MX acts on it.
            mailto = re.search(r"<mailto:([^>?]+)\?subject=unsubscribe>", str(request["List-Unsubscribe"])).group(1)
            stack.send_mail(plain_mail(ANA, mailto, "unsubscribe", "unsubscribe"))
            until_shown(coordinator, f"/communities/{community}/members/", "tr:has-text('Ana Torres')", "unsubscribed")

            # 10. The coordinator writes to the community: Ben gets it, Ana nothing more.
            coordinator.goto(f"/communities/{community}/announcements/new")
            coordinator.get_by_label("Subject in English").fill("Notes from the monthly call")
            coordinator.get_by_label("Message in English").fill("Thank you all for coming.")
            coordinator.get_by_role("button", name="Send now").click()
            stack.wait_for_mail(BEN, "Notes from the monthly call")
            mail_to_ana = [str(m["Subject"]) for m in stack.mail_to(ANA)]
            assert mail_to_ana == [f"Invitation: {TITLE}", f"Your answer is saved: {TITLE}", f"Reminder: {TITLE}",
                                   f"¿Qué tal estuvo “{TITLE_ES}”?"]
            assert coordinator.problems == [] and ana_browser.problems == [], \
                (coordinator.problems, ana_browser.problems)

        # Every row went out, except the announcement's copy to Ana, kept back because she unsubscribed.
        rows = outbox(stack)
        assert [r for r in rows if r[2] != "sent"] == [(ANA, "announcement", "suppressed")], rows
        assert sorted((r[0], r[1]) for r in rows if r[2] == "sent") == sorted([
            (ANA, "meeting_invitation"), (BEN, "meeting_invitation"), (ANA, "reply_rsvp"),
            (ANA, "meeting_reminder"), (BEN, "meeting_reminder"), (BEN, "conversation_post"),
            (ANA, "feedback_request"), (BEN, "announcement")]), rows
        assert len(stack.mail_to(BEN)) == 4
