"""An organization's contact receives two digests: the lesson's next modules, a practice a member shared by
replying to the digest and the coordinator approved, and the week's conversations; and the organization's own
edition each time. Through the service as deployed (tests/production_stack.py), in real time.

The coordinator works in Chromium on the dashboard: creates the community (posts go out without waiting),
adds three members, makes one the Casa Verde contact, turns digests on with the built-in lesson (`flask
lessons load` ran when the stack started) and sends each issue with "Send the next issue now". Members only
read our mail and follow its links in Chromium or write to our MX: Olivia, the contact, chooses from her
digest's preferences link to get the conversations in the digest; Ana replies to the digest with a practice;
Ben writes to the community's address. Nothing is made due by writing rows.
"""
import re
import time
from datetime import datetime, timezone

import pytest

from tests.production_stack import ProductionStack, chromium_for, reply_to, text_of
from tests.test_journey_member import add_members, link_to, log_in, outbox, plain_mail, tab, until_shown

ZONE = "America/Chicago"
COMMUNITY = "Riverside COP"
OLIVIA = "olivia.park@casaverde.example.net"  # Casa Verde's contact
ANA = "ana.torres@casaverde.example.net"
BEN = "ben.lake@lakeorg.example.net"
PEOPLE = (("Olivia Park", OLIVIA, "Casa Verde"), ("Ana Torres", ANA, "Casa Verde"), ("Ben Lake", BEN, "Lake Org"))
LESSON = "Establishing a community of practice"
MODULE_1, MODULE_2 = "Why communities of practice work", "Forming your community of practice"
EDITION = f"Casa Verde in {COMMUNITY}: how your team took part"
PRACTICE = ("We pair every new family with a volunteer who calls them after the first visit, and our "
            "no-shows dropped by half.")
POST_SUBJECT, POST_BODY = "Intake forms that work", "Has anyone moved their intake to a one-page form? Ours is six."


def set_up_community(page) -> int:
    """A community whose posts go out at once, its three members (no welcome email), Olivia its contact."""
    page.goto("/communities/new")
    page.get_by_label("Name", exact=True).fill(COMMUNITY)
    page.get_by_label("Time zone").select_option(ZONE)
    page.get_by_label("No post waits: every member's post goes out at once").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/communities/\d+$"))
    community = int(page.url.rsplit("/", 1)[1])
    add_members(page, community, PEOPLE)
    page.goto(f"/communities/{community}/members/")
    page.locator("tr:has-text('Olivia Park')").get_by_role("link", name="Edit").click()
    page.get_by_label("Their organization's contact").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/communities/{community}$"))
    return community


def turn_digests_on(page, community: int) -> None:
    """The built-in lesson, weekly on a day three days from today: no scheduled issue falls in the journey."""
    page.goto(f"/communities/{community}/digest/")
    page.get_by_label("Send lesson digests").check()
    page.get_by_label("Lesson", exact=True).select_option(label=LESSON)
    page.get_by_label("How often").select_option("weekly")
    page.get_by_label("Day", exact=True).select_option(str((datetime.now(timezone.utc).weekday() + 3) % 7))
    page.get_by_label("Hour (0-23, the community's local time)").fill("9")
    page.get_by_role("button", name="Save", exact=True).click()
    assert "Digest settings saved." in page.locator("body").inner_text()


def send_now(page, community: int) -> str:
    """Press "Send the next issue now"; the page's confirmation."""
    page.goto(f"/communities/{community}/digest/")
    page.get_by_role("button", name="Send the next issue now").click()
    page.wait_for_url(re.compile(rf"/communities/{community}/digest/$"))
    return page.get_by_role("status").first.inner_text()


