"""A coordinator answers for a member from the inbox, in a real browser: the reply the service could not read
comes first, one click records it, and the meeting page shows the answer."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.browser import watched_page
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT_BEFORE, SCREENSHOT = "/tmp/browser_inbox_before.png", "/tmp/browser_inbox.png"


@pytest.fixture
def page(browser, base_url):
    with watched_page(browser, base_url, locale="en-US", viewport={"width": 1280, "height": 900}) as page:
        yield page


def _replies(app, community_id: int) -> int:
    """An invitation to Riverside's next call, an understood comment and, older, a reply nobody could read."""
    from service import meetings
    from service.addresses import make_address
    from service.extensions import db
    from service.models import Community, InboundMessage, Member
    from tests.inbound_mail import compose
    with app.app_context():
        community = db.session.get(Community, community_id)
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        meeting = meetings.create_meeting(None, community, title="Garden planning call",
                                          starts_at=datetime.now(timezone.utc) + timedelta(days=4))
        db.session.flush()
        address = make_address("reply", ana.id, community_id)
        for number, (status, subject, text, received) in enumerate([
                ("done", "Re: Our charter", "Thanks, the charter reads well.", 1),
                ("unclear", "Re: Garden planning call", "Bueno, ahí estaremos con las semillas <b>nuevas</b>", 30)]):
            raw = compose(ana.email, address, subject, text)
            db.session.add(InboundMessage(
                via="test", message_id=f"<browser-{number}@mail.example.net>", raw=raw, size=len(raw),
                envelope_to=address, from_address=ana.email, subject=subject, purpose="reply",
                community_id=community_id, member_id=ana.id, status=status, text=text, detail={},
                outcome="comment" if status == "done" else None,
                reason="" if status == "done" else "no clear answer in the reply",
                object_kind="charter" if status == "done" else "meeting",
                object_id=None if status == "done" else meeting.id,
                received_at=datetime.now(timezone.utc) - timedelta(minutes=received)))
        db.session.commit()
        meeting_id = meeting.id
        db.session.remove()
    return meeting_id


def test_a_coordinator_records_an_unclear_reply_as_rsvp_yes(app, page, personas):
    from playwright.sync_api import expect

    riverside = personas["riverside"]
    meeting_id = _replies(app, riverside)

    page.goto("/login")
    page.get_by_label("Email").fill("alice@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Riverside COP").click()
    page.get_by_role("link", name="1 reply needs you").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()

    first = page.locator("article.inbound").first
    expect(first).to_have_class(re.compile(r"\bunclear\b"))
    expect(first).to_contain_text("Ana Torres")
    expect(first).to_contain_text("Not understood: no clear answer in the reply")
    # Her words as she wrote them, markup shown as text.
    expect(first.locator("pre.message-text")).to_have_text("Bueno, ahí estaremos con las semillas <b>nuevas</b>")
    expect(first).to_contain_text("Answers the meeting “Garden planning call”.")

    page.screenshot(path=SCREENSHOT_BEFORE, full_page=True)
    first.get_by_role("button", name="RSVP yes").click()
    expect(page.locator("p.flash")).to_have_text("Ana Torres's answer to “Garden planning call” is recorded.")
    # Dealt with: it moves below the ones that need a person and says what was recorded, and by whom.
    recorded = page.locator("article.inbound", has_text="Re: Garden planning call")
    expect(recorded).to_have_class(re.compile(r"\bdone\b"))
    expect(recorded).to_contain_text("RSVP yes to the meeting “Garden planning call” (by Alice)")
    expect(recorded.get_by_role("button")).to_have_count(0)
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.goto(f"/communities/{riverside}/meetings/{meeting_id}")
    expect(page.locator("#answer-yes")).to_contain_text("Yes: 1")
    expect(page.locator("#answer-yes")).to_contain_text("Ana Torres")
    assert page.problems == [], "the browser met broken resources or errors"
