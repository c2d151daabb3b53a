"""Markdown: rendered in linear time, sanitised HTML, readable plain text; plain-text announcements as HTML."""
import random
import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import flask_migrate
import pytest
from icalendar import Calendar
from sqlalchemy import select, text

from service import announcements, charters, markdown_text, meeting_emails, meetings, members
from service.config import PROJECT_ROOT
from service.extensions import db
from service.markdown_text import escape_markdown, plain_text_html, render, to_html, to_plain_text
from service.models import Community, Member, OutboundEmail
from tests.conftest import run_worker
from tests.test_migrations import scratch_app, scratch_postgres  # noqa: F401 (fixtures)

SIZE = 50_000
# Shapes that made Python-Markdown quadratic, and more that make a CommonMark parser work per character or line.
ADVERSARIAL = {
    "open brackets": "[",
    "images": "![",
    "stars": "*",
    "underscores": "_",
    "backticks": "`",
    "nested brackets": "[" * 50 + "a" + "]" * 50,
    "unclosed links": "[a](",
    "emphasis": "*a_",
    "code spans": "`a",
    "angle brackets": "<",
    "links": "[a](b)",
    "bare URLs": "http://a.b ",
    "autolinks": "<a@b.c>",
    "everything": "[*_`<![",
    "brackets in text": " (> #)[",
    "list items of brackets in text": "1. a[",
    "headings": "#\n",
    "short paragraphs": "a\n\n",
    "list items": "- a\n",
    "nested list items": "- - - - - - a\n",
    "list items of brackets": "- [\n",
    "lines": "a\n",
}
# Characters that start inline Markdown (and a few that end it), mixed into prose at these densities.
SPECIAL_CHARACTERS = "[]()!*_`<>&\\~:@#-\n"
DENSITIES = (0.1, 0.2, 0.3, 0.5)
# The criterion: any 50,000 characters render within 10 times the time of 50,000 characters of prose.
MAX_RATIO_TO_PROSE = 10


