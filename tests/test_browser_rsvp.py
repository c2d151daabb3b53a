"""A member answers an invitation on a phone: from the link in the delivered email to the saved answer."""
import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from tests.browser import PHONE
from tests.conftest import run_worker

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/rsvp_phone.png"
TITLE = "Llamada mensual: huertos y compostaje"
# Video links are long and have few places to break; a Teams one is among the longest.
TEAMS_LINK = ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ3ZTBlYzEtYjA2Ny00ZGI1LWE5NmQtMjI4ZmQ1NTdiNWQ3"
              "%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%7d")

# What the Spanish page says (translations/es/LC_MESSAGES/messages.po).
NOT_ANSWERED = "Todavía no ha respondido."
TAP_TO_CONFIRM = "Toque el botón para confirmar su respuesta."
SAVED = "Gracias, su respuesta quedó guardada."
ANSWERED_YES = "Su respuesta: Sí, voy a asistir"
ANSWERED_NO = "Su respuesta: No, no puedo asistir"

# What sticks out of the page's column, what is cut off, and the page's width. On a phone, content wider
# than the screen makes Chromium zoom the whole page out (innerWidth grows with scrollWidth), so both are kept.
LAYOUT = """() => {
  const main = document.querySelector("main");
  const right = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
  const describe = e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "")
                        + " “" + (e.textContent || "").trim().slice(0, 40) + "”";
  const visible = [...document.querySelectorAll("body *")].filter(e => e.getClientRects().length);
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    overflowing: [...main.querySelectorAll("*")].filter(e => e.getBoundingClientRect().right > right + 0.5)
                                              .map(describe),
    clipped: visible.filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
                    .map(describe),
  };
}"""





def schedule_meeting(app) -> tuple[int, int]:
    """Riverside's next call, with everything a phone has to fit; (meeting id, Ana's member id)."""
    from service import meetings
    from service.extensions import db
    from service.models import Community, Member
    with app.app_context():
        riverside = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
        meeting = meetings.create_meeting(
            None, riverside, starts_at=datetime.now(timezone.utc) + timedelta(days=3), title=TITLE,
            agenda="1. Logros y dificultades\n2. Próximos pasos", location="Sala 4, Biblioteca de Main St.",
            video_url=TEAMS_LINK,
            duration_minutes=90)
        db.session.commit()
        ids = meeting.id, db.session.scalar(select(Member.id).where(Member.email == "ana@example.org"))
        db.session.remove()
    return ids


def stored_answer(app, meeting_id: int, member_id: int) -> str | None:
    from service.extensions import db
    from service.models import Invitation
    with app.app_context():
        answer = db.session.scalar(select(Invitation.answer).where(
            Invitation.meeting_id == meeting_id, Invitation.member_id == member_id))
        db.session.remove()
    return answer


def yes_link_in(raw: bytes, public_base_url: str) -> str:
    """The "Sí:" link of the plain-text part, as the member's mail client shows it."""
    message = message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    links = re.findall(r"^Sí:\s*(\S+)\s*$", text, re.MULTILINE)
    assert len(links) == 1, f"one Yes link expected in the plain text:\n{text}"
    [link] = links
    assert link.startswith(public_base_url + "/"), f"{link} is not under PUBLIC_BASE_URL {public_base_url}"
    assert parse_qs(urlsplit(link).query).get("answer") == ["yes"]
    return link


def on_live_server(link: str, base_url: str) -> str:
    """The same path and query, served by the live server instead of PUBLIC_BASE_URL."""
    public, live = urlsplit(link), urlsplit(base_url)
    return urlunsplit((live.scheme, live.netloc, public.path, public.query, ""))


def measure(page) -> dict:
    layout = page.evaluate(LAYOUT)
    layout["buttons"] = [page.locator(".rsvp-buttons button").nth(i).bounding_box()
                         for i in range(page.locator(".rsvp-buttons button").count())]
    return layout


def assert_fits_a_phone(layout: dict) -> None:
    assert layout["innerWidth"] == PHONE["viewport"]["width"], f"zoomed out to fit something wide: {layout}"
    assert layout["scrollWidth"] <= layout["innerWidth"], f"the page scrolls sideways: {layout}"
    assert layout["overflowing"] == [], f"sticking out of the page's column: {layout['overflowing']}"
    assert layout["clipped"] == [], f"text cut off: {layout['clipped']}"
    assert len(layout["buttons"]) == 3
    for box in layout["buttons"]:
        assert box["width"] >= 44 and box["height"] >= 44, f"an RSVP button too small to tap: {box}"


def test_a_spanish_speaking_member_answers_from_the_email_on_a_phone(app, personas, smtp, phone, base_url):
    from playwright.sync_api import expect

    meeting_id, ana_id = schedule_meeting(app)
    run_worker(app)
    [received] = smtp.to("ana@example.org")
    link = on_live_server(yes_link_in(received.raw, app.config["PUBLIC_BASE_URL"]), base_url)

    # Opening the link shows the meeting in Ana's language, with Yes suggested; it answers nothing yet.
    phone.goto(link)
    expect(phone.locator("html")).to_have_attribute("lang", "es")
    expect(phone.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(phone.locator("p.answer")).to_have_text(NOT_ANSWERED)
    expect(phone.get_by_text(TAP_TO_CONFIRM)).to_be_visible()
    yes = phone.get_by_role("button", name="Sí", exact=True)
    expect(yes).to_have_class(re.compile(r"\bprimary\b"))
    first_view = measure(phone)
    assert stored_answer(app, meeting_id, ana_id) is None, "opening the link must not answer"

    yes.tap()
    expect(phone.get_by_role("status")).to_have_text(SAVED)
    expect(phone.locator("p.answer")).to_have_text(ANSWERED_YES)
    assert stored_answer(app, meeting_id, ana_id) == "yes"

    # Changing one's mind: the same link again, then No.
    phone.goto(link)
    expect(phone.locator("p.answer")).to_have_text(ANSWERED_YES)
    expect(phone.get_by_role("status")).to_have_count(0)
    expect(phone.get_by_text(TAP_TO_CONFIRM)).to_have_count(0)
    assert stored_answer(app, meeting_id, ana_id) == "yes"
    phone.get_by_role("button", name="No", exact=True).tap()
    expect(phone.get_by_role("status")).to_have_text(SAVED)
    expect(phone.locator("p.answer")).to_have_text(ANSWERED_NO)
    phone.screenshot(path=SCREENSHOT, full_page=True)
    # The page now agrees with the saved answer, not with the link's ?answer=yes.
    expect(phone.get_by_role("button", name="No", exact=True)).to_have_class(re.compile(r"\bprimary\b"))
    expect(phone.get_by_role("button", name="Sí", exact=True)).not_to_have_class(re.compile(r"\bprimary\b"))
    expect(phone.get_by_text(TAP_TO_CONFIRM)).to_have_count(0)
    assert stored_answer(app, meeting_id, ana_id) == "no"

    assert phone.problems == [], "the browser met broken resources or errors"
    for layout in (first_view, measure(phone)):
        assert_fits_a_phone(layout)