@pytest.mark.browser
@pytest.mark.journey  # registered on main (pytest.ini): journeys start first
@pytest.mark.timeout(600)
def test_an_organizations_contact_receives_two_digests_with_the_lesson_a_practice_and_the_conversations(
        app, database_url, redis_url, tmp_path):
    with ProductionStack(database_url, redis_url, tmp_path, "cop_journey_org") as stack, \
            chromium_for(stack) as browser:
        stack.create_account("carmen@tta.example.org", "Carmen Ortiz", admin=True)
        with tab(browser) as coordinator, tab(browser) as olivia_browser:
            log_in(coordinator)
            community = set_up_community(coordinator)
            turn_digests_on(coordinator, community)

            # 1. Issue 1 now: every member gets module 1, and Olivia the Casa Verde edition too.
            assert "Issue 1 is on its way: 4 emails queued." in send_now(coordinator, community)
            sent_1 = time.monotonic()
            assert "nothing was sent again" in send_now(coordinator, community)  # a double click sends nothing
            digest_1 = stack.wait_for_mail(OLIVIA, f"{COMMUNITY} digest: {MODULE_1}")
            for address in (ANA, BEN):
                stack.wait_for_mail(address, f"{COMMUNITY} digest: {MODULE_1}")
            edition_1 = stack.wait_for_mail(OLIVIA, EDITION)
            assert "Ana Torres: invited to 0 meetings, attended 0, shared 0 practices" in text_of(edition_1)
            assert "No new practices this time." in text_of(digest_1)

            # 2. Olivia, from her digest's preferences link, takes the conversations in the digest.
            olivia_browser.goto(link_to(digest_1, "/m/preferences/"))
            olivia_browser.get_by_label("In the digest", exact=True).check()
            olivia_browser.get_by_role("button", name="Save my choices").click()
            assert olivia_browser.get_by_label("In the digest", exact=True).is_checked()

            # 3. Ana replies to the digest with what her organization did; she is thanked for it.
            ana_digest = stack.wait_for_mail(ANA, f"{COMMUNITY} digest: {MODULE_1}")
            stack.send_mail(reply_to(ana_digest, PRACTICE, f"Ana Torres <{ANA}>"))
            stack.wait_for_mail(ANA, "Thank you for sharing")

            # 4. The coordinator approves it in the review queue.
            practices_page = f"/communities/{community}/practices/"
            until_shown(coordinator, practices_page, "main", "volunteer who calls them")
            coordinator.get_by_role("button", name="Approve", exact=True).first.click()
            assert "It appears in the next digest." in coordinator.get_by_role("status").first.inner_text()

            # 5. Ben writes to the community's address from his digest's footer: Ana gets it at once, Olivia
            # (on "in the digest") does not.
            ben_digest = stack.wait_for_mail(BEN, f"{COMMUNITY} digest: {MODULE_1}")
            address = re.search(r"Write to everyone in the community: (\S+@\S+)", text_of(ben_digest)).group(1)
            stack.send_mail(plain_mail(f"Ben Lake <{BEN}>", address, POST_SUBJECT, POST_BODY))
            stack.wait_for_mail(ANA, POST_SUBJECT)

            # 6. Issue 2 now (once the page's two minutes after issue 1 have passed: a double click is refused).
            time.sleep(max(0.0, sent_1 + 125 - time.monotonic()))
            assert "Issue 2 is on its way: 4 emails queued." in send_now(coordinator, community)
            digest_2 = stack.wait_for_mail(OLIVIA, f"{COMMUNITY} digest: {MODULE_2}")
            text = text_of(digest_2)
            assert "volunteer who calls them after the first visit" in text and "Ana Torres, Casa Verde" in text
            assert POST_SUBJECT in text and "one-page form" in text, text
            edition_2 = stack.wait_for_mail(OLIVIA, EDITION, count=2)
            assert "Ana Torres: invited to 0 meetings, attended 0, shared 1 practices" in text_of(edition_2)
            assert sorted(str(m["Subject"]) for m in stack.mail_to(OLIVIA)) == sorted([  # no post by itself
                f"{COMMUNITY} digest: {MODULE_1}", EDITION, f"{COMMUNITY} digest: {MODULE_2}", EDITION])
            stack.wait_for_mail(ANA, f"{COMMUNITY} digest: {MODULE_2}")
            stack.wait_for_mail(BEN, f"{COMMUNITY} digest: {MODULE_2}")
            coordinator.goto(f"/communities/{community}/digest/")
            assert coordinator.locator("table").last.locator("tbody tr").count() == 2
            assert coordinator.problems == [] and olivia_browser.problems == [], \
                (coordinator.problems, olivia_browser.problems)

        rows = outbox(stack)
        assert [r for r in rows if r[2] != "sent"] == [], rows
        assert sorted((r[0], r[1]) for r in rows) == sorted(
            [(who, "digest") for who in (OLIVIA, ANA, BEN)] * 2 + [(OLIVIA, "digest_organization")] * 2
            + [(ANA, "reply_practice"), (ANA, "conversation_post")]), rows