def _repeated(piece: str, size: int) -> str:
    return (piece * (size // len(piece) + 1))[:size]


def _prose(size: int) -> str:
    """The shipped lessons' English text (paragraphs, headings, lists), repeated to `size` characters."""
    bodies = [path.read_text().split("+++")[-1] for path in sorted((PROJECT_ROOT / "lessons").glob("*/*.en.md"))]
    return _repeated("\n\n".join(bodies), size)


def _mixed_into_prose(density: float, size: int, characters: str = SPECIAL_CHARACTERS) -> str:
    """Prose with each character replaced, at `density`, by one of `characters` (seeded: the same every run)."""
    chance = random.Random(f"markdown {density}")
    return "".join(chance.choice(characters) if chance.random() < density else character
                   for character in _prose(size))


ATTACKS = {**{name: _repeated(piece, SIZE) for name, piece in ADVERSARIAL.items()},
           **{f"{density:.0%} special": _mixed_into_prose(density, SIZE) for density in DENSITIES}}


def _seconds(text: str) -> float:
    start = time.perf_counter()
    render(text)
    return time.perf_counter() - start


def ratio_to_prose(text: str, runs: int = 3) -> float:
    """`text`'s render time over that of prose as long, each the best of `runs`, measured in turn (a busy
    machine slows both alike)."""
    prose = _prose(len(text))
    best_text = best_prose = float("inf")
    for _ in range(runs):
        best_prose = min(best_prose, _seconds(prose))
        best_text = min(best_text, _seconds(text))
    return best_text / best_prose


@pytest.mark.parametrize("text", ATTACKS.values(), ids=ATTACKS.keys())
def test_adversarial_markdown_renders_within_10_times_prose(text):
    ratio = ratio_to_prose(text)
    assert ratio <= MAX_RATIO_TO_PROSE, f"{ratio:.1f} times prose"


@pytest.fixture
def unguarded(monkeypatch):
    """The parser alone: no text is over budget."""
    monkeypatch.setattr(markdown_text, "MAX_COST_PER_CHARACTER", float("inf"))


ORDINARY = {
    **{path.name: path.read_text() for path in sorted((PROJECT_ROOT / "lessons").glob("*/*.md"))},
    "many links": " ".join(f"See [part {n}](https://example.org/p/{n}) or https://example.org/q/{n}, "
                           f"mail <team{n}@example.org>." for n in range(300)),
    "bold-heavy line": "**Now** **is** *the* **_time_** `to` **act**: " * 20,
    "short emphatic line": "**[!!!]** *`<go>`* [[[x]]] ___ **" * 3,
}


@pytest.mark.parametrize("markdown", ORDINARY.values(), ids=ORDINARY.keys())
def test_ordinary_markdown_renders_as_the_parser_alone_renders_it(markdown, request):
    guarded = render(markdown)
    request.getfixturevalue("unguarded")
    assert guarded == render(markdown)


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_a_block_over_budget_shows_as_typed_and_escaped():
    attack = "[[[[[[[[[[<script>alert(1)</script>](javascript:x) **bold** " * 2_000
    ordinary = "## Goals\n\nWe **share** [notes](https://example.org/n)."
    html, plain = render(f"{ordinary}\n\n{attack}")
    assert html.startswith('<h2>Goals</h2>\n<p>We <strong>share</strong> <a href="https://example.org/n"')
    assert html.endswith(f"<p>{_escaped(attack.strip())}</p>\n")
    assert "<script" not in html and "javascript" not in html.replace("](javascript:x)", "")
    assert plain.endswith(attack.strip())


def test_a_text_of_thousands_of_tiny_blocks_is_one_paragraph_as_typed():
    attack = "# Goals\n" + "- <i>*a*\n" * 5_000
    html, plain = render(attack)
    assert html == f"<p>{_escaped(attack.strip())}</p>\n"
    assert plain == attack.strip()


def test_html_keeps_structure_and_removes_anything_active():
    html = str(to_html("## Goals\n\nWe **share** [notes](https://example.org/n) at https://example.org/x\n\n"
                       "- one\n- two\n\n<script>alert(1)</script>\n\n[trap](javascript:alert(2)) "
                       "<img src=x onerror=alert(3)> ![logo](https://tracker.example/p.png)"))
    assert "<h2>Goals</h2>" in html and "<strong>share</strong>" in html and "<li>two</li>" in html
    assert '<a href="https://example.org/n" rel="noopener noreferrer">notes</a>' in html
    assert '<a href="https://example.org/x" rel="noopener noreferrer">https://example.org/x</a>' in html
    assert ">trap</a>" in html
    for active in ("<script", "alert(", "javascript:", "onerror", "<img", "tracker.example"):
        assert active not in html


def test_render_stores_the_same_html_as_a_preview_and_the_plain_text():
    text = "# Title\n\nA *short* text."
    assert render(text).html == str(to_html(text))
    assert render(text).plain == to_plain_text(text)
    assert render("") == ("", "")


def test_plain_text_reads_without_markdown_marks():
    text = to_plain_text(
        "# Our charter\n\n## Purpose\n\nWe learn **together** and _share_ `notes`, see [our guide](https://example.org/g),"
        " <https://example.org/raw> or write to ana@example.org.\n\n"
        "- one\n- two\n  - nested *item*\n\n3. third\n4. fourth\n\n> quoted **words**\n\n"
        "```\ncode stays\n```\n\n***\n\n<div>raw <b>html</b><script>alert(1)</script></div>\n\n"
        "A line  \nbroken, [a trap](javascript:alert(1)) and \\*escaped\\*.")
    assert text == (
        "Our charter\n===========\n\n"
        "Purpose\n-------\n\n"
        "We learn together and share notes, see our guide <https://example.org/g>,"
        " https://example.org/raw or write to ana@example.org.\n\n"
        "- one\n- two\n  - nested item\n\n3. third\n4. fourth\n\n> quoted words\n\n"
        "    code stays\n\n* * *\n\nraw html\n\n"
        "A line\nbroken, a trap and *escaped*.")


def test_a_loose_list_keeps_its_blank_lines():
    assert to_plain_text("1. a\n\n   more of a\n2. b") == "1. a\n\n   more of a\n\n2. b"


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)> *Sam* [me](javascript:alert(2))",
                                  "Ana_Lee `code` #1 + - . ! | ~ { } ( ) \\ & &amp; == ___"])
