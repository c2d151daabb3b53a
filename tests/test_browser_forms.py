"""A member fills in the charter form on a phone: from the link in the delivered email, past an error, to submitted."""
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.browser import PHONE
from tests.conftest import run_worker
from tests.test_browser_rsvp import LAYOUT, on_live_server

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/forms_phone.png"
ERROR_SCREENSHOT = "/tmp/forms_phone_error.png"
GOALS = "Dos capacitaciones conjuntas y un directorio de servicios compartido entre organizaciones"
PURPOSE = "Compartir lo que funciona para los bancos de alimentos pequeños"





def send_charter(app) -> int:
    """Riverside's charter form, sent to Ana (who reads Spanish); her response's id."""
    from service import form_requests
    from service.extensions import db
    from service.models import Community, Member
    with app.app_context():
        riverside = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        form_request = form_requests.send_request(None, riverside, "charter", "Nuestro estatuto, primer borrador",
                                                  [ana.id], datetime.now(timezone.utc) + timedelta(days=5))
        db.session.commit()
        response_id = form_requests.response_of(form_request, ana).id
        db.session.remove()
    return response_id


def stored(app, response_id: int) -> tuple[str, dict]:
    from service import responses
    from service.extensions import db
    from service.models import FormResponse
    with app.app_context():
        response = db.session.get(FormResponse, response_id)
        result = response.status, responses.answers_of(response)
        db.session.remove()
    return result


def form_link_in(raw: bytes, public_base_url: str) -> str:
    text = message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
    links = [word for word in text.split() if "/m/forms/" in word]
    assert len(links) == 1, f"one form link expected in the plain text:\n{text}"
    assert links[0].startswith(public_base_url + "/")
    return links[0]


def assert_fits_a_phone(page) -> None:
    layout = page.evaluate(LAYOUT)
    assert layout["innerWidth"] == PHONE["viewport"]["width"], f"zoomed out to fit something wide: {layout}"
    assert layout["scrollWidth"] <= layout["innerWidth"], f"the page scrolls sideways: {layout}"
    assert layout["overflowing"] == [], f"sticking out of the page's column: {layout['overflowing']}"
    assert layout["clipped"] == [], f"text cut off: {layout['clipped']}"
    for selector in ("button", ".scale-option"):
        for i in range(page.locator(selector).count()):
            box = page.locator(selector).nth(i).bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, f"{selector} too small to tap: {box}"


def test_a_member_fills_in_the_charter_on_a_phone_fixes_an_error_and_submits(app, personas, smtp, phone,
                                                                           base_url):
    from playwright.sync_api import expect

    response_id = send_charter(app)
    run_worker(app)
    [received] = smtp.to("ana@example.org")
    link = on_live_server(form_link_in(received.raw, app.config["PUBLIC_BASE_URL"]), base_url)

    phone.goto(link)
    expect(phone.locator("html")).to_have_attribute("lang", "es")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Nuestro estatuto, primer borrador")
    assert_fits_a_phone(phone)

    # A draft first: the goals only, then the same link again shows them.
    phone.locator("#goals").fill(GOALS)
    phone.locator("button[name=save_draft]").tap()
    expect(phone.get_by_role("status")).to_be_visible()
    assert stored(app, response_id) == ("draft", {"goals": GOALS})
    phone.goto(link)
    expect(phone.locator("#goals")).to_have_value(GOALS)

    # Submitting without the purpose: an announced summary that links to the field, the error beside it.
    phone.locator("button[name=submit]").tap()
    summary = phone.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary.locator('a[href="#purpose"]')).to_have_count(1)
    purpose = phone.locator("#purpose")
    expect(purpose).to_have_attribute("aria-invalid", "true")
    expect(purpose).to_have_attribute("aria-describedby", "purpose-error")
    expect(phone.locator("#purpose-error")).to_be_visible()
    expect(phone.locator("#goals")).to_have_value(GOALS)                 # nothing typed is lost
    assert stored(app, response_id)[0] == "draft"
    phone.screenshot(path=ERROR_SCREENSHOT, full_page=True)
    assert_fits_a_phone(phone)

    summary.locator('a[href="#purpose"]').tap()
    purpose.fill(PURPOSE)
    phone.locator("button[name=submit]").tap()
    expect(phone.get_by_role("status")).to_be_visible()
    expect(phone.get_by_role("alert")).to_have_count(0)
    expect(phone.locator("dl.answers")).to_contain_text(PURPOSE)
    phone.screenshot(path=SCREENSHOT, full_page=True)
    assert stored(app, response_id) == ("submitted", {"goals": GOALS, "purpose": PURPOSE})
    assert_fits_a_phone(phone)
    # The one page answered 400 is the form sent back with its errors; nothing else may fail.
    path = urlsplit(link).path
    assert [p for p in phone.problems if not ("400" in p and path in p)] == [], phone.problems
