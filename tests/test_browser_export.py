"""The export and archive journey in a real browser, and the export's report opened with nothing else to load."""
import io
import zipfile

import pytest

from tests.browser import watched_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/browser_export_report.png"


@pytest.fixture
def page(browser, base_url):
    with watched_page(browser, base_url, locale="en-US", viewport={"width": 1280, "height": 800},
                      accept_downloads=True) as page:
        yield page


def test_coordinator_downloads_archives_and_restores_a_community(app, page, personas):
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Email").fill("alice@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Riverside COP").click()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download everything (zip)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("riverside-cop-") and download.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read()))
    assert "Ana Torres" in archive.read("members.csv").decode("utf-8-sig")

    page.get_by_role("button", name="Archive this community").click()
    expect(page.locator(".notice.archived")).to_contain_text("sends no email")
    page.get_by_role("link", name="Communities").first.click()
    expect(page.get_by_role("row", name="Riverside COP")).to_contain_text("Archived")

    # A change while archived: refused with a page that says why.
    page.get_by_role("link", name="Riverside COP").click()
    page.get_by_role("link", name="Edit community").click()
    page.get_by_label("Name").fill("Renamed")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Riverside COP is archived")).to_be_visible()
    page.get_by_role("link", name="Back to Riverside COP").click()
    page.get_by_role("button", name="Restore this community").click()
    expect(page.locator(".notice.archived")).to_have_count(0)
    expect(page.get_by_role("button", name="Archive this community")).to_be_visible()
    assert page.problems and all("409" in problem and "/edit" in problem for problem in page.problems), \
        page.problems  # only the refused change

    # The report: a page of its own that asks for nothing from anywhere, and prints.
    requests = []
    report = page.context.new_page()
    report.on("request", lambda request: requests.append(request.url))
    report.set_content(archive.read("report.html").decode("utf-8"))
    expect(report.get_by_role("heading", name="Riverside COP")).to_be_visible()
    assert report.locator("svg.chart").count() == 6
    report.screenshot(path=SCREENSHOT, full_page=True)
    assert report.pdf()[:4] == b"%PDF"
    assert requests == []
