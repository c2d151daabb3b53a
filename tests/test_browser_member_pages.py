"""A member's pages on a phone: sent, then reloaded (the browser sends the form again) and opened again from the
email, each page stays one for a member (no login link, no dashboard error) and never scrolls sideways."""
import pytest

from tests.browser import PHONE, watched_page
from tests.test_browser_a11y import _seed, member_pages

pytestmark = pytest.mark.browser


def looks_like_a_member_page(page, where: str) -> list[str]:
    problems = []
    if page.locator("main.member-page").count() != 1:
        problems.append(f"{where}: not a member's page")
    if page.locator("a[href*='/login'], a[href='/']").count():
        problems.append(f"{where}: links to the coordinators' login or dashboard")
    if page.get_by_text("your communities").count():
        problems.append(f"{where}: speaks of the coordinator's communities")
    width, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width > window:
        problems.append(f"{where}: scrolls sideways ({width} px wide in a {window} px window)")
    return problems


def test_member_pages_sent_then_reloaded_stay_member_pages_on_a_phone(app, browser, base_url, personas):
    objects = _seed(app, personas)
    pages = member_pages(app) + [("practice_links.share", objects["share_url"]),
                                 ("intake_public.join", objects["join_url"])]
    problems, sent = [], []
    with watched_page(browser, base_url, locale="en-US", **PHONE) as page:
        for endpoint, path in pages:
            page.goto(path)
            problems += looks_like_a_member_page(page, f"{endpoint} opened")
            button = page.locator("main form[method=post] button").first
            if not button.count():
                continue
            button.click()
            page.wait_for_load_state()
            sent.append(endpoint)
            problems += looks_like_a_member_page(page, f"{endpoint} sent")
            response = page.reload()  # the form goes again
            assert response is not None and response.status < 500, f"{endpoint} reloaded: {response.status}"
            problems += looks_like_a_member_page(page, f"{endpoint} reloaded")
            page.context.clear_cookies()  # the next day, the browser's session gone: its form token no longer holds
            page.reload()
            problems += looks_like_a_member_page(page, f"{endpoint} reloaded the next day")
            page.goto(path)
            problems += looks_like_a_member_page(page, f"{endpoint} opened again")
    assert {"rsvp.answer", "member_links.preferences", "member_links.unsubscribe"} <= set(sent)
    assert not problems, "\n".join(problems)
