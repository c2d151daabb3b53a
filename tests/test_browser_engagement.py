"""A coordinator finds who has gone quiet and checks in on them, in a real browser (Chromium through Playwright)."""
from datetime import datetime, timedelta, timezone

import pytest

from tests.browser import watched_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser, base_url):
    with watched_page(browser, base_url, locale="en-US", viewport={"width": 1280, "height": 800}) as page:
        yield page


def _joined_long_ago(app, community_id: int) -> None:
    from service.extensions import db
    from service.models import Membership
    with app.app_context():
        db.session.execute(Membership.__table__.update().where(Membership.community_id == community_id)
                           .values(created_at=datetime.now(timezone.utc) - timedelta(days=90)))
        db.session.commit()
        db.session.remove()


def test_a_coordinator_checks_in_on_a_quiet_member_and_sees_it_in_their_history(app, page, personas):
    from playwright.sync_api import expect
    _joined_long_ago(app, personas["riverside"])

    page.goto("/login")
    page.get_by_label("Email").fill("alice@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Riverside COP").click()
    page.get_by_role("link", name="Members who have gone quiet").click()
    expect(page.get_by_role("heading", name="Members who have gone quiet")).to_be_visible()
    row = page.locator("table.quiet tbody tr", has_text="Ana Torres")
    expect(row).to_contain_text("none since joining on")

    row.get_by_role("button", name="Send a check-in").click()
    expect(page.locator(".flash")).to_have_text("A check-in is on its way to Ana Torres.")
    expect(row).to_contain_text("next check-in possible from")
    expect(row.get_by_role("button", name="Send a check-in")).to_have_count(0)

    row.get_by_role("link", name="Ana Torres").click()
    expect(page.get_by_role("heading", name="Ana Torres")).to_be_visible()
    newest = page.locator("ul.timeline li").first
    expect(newest).to_contain_text("Email sent to them: Personal check-in")
    expect(page.locator("ul.timeline li").last).to_contain_text("Joined the community")
    assert page.problems == []