def test_an_escaped_name_renders_as_exactly_that_text(name):
    markdown = f"Approved by {escape_markdown(name)}."
    html = str(to_html(markdown))
    expected = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert html == f"<p>Approved by {expected}.</p>\n"
    assert to_plain_text(markdown) == f"Approved by {name}."


def test_a_plain_text_announcement_keeps_its_lines_and_links_its_urls():
    html = str(plain_text_html("Hello <b>all</b> & friends,\nthe notes: https://example.org/notes?a=1&b=2\n\n"
                               "# not a heading\n- not a list\n\nwww.example.org and javascript:alert(1)"))
    assert html == (
        "<p>Hello &lt;b&gt;all&lt;/b&gt; &amp; friends,<br>\n"
        'the notes: <a href="https://example.org/notes?a=1&amp;b=2" rel="noopener noreferrer">'
        "https://example.org/notes?a=1&amp;b=2</a></p>\n"
        "<p># not a heading<br>\n- not a list</p>\n"
        "<p>www.example.org and javascript:alert(1)</p>\n")


# --- in the emails members receive ----------------------------------------------------------------------------


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _parts(received) -> tuple[str, str]:
    """The plain-text and HTML parts, with the wire's CRLF line ends read as newlines."""
    message = received.message
    return tuple(message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))


def test_an_announcement_keeps_its_line_breaks_and_links_its_urls(app, ctx, personas, smtp):
    body = "Hi all,\nthe notes are at https://example.org/notes?week=3&lang=en\n\nBring <b>ideas</b> & questions."
    announcements.send_announcement(None, _riverside(), "Notes", body, "nonce-markdown")
    db.session.commit()
    run_worker(app)
    text, html = _parts(smtp.to("ana@example.org")[0])
    assert "Hi all,<br>\nthe notes are at " in html
    link = re.search(r'<a href="https://example.org/notes\?week=3&amp;lang=en"[^>]*>([^<]*)</a>', html)
    assert link and link.group(1) == "https://example.org/notes?week=3&amp;lang=en"
    assert "<p>Bring &lt;b&gt;ideas&lt;/b&gt; &amp; questions.</p>" in html and "<b>" not in html
    assert "the notes are at https://example.org/notes?week=3&lang=en" in text  # the text part as written
    assert "Bring <b>ideas</b> & questions." in text


def test_an_invitation_shows_the_agenda_as_text_and_html(app, ctx, personas, smtp):
    meeting = meetings.create_meeting(
        None, _riverside(), starts_at=datetime.now(timezone.utc) + timedelta(days=3), title="Monthly call",
        agenda="## Plan\n\n1. **Welcome**\n2. Read [the notes](https://example.org/n)\n\n<script>alert(1)</script>")
    db.session.commit()
    run_worker(app)
    received = smtp.to("ana@example.org")[0]
    text, html = _parts(received)
    assert "Plan\n----\n\n1. Welcome\n2. Read the notes <https://example.org/n>" in text
    assert "**" not in text and "<script" not in text
    assert re.search(r"<li[^>]*><strong[^>]*>Welcome</strong></li>", html) and "<script" not in html
    assert db.session.get(type(meeting), meeting.id).agenda_html == str(to_html(meeting.agenda))
    calendar = next(part for part in received.message.walk() if part.get_content_type() == "text/calendar")
    [event] = Calendar.from_ical(calendar.get_payload(decode=True)).walk("VEVENT")
    assert str(event["DESCRIPTION"]).startswith("Plan\n----\n\n1. Welcome\n2. Read the notes <https://example.org/n>")


