"""The hand-off in a real browser: the TTA coordinator invites a leader, the leader chooses a password from the
emailed link and sees only that community, the coordinator steps back, and the community's next digest and
reminder go out under the leader's name."""
import re
from email.utils import parseaddr

import pytest

from tests.browser import watched_page
from tests.conftest import PASSWORD, run_worker
from tests.test_roles import NEW_PASSWORD, _digest_and_reminder

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/browser_hand_off.png"


def test_a_coordinator_hands_the_community_to_a_leader_invited_by_email(app, personas, smtp, browser, base_url):
    from playwright.sync_api import expect

    with watched_page(browser, base_url, locale="en-US") as alice:
        alice.goto("/login")
        alice.get_by_label("Email").fill("alice@example.org")
        alice.get_by_label("Password").fill(PASSWORD)
        alice.get_by_role("button", name="Log in").click()
        alice.get_by_role("link", name="Riverside COP").click()
        alice.get_by_role("link", name="Invite a coordinator or leader, change roles").click()
        expect(alice.get_by_role("heading", name="People who run Riverside COP")).to_be_visible()
        alice.get_by_label("Email", exact=True).fill("lea@example.org")
        alice.get_by_label("Name", exact=True).fill("Lea Leader")
        alice.get_by_label("Role", exact=True).select_option("leader")
        alice.get_by_role("button", name="Send the invitation").click()
        expect(alice.get_by_role("status")).to_have_text("lea@example.org is invited: we emailed them.")
        expect(alice.locator("table.people")).to_contain_text("invited, no password yet")

        run_worker(app)
        [received] = smtp.to("lea@example.org")
        text = received.message.get_body(("plain",)).get_content()
        link = re.search(r"http\S+/invitation/\S+", text).group(0).replace("http://127.0.0.1:5000", base_url)

        with watched_page(browser, base_url, locale="en-US") as lea:
            lea.goto(link)
            expect(lea.get_by_role("heading", name="Choose your password")).to_be_visible()
            lea.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
            lea.get_by_label("The same password again").fill(NEW_PASSWORD)
            lea.get_by_role("button", name="Set the password").click()
            expect(lea.get_by_role("status")).to_have_text("Welcome! Your password is set.")
            expect(lea.locator("main")).to_contain_text("Riverside COP")
            expect(lea.locator("main")).not_to_contain_text("Lakeside COP")
            response = lea.goto(f"/communities/{personas['lakeside']}")
            assert response.status == 404
            lea.problems.clear()  # the 404 was the point
            expect(lea.get_by_role("heading", name="Page not found")).to_be_visible()
            assert lea.problems == []

        alice.goto(f"/communities/{personas['riverside']}")
        expect(alice.locator("section.people")).to_contain_text("Lea Leader · Leader")
        alice.get_by_label("The leaders agreed that I keep read-only access").check()
        alice.get_by_role("button", name="Hand the community to its leaders").click()
        expect(alice.get_by_role("status")).to_contain_text("The community is in its leaders' hands")
        expect(alice.locator("main")).to_contain_text("You have read-only access to this community")
        expect(alice.locator("section.people")).to_contain_text("Alice · Observer (read-only)")
        alice.screenshot(path=SCREENSHOT, full_page=True)
        assert alice.problems == []

    _digest_and_reminder(app, personas["riverside"])
    default_address = parseaddr(app.config["MAIL_DEFAULT_SENDER"])[1]
    sent = [received.message for received in smtp.to("omar@example.org")]
    assert len(sent) == 3  # the digest, the meeting invitation and its reminder
    assert {parseaddr(str(message["From"])) for message in sent} == {("Lea Leader via Riverside COP",
                                                                       default_address)}
    assert any(message["Subject"].startswith("Reminder") for message in sent)
