"""An invitation says what its answer links do: open the meeting's page, where one tap confirms; no "one click"."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from service import email_render, meetings, members
from service.extensions import db
from service.models import Community, Coordinator, Member, OutboundEmail


def test_invitations_say_the_page_asks_to_confirm_in_english_and_spanish(app, ctx, personas):
    riverside = db.session.get(Community, personas["riverside"])
    alice = db.session.get(Coordinator, personas["alice"])
    members.add_member(alice, riverside, name="Dan Reed", email="dan@example.org", language="en")
    meetings.create_meeting(alice, riverside, title="Monthly call",
                            starts_at=datetime.now(timezone.utc) + timedelta(days=7))
    db.session.commit()
    said = {}
    for row in db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "meeting_invitation")):
        member = db.session.get(Member, row.member_id)
        email = email_render.render(row, member, riverside)
        said[member.language] = (email.text, email.html)
    text, html = said["en"]
    assert "confirm it with one tap" in text and "confirm it with one tap" in html
    assert "one click" not in text.lower() + html.lower()
    text, html = said["es"]
    assert "la confirma con un toque" in text and "la confirma con un toque" in html
    assert "un clic" not in text.lower() + html.lower()