def test_a_changed_agenda_is_rendered_again_for_the_update(app, ctx, personas, smtp, client):
    starts_at = datetime.now(timezone.utc) + timedelta(days=3)
    meeting = meetings.create_meeting(None, _riverside(), starts_at=starts_at, title="Call", agenda="Old *plan*")
    db.session.commit()
    meetings.update_meeting(None, meeting, starts_at=starts_at, title="Call", agenda="New **plan**\n\n- bring notes")
    db.session.commit()
    run_worker(app)
    update = [m for m in smtp.to("ana@example.org") if m.message.get_body(("plain",)).get_content().count("New")]
    text, html = _parts(update[0])
    assert "New plan\n\n- bring notes" in text and "Old" not in text
    assert re.search(r"New <strong[^>]*>plan</strong>", html) and "Old" not in html
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    page = client.get(urlsplit(meeting_emails.rsvp_links(meeting, ana)["page"]).path)  # the member's meeting page
    assert page.status_code == 200 and "New <strong>plan</strong>" in page.get_data(as_text=True)


def test_a_charter_of_50000_adversarial_characters_is_proposed_and_sent(app, ctx, personas, smtp, client):
    community = _riverside()
    members.add_member(None, community, name="Sam Ortiz", email="sam@example.org")
    db.session.commit()
    body = _repeated(ADVERSARIAL["everything"], charters.MAX_BODY)
    charter = charters.current_draft(community)
    charters.save_draft(None, charter, body)
    charters.propose(None, charter)
    db.session.commit()
    run_worker(app)
    rows = db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "charter_proposal")).all()
    assert sorted((row.recipient, row.status) for row in rows) == [("ana@example.org", "sent"),
                                                                   ("sam@example.org", "sent")]
    text, html = _parts(smtp.to("sam@example.org")[0])
    assert "<script" not in html and "<img" not in html
    assert text.count("[") >= 5_000  # the brackets were text, and stay text


# --- the migration renders what was saved before it ------------------------------------------------------------

def test_the_migration_renders_existing_texts(scratch_app):
    flask_migrate.upgrade(revision="597205462b50")  # before the rendered columns
    markdown = "## Goals\n\nWe **share** [notes](https://example.org/n)\n\n- one\n- two"
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO community (id, name, description, time_zone, stage, digest_cadence, created_at)"
            " VALUES (1, 'Riverside COP', '', 'America/Chicago', 'forming', 'biweekly', CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO charter (community_id, version, body, status, created_at)"
            " VALUES (1, 1, :body, 'ratified', CURRENT_TIMESTAMP)"), {"body": markdown})
        connection.execute(text(
            "INSERT INTO meeting (community_id, uid, sequence, title, agenda, starts_at, duration_minutes, location,"
            " video_url, status, created_at, updated_at) VALUES (1, 'm@test', 0, 'Call', :agenda, CURRENT_TIMESTAMP,"
            " 60, '', '', 'scheduled', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"agenda": markdown})
        connection.execute(text(
            "INSERT INTO lesson (id, slug, title_en, title_es, summary_en, summary_es, built_in, created_at)"
            " VALUES (1, 'l', 'L', '', '', '', false, CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO lesson_module (lesson_id, position, title_en, title_es, goal_en, goal_es, body_en, body_es,"
            " reflection_en, reflection_es, practice_prompt_en, practice_prompt_es)"
            " VALUES (1, 0, 'M', '', 'G', '', :body, '', '', '', '', '')"), {"body": markdown})
    flask_migrate.upgrade(revision="0006_b")
    expected = render(markdown)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT body_html, body_plain FROM charter")).one() == expected
        assert connection.execute(text("SELECT agenda_html, agenda_plain FROM meeting")).one() == expected
        assert connection.execute(text(
            "SELECT body_html_en, body_plain_en, body_html_es, body_plain_es FROM lesson_module")).one() == (
            *expected, "", "")
    assert "<strong>share</strong>" in expected.html and "- two" in expected.plain
