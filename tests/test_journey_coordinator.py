"""The coordinator's journey, as an organization runs the service (issue 18, item 1).

From an empty database migrated by the guide's commands, through nginx, gunicorn, two workers, cron, the MX and
a real SMTP server (tests/production_stack.py): the admin account made by `flask users create` logs in with
Chromium, creates a community, invites a co-coordinator (who accepts from the invitation email and logs in),
imports members from a CSV file with welcome emails, shares the interest form and sends the charter form, gets
a charter ratified by members' links and replies, schedules a meeting, records attendance, reads the feedback
charts once attendees answered from their email, hands the community to a member leader (who gets the role
email and logs in) and exports it. Members act only by email: links from their messages followed in Chromium,
replies delivered to our MX. After 08:00 UTC the coordinators also get the day's "what needs you" email while
the interest form's entry waits; before it, none.

Production time is not faked, so the journey lasts at least the meeting's lead time (about two minutes) plus
its shortest duration (five minutes): attendance needs the meeting started, and the feedback request goes at
its end (the community's feedback delay set to 0 hours). About 8 minutes on a quiet machine.
"""
import io
import re
import time
import zipfile
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from service import needs_you
from tests.browser import watched_page
from tests.production_stack import (PASSWORD, PUBLIC_BASE_URL, ProductionStack, chromium_for, links_in, reply_to,
                                    text_of)

pytestmark = [pytest.mark.browser, pytest.mark.journey]

ZONE = "America/Chicago"
ADMIN = "alice@example.org"
CO_COORDINATOR = "carla@example.org"
CARLA_PASSWORD = "carla's own long password"
LEADER_PASSWORD = "ben leads with a long password"
# name, email, organization, language, role: the CSV the coordinator uploads.
MEMBERS = [("Ana Torres", "ana@example.net", "Casa Verde", "es", "member"),
           ("Ben Okafor", "ben@example.net", "Riverside Food Bank", "en", "member"),
           ("Chen Wu", "chen@example.net", "Northside Pantry", "en", "member"),
           ("Dee Santos", "dee@example.net", "Casa Verde", "en", "facilitator")]
PROSPECT = "pat@example.net"
CHARTER_EN = """## Purpose

Share what works for small food pantries.

## How we decide

By consensus at our monthly meeting.
"""
CHARTER_ES = """## Propósito

Aprender juntas cómo servir mejor a las familias.

## Cómo decidimos

Por consenso en nuestra reunión mensual.
"""


def log_in(page, email: str, password: str) -> None:
    from playwright.sync_api import expect
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def link_to(message, fragment: str) -> str:
    """The one link of the message's plain text whose address contains `fragment`, on our public address."""
    found = [link for link in links_in(message) if fragment in link]
    assert found, f"no link with {fragment!r} in:\n{text_of(message)}"
    assert found[0].startswith(PUBLIC_BASE_URL + "/"), found[0]
    return found[0]


def wait_for_moment(moment: datetime) -> None:
    """Sleep until `moment` has passed: production time is not faked."""
    while (left := (moment - datetime.now(moment.tzinfo)).total_seconds()) > -1:
        time.sleep(min(left + 1.5, 10))


