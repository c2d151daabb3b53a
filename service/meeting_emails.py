"""What a meeting's emails say about it: its time in words, the member's RSVP links, and each email's extras at
send time (the meeting as it is now, in the member's language, with its calendar part)."""
from flask_babel import force_locale, gettext as _

from service import bilingual, facilitation, moments
from service.ical import meeting_calendar
from service.links import public_url
from service.markdown_text import stored_html
from service.meetings import meeting_and_invitation
from service.models import Community, Meeting, Member
from service.models.meetings import RSVP_ANSWERS
from service.tokens import make_token


def when_text(meeting: Meeting, language: str) -> str:
    """"Tuesday, March 3, 2026 6:00 PM, Central Time (Chicago)" in the reader's language."""
    return moments.text(meeting.starts_at, meeting.community.time_zone, language, "moment")


def rsvp_links(meeting: Meeting, member: Member) -> dict[str, str]:
    token = make_token("rsvp", member.id, meeting.id)
    links = {"page": public_url("rsvp.answer", meeting_id=meeting.id, token=token)}
    links.update({answer: public_url("rsvp.answer", meeting_id=meeting.id, token=token, answer=answer)
                  for answer in RSVP_ANSWERS})
    return links


def email_extras(row, member: Member, community: Community) -> dict:
    """What meeting emails need at send time: the meeting as it is now, links, the calendar part."""
    stored, invitation = meeting_and_invitation(row.context["meeting_id"], member)
    facilitator = facilitation.name_in(stored.community, stored.facilitator_id)
    meeting = bilingual.InLanguage(stored, member.language)  # its title and agenda in the member's language
    extras = {
        "meeting": meeting,
        "written_in": meeting.written_in,
        "facilitator_name": facilitator,
        "when": when_text(meeting, member.language),
        "time_zone": meeting.community.time_zone,
        "agenda_html": stored_html(meeting.agenda_html),
        "answer": invitation.answer if invitation else None,
        "rsvp": rsvp_links(meeting, member),
        "feedback_url": public_url("rsvp.feedback", meeting_id=meeting.id,
                                   token=make_token("feedback", member.id, meeting.id)),
    }
    if row.kind in ("meeting_invitation", "meeting_update", "meeting_cancelled"):
        method = "CANCEL" if row.kind == "meeting_cancelled" else "REQUEST"
        description = meeting.agenda_plain + ("\n\n" + extras["rsvp"]["page"] if method == "REQUEST" else "")
        if facilitator:
            with force_locale(member.language):
                description = _("Facilitator: %(name)s", name=facilitator) + "\n\n" + description
        extras["calendar"] = (meeting_calendar(meeting, member, extras["answer"], method, description), method)
    return extras
