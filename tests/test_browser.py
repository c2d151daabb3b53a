"""Coordinator journeys in a real browser: Debian's Chromium, driven by Playwright, against the app on localhost."""
import re

import pytest

from tests.browser import watched_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/browser_community.png"

# Three good rows and, on line 3, an address that is not one.
MEMBERS_CSV = (
    "name,email,organization,language,role\n"
    "Maya Okafor,maya@example.org,Riverside Food Bank,en,facilitator\n"
    "Dana Ruiz,not-an-email,Casa Verde,es,member\n"
    "Omar Haddad,omar@example.org,Riverside Food Bank,en,member\n"
    "Lucía Méndez,lucia@example.org,Casa Verde,es,member\n"
).encode("utf-8")




@pytest.fixture
def page(browser, base_url):
    """A fresh English-speaking browser tab that records broken resources and console errors."""
    with watched_page(browser, base_url, locale="en-US", viewport={"width": 1280, "height": 800}) as page:
        yield page


def riverside_member_count(app, community_id: int) -> int:
    from sqlalchemy import func, select

    from service.extensions import db
    from service.models import Membership
    with app.app_context():
        count = db.session.scalar(select(func.count(Membership.id)).where(Membership.community_id == community_id))
        db.session.remove()
    return count


def test_coordinator_imports_members_from_a_csv_file(app, page, personas):
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Email").fill("alice@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your communities")).to_be_visible()

    page.get_by_role("link", name="Riverside COP").click()
    expect(page.get_by_role("heading", name="Riverside COP")).to_be_visible()
    page.get_by_role("link", name="Import members from CSV").click()
    expect(page.get_by_role("heading", name="Import members from a CSV file")).to_be_visible()

    page.get_by_label("CSV file").set_input_files(
        {"name": "riverside.csv", "mimeType": "text/csv", "buffer": MEMBERS_CSV})
    page.get_by_role("button", name="Check the file").click()

    # The preview: nothing imported yet, the bad row listed with its line and why.
    expect(page.locator(".summary")).to_have_text("4 rows read: 3 ready to import, 1 with problems.")
    bad_row = page.locator("table.problems tbody tr")
    expect(bad_row).to_have_count(1)
    expect(bad_row.locator("td")).to_have_text(["3", "not-an-email", "not-an-email is not a valid email address."])
    expect(page.get_by_role("cell", name="Lucía Méndez")).to_be_visible()
    assert riverside_member_count(app, personas["riverside"]) == 1  # only Ana, until confirmed

    page.get_by_role("button", name="Import 3 members").click()

    expect(page).to_have_url(re.compile(r"/communities/\d+$"))
    expect(page.get_by_role("status")).to_have_text("3 members imported.")
    # Everyone, alphabetically: Ana was there before, the other three are the good rows.
    names = page.locator("table.members tbody tr td:first-child")
    expect(names).to_have_text(["Ana Torres", "Lucía Méndez", "Maya Okafor", "Omar Haddad"])
    expect(page.locator("table.members")).not_to_contain_text("Dana Ruiz")
    expect(page.locator("ul.orgs")).to_contain_text("Riverside Food Bank (2 members)")
    page.screenshot(path=SCREENSHOT, full_page=True)

    assert page.problems == [], "the browser met broken resources or errors"