@pytest.mark.timeout(1200)  # about 8 minutes alone, up to 11 seen with the machine loaded
def test_a_coordinator_runs_a_community_from_an_empty_database_to_its_export(app, database_url, redis_url,
                                                                            tmp_path):
    from playwright.sync_api import expect

    with ProductionStack(database_url, redis_url, tmp_path) as stack, chromium_for(stack) as browser:
        def tab(**options):
            return watched_page(browser, PUBLIC_BASE_URL, locale="en-US", ignore_https_errors=True,
                                viewport={"width": 1280, "height": 900}, **options)

        started = time.monotonic()

        def step(name: str) -> None:
            """Where the journey is, with the time it took to get there, for a failure's report."""
            print(f"{time.monotonic() - started:6.1f}s {name}", flush=True)

        expected: list[tuple[str, str]] = []  # (recipient, subject) of every email the journey waited for

        def expect_mail(address: str, subject, timeout: float = 120):
            message = stack.wait_for_mail(address, subject, timeout=timeout)
            expected.append((address, str(message["Subject"])))
            return message

        def invite_to_run(page, email: str, name: str, role: str):
            """From the community's page, invite a person to help run it; the invitation they are emailed."""
            page.get_by_role("link", name="Invite a coordinator or leader, change roles").click()
            page.get_by_label("Email", exact=True).fill(email)
            page.get_by_label("Name", exact=True).fill(name)
            page.get_by_label("Role", exact=True).select_option(role)
            page.get_by_role("button", name="Send the invitation").click()
            expect(page.get_by_role("status")).to_have_text(f"{email} is invited: we emailed them.")
            return expect_mail(email, "You are invited to help run Riverside COP")

        def set_password_from(page, invitation, password: str) -> None:
            page.goto(link_to(invitation, "/invitation/"))
            page.get_by_label("New password", exact=True).fill(password)
            page.get_by_label("The same password again").fill(password)
            page.get_by_role("button", name="Set the password").click()
            expect(page.get_by_role("status")).to_have_text("Welcome! Your password is set.")

        stack.create_account(ADMIN, "Alice Admin", admin=True)

        with tab(accept_downloads=True) as alice:
            # --- the first community, from nothing ------------------------------------------------
            step('the first community, from nothing')
            log_in(alice, ADMIN, PASSWORD)
            alice.get_by_role("link", name="New community").first.click()
            alice.get_by_label("Name").fill("Riverside COP")
            alice.get_by_label("Time zone").select_option(ZONE)
            alice.get_by_label("Hours after a meeting to ask attendees for feedback").fill("0")
            alice.get_by_role("button", name="Save").click()
            expect(alice.get_by_role("heading", name="Riverside COP", level=1)).to_be_visible()
            community_path = re.search(r"/communities/\d+", alice.url).group(0)

            # --- a co-coordinator, invited by email ---------------------------------------------------------
            step("a co-coordinator, invited by email")
            invitation = invite_to_run(alice, CO_COORDINATOR, "Carla Cruz", "coordinator")
            with tab() as carla:
                set_password_from(carla, invitation, CARLA_PASSWORD)
                carla.get_by_role("button", name="Log out").click()
                log_in(carla, CO_COORDINATOR, CARLA_PASSWORD)
                carla.get_by_role("link", name="Riverside COP").click()
                expect(carla.get_by_role("heading", name="Riverside COP", level=1)).to_be_visible()
                assert carla.problems == []
            alice.reload()
            expect(alice.locator("table.people")).to_contain_text(CO_COORDINATOR)
            expect(alice.locator("table.people")).not_to_contain_text("invited, no password yet")

            # --- members from a CSV file, each welcomed ------------------------------------------

            step('members from a CSV file, each welcomed')
            alice.goto(community_path)
            alice.get_by_role("link", name="Import members from CSV").click()
            csv = "name,email,organization,language,role\n" + "".join(",".join(row) + "\n" for row in MEMBERS)
            alice.get_by_label("CSV file").set_input_files(
                {"name": "members.csv", "mimeType": "text/csv", "buffer": csv.encode()})
            alice.get_by_role("button", name="Check the file").click()
            expect(alice.locator("p.summary")).to_have_text("4 rows read: 4 ready to import, 0 with problems.")
            expect(alice.get_by_label(re.compile("Send each new member the welcome email"))).to_be_checked()
            alice.get_by_role("button", name="Import 4 members").click()
            expect(alice.get_by_role("status")).to_contain_text("4 members imported", timeout=60_000)
            for _name, email, _org, language, _role in MEMBERS:
                expect_mail(email, "Bienvenida a Riverside COP" if language == "es" else "Welcome to Riverside COP")

            # --- a meeting a few minutes from now (it must have started before attendance can be taken) ---

            step('a meeting a few minutes from now (it must have started before attendance can be taken)')
            starts = (datetime.now(ZoneInfo(ZONE)) + timedelta(minutes=2)).replace(second=0, microsecond=0)
            alice.goto(community_path)
            alice.get_by_role("link", name="Meetings").first.click()
            alice.get_by_role("link", name="Schedule a meeting").click()
            alice.get_by_label("Title in English").fill("Sharing pantry schedules")
            alice.get_by_label("Title in Spanish").fill("Compartir horarios de despensas")
            alice.get_by_label("Date", exact=True).fill(starts.strftime("%Y-%m-%d"))
            alice.get_by_label("Start time", exact=True).fill(starts.strftime("%H:%M"))
            alice.get_by_label("Duration (minutes)").fill("5")
            alice.get_by_label("Place", exact=True).fill("Riverside Library, room 2")
            alice.get_by_role("button", name="Schedule and send invitations").click()
            expect(alice.get_by_role("status")).to_have_text("Meeting scheduled. 4 invitations are on their way.")
            meeting_path = urlsplit(alice.url).path
            for _name, email, _org, language, _role in MEMBERS:
                expect_mail(email, "Invitación: Compartir horarios de despensas" if language == "es"
                            else "Invitation: Sharing pantry schedules")

            # --- the interest form: its public link, shared; the prospect's answers accepted -----

            step("the interest form: its public link, shared; the prospect's answers accepted")
            alice.goto(community_path)
            alice.get_by_role("link", name=re.compile(r"Interest form \(0 waiting\)")).click()
            public_link = alice.locator("#public-link").input_value()
            assert public_link.startswith(PUBLIC_BASE_URL + "/join/"), public_link
            with tab() as pat:
                pat.goto(public_link)
                pat.get_by_label("Your name").fill("Pat Rivera")
                pat.get_by_label("Email address").fill(PROSPECT)
                pat.get_by_label("Organization").fill("Eastside Kitchen")
                pat.get_by_label("What do you hope to learn?").fill("How other pantries schedule volunteers")
                pat.wait_for_timeout(2500)  # the form refuses answers sent faster than a person types them
                pat.get_by_role("button", name="Send").click()
                expect(pat.get_by_role("status")).to_have_text("We received your answers.")
                assert pat.problems == [], pat.problems
            expect_mail(PROSPECT, "We received your interest in Riverside COP")
            if datetime.now(timezone.utc).hour >= needs_you.DUE_FROM_HOUR:
                # The day's "what needs you" email, which the cron process queues while an entry waits.
                summaries = {address: expect_mail(address, "What needs you in Riverside COP")
                             for address in (ADMIN, CO_COORDINATOR)}
                for summary in summaries.values():
                    assert "Interest form entries to review: 1" in text_of(summary), text_of(summary)
                alice.goto(link_to(summaries[ADMIN], "/intake"))
            else:
                alice.reload()
            expect(alice.locator("#pending")).to_have_text("1 person waiting for review")
            alice.get_by_role("button", name="Accept and welcome").click()
            expect(alice.get_by_role("status")).to_have_text("Pat Rivera is now a member. A welcome email is on its way.")
            expect_mail(PROSPECT, "Welcome to Riverside COP")

            # --- the charter form, answered from members' links ----------------------------------

            step("the charter form, answered from members' links")
            alice.goto(community_path)
            alice.get_by_role("link", name="Forms").first.click()
            alice.get_by_role("link", name="Send a form").click()
            alice.get_by_label("Title in English").fill("Our charter, first draft")
            alice.get_by_label("Title in Spanish").fill("Nuestro estatuto, primer borrador")
            deadline = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=7)
            alice.get_by_label("Deadline date").fill(deadline.isoformat())
            alice.get_by_label("Deadline time").fill("18:00")
            alice.get_by_role("button", name="Send the form").click()
            expect(alice.get_by_role("status")).to_have_text("Form sent. 5 emails are on their way.")
            charter_form = {}
            for name, email, _org, language, _role in MEMBERS + [("Pat Rivera", PROSPECT, "", "en", "")]:
                charter_form[email] = expect_mail(
                    email, "Ayude a escribir nuestra carta constitutiva: Nuestro estatuto, primer borrador"
                    if language == "es" else "Help write our charter: Our charter, first draft")
            for email, purpose in (("ana@example.net", "Aprender juntas cómo servir mejor a las familias"),
                                   ("ben@example.net", "Share what works for small food pantries")):
                with tab() as member:
                    member.goto(link_to(charter_form[email], "/m/forms/"))
                    member.locator("#purpose").fill(purpose)
                    member.locator("button[name=submit]").click()
                    expect(member.locator("dl.answers")).to_contain_text(purpose)
                    assert member.problems == [], member.problems

            # --- the charter: drafted from the answers, proposed, voted by links and by replies, ratified ---

            step('the charter: drafted from the answers, proposed, voted by links and by replies, ratified')
            alice.goto(community_path)
            alice.get_by_role("link", name="Charter").first.click()
            expect(alice.locator("#draft")).to_contain_text("2 members answered the charter questions.")
            expect(alice.locator("#section-purpose")).to_contain_text("Share what works for small food pantries")
            alice.get_by_label("Charter text in English (Markdown)").fill(CHARTER_EN)
            alice.get_by_label("Charter text in Spanish (Markdown)").fill(CHARTER_ES)
            alice.get_by_label("Voting closes on").fill(deadline.isoformat())
            alice.get_by_role("button", name="Propose to members").click()
            expect(alice.get_by_role("status")).to_have_text("Version 1 proposed. 5 members get it by email.")
            proposal = {}
            for _name, email, _org, language, _role in MEMBERS + [("Pat Rivera", PROSPECT, "", "en", "")]:
                proposal[email] = expect_mail(email, re.compile("versión 1" if language == "es" else
                                                                r"Our charter, version 1: please approve"))
            assert "Aprender juntas" in text_of(proposal["ana@example.net"])  # the Spanish text, for Ana
            for email in ("ana@example.net", "ben@example.net"):
                with tab() as member:
                    member.goto(link_to(proposal[email], "/m/charters/"))
                    member.locator("button[name=decision][value=approve]").click()
                    expect(member.get_by_role("status").first).to_be_visible()
                    expect(member.locator("p.answer")).to_be_visible()
                    assert member.problems == [], member.problems
            stack.send_mail(reply_to(proposal["chen@example.net"], "I approve. Looks good to us.", "chen@example.net"))
            stack.send_mail(reply_to(proposal["dee@example.net"],
                                     "Please change the rhythm: we would rather meet every month.", "dee@example.net"))
            for email in ("chen@example.net", "dee@example.net"):
                expect_mail(email, "Your answer on the charter is saved (Riverside COP)")
            alice.reload()
            expect(alice.locator("#votes-approve")).to_contain_text("Approved: 3 · Ana Torres, Ben Okafor, Chen Wu")
            expect(alice.locator("#votes-change")).to_contain_text("Asked for a change: 1")
            expect(alice.locator("#proposal")).to_contain_text("we would rather meet every month")
            expect(alice.locator("#tally-quorum")).to_contain_text("Quorum reached.")
            expect(alice.locator("#tally-approval")).to_contain_text("Approval reached.")
            alice.get_by_role("button", name="Ratify version 1", exact=True).click()
            expect(alice.get_by_role("status").first).to_contain_text("Version 1 is ratified")
            for _name, email, _org, language, _role in MEMBERS + [("Pat Rivera", PROSPECT, "", "en", "")]:
                expect_mail(email, re.compile("ratificada" if language == "es" else "Our charter is ratified: version 1"))

            # --- attendance, once the meeting has started; feedback from attendees' links; the charts ---

            step("attendance, once the meeting has started; feedback from attendees' links; the charts")
            wait_for_moment(starts)
            alice.goto(meeting_path)
            alice.get_by_role("link", name="Take attendance").click()
            for name in ("Ana Torres", "Ben Okafor", "Chen Wu"):
                alice.get_by_role("checkbox", name=re.compile(name)).check()
            alice.get_by_role("button", name="Save attendance").click()
            expect(alice.get_by_role("status")).to_have_text("Attendance saved: 3 of 4 came.")

            # While the meeting runs, its leader-to-be is invited: the hand-over opens once they have a password.
            alice.goto(community_path)
            invitation = invite_to_run(alice, "ben@example.net", "Ben Okafor", "leader")
            with tab() as ben:
                set_password_from(ben, invitation, LEADER_PASSWORD)
                assert ben.problems == [], ben.problems
            feedback = {}
            for email, language in (("ana@example.net", "es"), ("ben@example.net", "en"), ("chen@example.net", "en")):
                feedback[email] = expect_mail(
                    email, "¿Qué tal estuvo “Compartir horarios de despensas”?" if language == "es"
                    else 'How was "Sharing pantry schedules"?', timeout=(starts - datetime.now(ZoneInfo(ZONE))
                                                                         ).total_seconds() + 5 * 60 + 120)
            for email, usefulness, recommend in (("ana@example.net", "5", "10"), ("ben@example.net", "4", "8")):
                with tab() as member:
                    member.goto(link_to(feedback[email], "/feedback/"))
                    member.locator("fieldset#usefulness").get_by_label(usefulness, exact=True).check()
                    member.locator("fieldset#recommend").get_by_label(recommend, exact=True).check()
                    member.locator("button[name=submit]").click()
                    expect(member.locator("dl.answers")).to_be_visible()
                    assert member.problems == [], member.problems
            alice.goto(community_path)
            alice.get_by_role("link", name="Forms").first.click()
            alice.get_by_role("link", name="Sharing pantry schedules").click()
            alice.get_by_role("link", name="Review the answers: summary, charts, CSV").click()
            expect(alice.locator("p.response-rate")).to_contain_text("responded (2 of 3)")
            expect(alice.locator("#q-usefulness")).to_contain_text("Mean 4.5 on a scale of 1 to 5 · 2 answers")
            expect(alice.locator("#q-recommend")).to_contain_text("Mean 9.0 on a scale of 0 to 10 · 2 answers")
            expect(alice.locator("#q-usefulness svg.chart")).to_be_visible()
            expect(alice.locator("#q-recommend svg.chart")).to_be_visible()

            # --- the community handed to a member leader -----------------------------------------

            step('the community handed to a member leader')
            alice.goto(community_path)
            alice.get_by_label("The leaders agreed that I keep read-only access").check()
            alice.get_by_role("button", name="Hand the community to its leaders").click()
            expect(alice.get_by_role("status").first).to_contain_text("The community is in its leaders' hands")
            expect(alice.locator("section.people")).to_contain_text("Ben Okafor · Leader")
            expect_mail("ben@example.net", "Riverside COP is in your hands now")
            with tab() as ben:
                log_in(ben, "ben@example.net", LEADER_PASSWORD)
                ben.get_by_role("link", name="Riverside COP").click()
                expect(ben.get_by_role("heading", name="Riverside COP", level=1)).to_be_visible()
                expect(ben.locator("section.people")).to_contain_text("Alice Admin · Observer (read-only)")
                expect(ben.get_by_role("link", name="Download everything (zip)")).to_be_visible()  # he runs it
                assert ben.problems == [], ben.problems

            # --- the export: the zip downloads and holds the community's files -------------------

            step("the export: the zip downloads and holds the community's files")
            alice.goto(community_path)
            with alice.expect_download() as download_info:
                alice.get_by_role("link", name="Download everything (zip)").click()
            download = download_info.value
            assert download.suggested_filename.startswith("riverside-cop-"), download.suggested_filename
            archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
            names = archive.namelist()
            members_csv = archive.read("members.csv").decode("utf-8-sig")
            for name, *_rest in MEMBERS + [("Pat Rivera",)]:
                assert name in members_csv
            assert "Sharing pantry schedules" in archive.read("meetings.csv").decode("utf-8-sig")
            charter_md = archive.read("charter/version-1.md").decode()
            assert "Share what works for small food pantries" in charter_md and "Ratified" in charter_md
            assert all(name in charter_md for name in ("Ana Torres", "Ben Okafor", "Chen Wu"))  # who approved
            forms = [name for name in names if name.startswith("forms/")]
            assert len(forms) == 2, names  # the charter form and the meeting's feedback
            assert "report.html" in names and "audit.csv" in names, names
            assert alice.problems == [], alice.problems

        # --- what the database and our SMTP server say at the end --------------------------------

        step('what the database and our SMTP server say at the end')
        stack.check_alive()
        received = [(address.lower(), str(delivered.message["Subject"])) for delivered in stack.smtp.handler.messages
                    for address in delivered.rcpt_tos]
        assert sorted(received) == sorted(expected), "emails nobody expected, or missing"
        engine = create_engine(stack.database_url)
        try:
            with engine.connect() as connection:
                statuses = dict(connection.execute(text(
                    "SELECT status, count(*) FROM outbound_email GROUP BY status")).all())
        finally:
            engine.dispose()
        assert statuses == {"sent": len(expected)}, statuses
