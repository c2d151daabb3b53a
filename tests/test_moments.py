"""One way to show time: every date and time a person reads is in the community's zone and the reader's
language (the coordinator's on the dashboard, the member's on member pages and in emails), never with
seconds or in raw UTC; pages keep the exact UTC moment in <time datetime>."""
import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from service import email_render, meeting_emails, meetings, moments
from service.extensions import db
from service.models import Community, Coordinator, Member, OutboundEmail

DENVER = "America/Denver"
UTC = timezone.utc
SECONDS = re.compile(r"\d:\d\d:\d\d")  # a time printed with its seconds
RAW = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d")  # a database-style timestamp in the page's text


def visible(html: str) -> str:
    """The page's words without its tags and attributes (a <time datetime="…Z"> attribute is meant to be ISO)."""
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("language, expected", [
    ("en", {"moment": "Tuesday, March 3, 2026 6:00\u202fPM, Mountain Time (Denver)",
            "short": "Tue, Mar 3, 2026, 6:00\u202fPM", "day": "Mar 3, 2026", "time": "6:00\u202fPM",
            "month": "March 2026"}),
    ("es", {"moment": "martes, 3 de marzo de 2026 18:00, hora de las Montañas Rocosas (Denver)",
            "short": "mar, 3 mar 2026, 18:00", "day": "3 mar 2026", "time": "18:00", "month": "marzo de 2026"}),
])
def test_each_style_in_english_and_spanish(language, expected):
    moment = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # 18:00 the evening before in Denver (UTC-7)
    assert {style: moments.text(moment, DENVER, language, style) for style in moments.STYLES} == expected


@pytest.mark.parametrize("before, after", [
    (datetime(2026, 3, 8, 1, 0, tzinfo=UTC), datetime(2026, 3, 10, 0, 0, tzinfo=UTC)),  # clocks go forward Mar 8
    (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), datetime(2026, 11, 3, 1, 0, tzinfo=UTC)),  # and back Nov 1
])
def test_a_six_pm_meeting_reads_six_pm_on_both_sides_of_a_clock_change(before, after):
    for moment in (before, after):
        assert moments.text(moment, DENVER, "en", "time") == "6:00\u202fPM"
        assert moments.text(moment, DENVER, "es", "time") == "18:00"
    assert moments.text(before, DENVER, "en", "day") != moments.text(after, DENVER, "en", "day")


def test_the_night_the_clocks_change_each_moment_keeps_its_own_wall_clock_time():
    spring = [datetime(2026, 3, 8, 8, 30, tzinfo=UTC), datetime(2026, 3, 8, 9, 30, tzinfo=UTC)]  # an hour apart
    assert [moments.text(m, DENVER, "en", "short") for m in spring] == [
        "Sun, Mar 8, 2026, 1:30\u202fAM", "Sun, Mar 8, 2026, 3:30\u202fAM"]  # 2:00 to 3:00 never happens
    autumn = [datetime(2026, 11, 1, 7, 30, tzinfo=UTC), datetime(2026, 11, 1, 8, 30, tzinfo=UTC)]
    assert [moments.text(m, DENVER, "es", "short") for m in autumn] == ["dom, 1 nov 2026, 1:30"] * 2  # lived twice
    # …which the page tells apart in its machine-readable attribute.
    assert [str(moments.html(m, DENVER, "es")) for m in autumn] == [
        '<time datetime="2026-11-01T07:30:00Z">dom, 1 nov 2026, 1:30</time>',
        '<time datetime="2026-11-01T08:30:00Z">dom, 1 nov 2026, 1:30</time>']


def test_a_moment_of_no_community_is_in_utc_and_says_so():
    moment = datetime(2026, 3, 4, 1, 0)  # naive, as SQLite hands it back: UTC
    assert moments.text(moment, None, "en") == "Wed, Mar 4, 2026, 1:00\u202fAM UTC"
    assert moments.text(moment, None, "es", "moment") == "miércoles, 4 de marzo de 2026 1:00, UTC"
    assert moments.text(None, DENVER, "en") == "—"
    assert moments.text(date(2026, 3, 1), DENVER, "es", "month") == "marzo de 2026"


def test_an_unknown_style_is_refused_rather_than_guessed():
    with pytest.raises(ValueError, match="unknown style 'long'"):
        moments.text(datetime(2026, 3, 4, tzinfo=UTC), DENVER, "en", "long")


def test_email_templates_have_the_same_styles_as_plain_text(app):
    moment = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    with app.app_context():
        for language, words in (("en", "Tuesday, March 3, 2026 6:00\u202fPM"),
                                ("es", "martes, 3 de marzo de 2026 18:00")):
            template = email_render._environment(language).from_string("{{ at|moment(zone) }} / {{ at|day(zone) }}")
            rendered = template.render(at=moment, zone=DENVER)
            assert rendered.startswith(words) and "<time" not in rendered


# --- on pages and in emails ---------------------------------------------------------------------------------

