"""A facilitator who cannot make it hands the meeting on from their phone: the link in the email, one tap."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.conftest import run_worker
from tests.test_browser_rsvp import on_live_server

pytestmark = pytest.mark.browser

# What the Spanish page says (translations/es/LC_MESSAGES/messages.po).
HAND_ON = "Pasarla a la siguiente persona"
DONE = "Listo: ahora Bo Chen facilita esta reunión. Ya le escribimos. Gracias por avisar a tiempo."
NOT_YOURS = "Usted ya no facilita esta reunión: ahora la facilita Bo Chen."


def _rotation_and_meeting(app) -> int:
    """Ana (Spanish) and Bo in Riverside's rotation, and a meeting that goes to Ana; its id."""
    from service import meetings, members
    from service.extensions import db
    from service.models import Community, Membership
    with app.app_context():
        riverside = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
        members.add_member(None, riverside, name="Bo Chen", email="bo@example.org")
        for membership in db.session.scalars(select(Membership).where(Membership.community_id == riverside.id)):
            membership.willing_to_facilitate = True
        meeting = meetings.create_meeting(None, riverside, title="Intercambio mensual",
                                          starts_at=datetime.now(timezone.utc) + timedelta(days=6))
        db.session.commit()
        meeting_id = meeting.id
        db.session.remove()
    return meeting_id


def _facilitator_of(app, meeting_id: int) -> str | None:
    from service.extensions import db
    from service.models import Meeting, Member
    with app.app_context():
        email = db.session.scalar(select(Member.email).join(Meeting, Meeting.facilitator_id == Member.id)
                                  .where(Meeting.id == meeting_id))
        db.session.remove()
    return email


def test_the_facilitator_hands_the_meeting_on_from_the_email_on_a_phone(app, personas, smtp, phone, base_url):
    from playwright.sync_api import expect

    meeting_id = _rotation_and_meeting(app)
    run_worker(app)
    [told] = [r.message for r in smtp.to("ana@example.org") if r.message["Subject"].startswith("Usted facilita")]
    text = told.get_body(("plain",)).get_content()
    link = on_live_server(re.search(r"\S+/facilitate/\S+", text).group(), base_url)

    phone.goto(link)  # opening it hands nothing on
    expect(phone.locator("html")).to_have_attribute("lang", "es")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Intercambio mensual")
    assert _facilitator_of(app, meeting_id) == "ana@example.org"

    button = phone.get_by_role("button", name=HAND_ON)
    box = button.bounding_box()
    assert box["height"] >= 44, f"too small to tap: {box}"
    button.tap()
    expect(phone.get_by_role("status")).to_have_text(DONE)
    assert _facilitator_of(app, meeting_id) == "bo@example.org"

    phone.goto(link)  # the same link again: already handed on, and it says to whom
    expect(phone.get_by_role("alert")).to_have_text(NOT_YOURS)
    expect(phone.get_by_role("button", name=HAND_ON)).to_have_count(0)