def _denver_meeting(personas, starts_at: datetime, title: str = "Monthly call") -> int:
    """A meeting of Riverside, moved to Denver, starting at `starts_at` (set after creation: it may be past)."""
    riverside = db.session.get(Community, personas["riverside"])
    riverside.time_zone = DENVER
    meeting = meetings.create_meeting(db.session.get(Coordinator, personas["alice"]), riverside, title=title,
                                      starts_at=datetime.now(UTC) + timedelta(days=7))
    db.session.flush()
    db.session.execute(update(meetings.Meeting).where(meetings.Meeting.id == meeting.id).values(starts_at=starts_at))
    db.session.commit()
    return meeting.id


def _speak(app, personas, language: str) -> None:
    with app.app_context():
        db.session.get(Coordinator, personas["alice"]).language = language
        db.session.commit()


def test_a_meeting_page_shows_its_start_in_the_communitys_zone_in_the_coordinators_language(app, alice_client,
                                                                                             personas):
    with app.app_context():
        after = _denver_meeting(personas, datetime(2026, 11, 3, 1, 0, tzinfo=UTC), "After the change")
        before = _denver_meeting(personas, datetime(2026, 11, 1, 0, 0, tzinfo=UTC), "Before the change")
    base = f"/communities/{personas['riverside']}/meetings"
    page = alice_client.get(f"{base}/{after}").get_data(as_text=True)
    assert ('<time datetime="2026-11-03T01:00:00Z">Monday, November 2, 2026 6:00\u202fPM, Mountain Time (Denver)'
            '</time>') in page
    listing = alice_client.get(f"{base}/").get_data(as_text=True)
    assert '<time datetime="2026-11-03T01:00:00Z">Mon, Nov 2, 2026, 6:00\u202fPM</time>' in listing
    assert '<time datetime="2026-11-01T00:00:00Z">Sat, Oct 31, 2026, 6:00\u202fPM</time>' in listing
    for html in (page, listing):
        assert not SECONDS.search(visible(html)) and not RAW.search(visible(html)) and "UTC" not in visible(html)

    _speak(app, personas, "es")
    page = alice_client.get(f"{base}/{before}").get_data(as_text=True)
    assert ('<time datetime="2026-11-01T00:00:00Z">sábado, 31 de octubre de 2026 18:00, hora de las Montañas'
            ' Rocosas (Denver)</time>') in page
    listing = alice_client.get(f"{base}/").get_data(as_text=True)
    assert '<time datetime="2026-11-03T01:00:00Z">lun, 2 nov 2026, 18:00</time>' in listing
    assert not SECONDS.search(visible(listing)) and "UTC" not in visible(listing)


def test_the_outbox_shows_when_an_email_was_queued_in_the_communitys_zone_in_the_coordinators_language(
        app, alice_client, personas):
    with app.app_context():
        _denver_meeting(personas, datetime(2026, 3, 20, 0, 0, tzinfo=UTC))
        invitation = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "meeting_invitation"))
        invitation.created_at = datetime(2026, 3, 8, 9, 30, 15, tzinfo=UTC)  # 3:30 AM, the clocks just went forward
        db.session.commit()
        email_id = invitation.id
    _speak(app, personas, "es")
    listing = alice_client.get("/outbox/").get_data(as_text=True)
    assert re.search(r'<time datetime="2026-03-08T09:30:15Z">dom, 8 mar 2026, 3:30</time></a>\s*'
                     r'<span class="zone">hora de las Montañas Rocosas \(Denver\)</span>', listing)
    page = alice_client.get(f"/outbox/{email_id}").get_data(as_text=True)
    assert "Los horarios están en hora de las Montañas Rocosas (Denver)" in page
    assert '<time datetime="2026-03-08T09:30:15Z">dom, 8 mar 2026, 3:30</time>' in page
    for html in (listing, page):
        assert not SECONDS.search(visible(html)) and not RAW.search(visible(html)) and "UTC" not in visible(html)


def test_a_member_reads_the_meeting_time_in_their_language_on_the_page_and_in_the_email(app, client, personas):
    with app.app_context():
        meeting_id = _denver_meeting(personas, datetime(2026, 3, 10, 0, 0, tzinfo=UTC))  # Mar 9, 18:00 MDT
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))  # Spanish
        meeting = db.session.get(meetings.Meeting, meeting_id)
        link = urlsplit(meeting_emails.rsvp_links(meeting, ana)["page"])
        row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "meeting_invitation",
                                                            OutboundEmail.member_id == ana.id))
        email = email_render.render(row, ana, meeting.community)
    spoken = "lunes, 9 de marzo de 2026 18:00, hora de las Montañas Rocosas (Denver)"
    assert spoken in email.text and spoken in email.html and "<time" not in email.html
    page = client.get(f"{link.path}?{link.query}").get_data(as_text=True)
    assert f'<time datetime="2026-03-10T00:00:00Z">{spoken}</time>' in page
    assert not SECONDS.search(visible(page)) and "UTC" not in visible(page)
