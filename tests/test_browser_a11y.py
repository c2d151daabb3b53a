"""axe-core on every page, in Chromium, at 1280 px and at 390 px: no serious or critical violation anywhere.

The pages are not a hand-kept list. Dashboard pages are every GET route of
app.url_map, filled with a seeded community's real objects (the same filling
tests/test_authorization.py uses); member pages are every link on our site
found in the emails that community's outbox holds, rendered as each member
receives them. A GET route reached neither way must be in EXEMPT with the
reason, so a page added later is checked without anyone remembering to.

axe-core comes from the npm registry (`make axe`, which .ci/run calls) into
.cache/axe/; without it the test is skipped here and fails in CI.
"""
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from service.extensions import db
from tests.browser import PHONE, watched_page
from tests.conftest import PASSWORD
from tests.services import require
from tests.test_authorization import community_objects, dashboard_rules, fill, is_member_link

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / ".cache/axe/node_modules/axe-core/axe.min.js"
WIDTHS = {"1280 px": {"viewport": {"width": 1280, "height": 800}}, "390 px": PHONE}
FAILING_IMPACTS = ("serious", "critical")

# A member whose links are preferred: their address is long enough to push a phone's page sideways.
LONG_ADDRESS = "maximiliano.bartholomew-fernandez.coordinacion@organizacion-comunitaria.example.org"

# GET routes that are not pages a person reads, with the reason.
EXEMPT = {
    "static": "style sheets and files, not pages",
    "health.healthz": "a JSON answer for monitors",
    "health.readyz": "a JSON answer for monitors",
    "outbox.html_part": "an email's HTML part as the embedded mail sink caught it (embedded mode only); "
                        "the same HTML is checked through the digest preview's frame",
    "member_links.test_copy": "the page a test copy's stand-in link opens; it says the link acts as nobody "
                              "and is checked by tests/test_member_links.py",
    "post_attachments.download": "a file a member attached to a post, always downloaded, never shown as a page; "
                                 "its headers are checked by tests/test_conversations_safety.py",
}
# Pages reached without a coordinator's session besides the emails' links, each built by its own function.
PUBLIC_PAGES = {
    "auth.login": lambda objects: "/login",
    "intake_public.join": lambda objects: objects["join_url"],
    "password_reset.reset": lambda objects: objects["reset_url"],
    "password_reset.forgot": lambda objects: "/forgot-password",
    "password_reset.accept_invitation": lambda objects: objects["invitation_url"],
    "practice_links.share": lambda objects: objects["share_url"],
    # The archive's list is linked from every email; a thread and a file only from the list.
    "member_archive.thread": lambda objects: f"{objects['archive_url']}/{objects['conversation_id']}",
    "member_archive.attachment": lambda objects: f"{objects['archive_url']}/attachments/{objects['attachment_id']}",
}
# A route whose id is not one of the community's rows gets its own (rows outside any community).
OWN_IDS = {
    "inbox.show_unaddressed": "unaddressed_id",
    "inbox.raw_unaddressed": "unaddressed_id",
}


def _seed(app, personas) -> dict:
    """Riverside with a second member, a meeting held with feedback answered, a charter proposed, a lesson, mail
    received nowhere, and the objects tests/test_authorization.py makes for every id a route takes."""
    from service import charters, facilitation, form_requests, intake, lesson_files, members, password_reset, practices
    from service import meetings, responses
    from service.conversations import archive
    from service.models import (Community, Coordinator, FormResponse, InboundMessage, Invitation, LessonModule,
                                Meeting, Member, Membership)
    objects = community_objects(app, personas["riverside"], "alice@example.org")
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        alice = db.session.get(Coordinator, personas["alice"])
        members.add_member(alice, riverside, name="Maximiliano Bartholomew-Fernández", email=LONG_ADDRESS,
                           organization="Casa Verde", language="es")
        for membership in db.session.scalars(select(Membership).where(Membership.community_id == riverside.id)):
            facilitation.set_willing(alice, membership, True)
        ids = sorted(db.session.scalars(select(Membership.member_id).where(
            Membership.community_id == riverside.id)))
        meetings.create_meeting(alice, riverside, title="Summer exchange",
                                starts_at=datetime.now(timezone.utc) + timedelta(days=10))
        held = meetings.create_meeting(alice, riverside, title="Spring check-in",
                                       starts_at=datetime.now(timezone.utc) + timedelta(days=3))
        db.session.flush()
        past = datetime.now(timezone.utc) - timedelta(days=2)
        db.session.execute(update(Meeting).where(Meeting.id == held.id).values(starts_at=past))
        db.session.execute(update(Invitation).where(Invitation.meeting_id == held.id).values(attended=True))
        held.attendance_taken_at = past + timedelta(hours=2)
        held.feedback_due_at = past + timedelta(hours=3)
        db.session.commit()
        meetings.send_feedback_requests(held.id)
        for member_id, usefulness in zip(ids, (4, 5, 3)):
            response = db.session.scalar(select(FormResponse).where(
                FormResponse.member_id == member_id,
                FormResponse.request_id == form_requests.request_for_meeting(held).id))
            responses.save(response, {"usefulness": str(usefulness), "recommend": "9",
                                      "what_worked": "Hearing how the others run their evening hours."}, True)
        charter = charters.current_draft(riverside)
        charters.save_draft(alice, charter, "## Purpose\n\nWe learn together how to serve families.")
        charters.propose(alice, charter)
        lesson = lesson_files.load_lesson_dir(lesson_files.BUILT_IN_LESSON_DIR)
        module_id = db.session.scalar(select(LessonModule.id).where(LessonModule.lesson_id == lesson.id).limit(1))
        unaddressed = InboundMessage(via="test", message_id="<nowhere@mail.example.net>", purpose="unknown",
                                     raw=b"Subject: Hello\r\n\r\nIs this the right address?\r\n",
                                     status="unclear", subject="Hello", text="Is this the right address?",
                                     reason="no community")
        db.session.add(unaddressed)
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        objects.update(
            lesson_id=lesson.id, module_id=module_id, unaddressed_id=None,
            join_url=_path(intake.public_link(riverside)),
            reset_url=_path(password_reset.reset_url(alice)),
            invitation_url=_path(password_reset.INVITATION.url(alice)),
            share_url=_path(practices.share_url(riverside, ana)),
            archive_url=_path(archive.archive_url(ana.id, riverside.id)))
        db.session.commit()
        objects["unaddressed_id"] = unaddressed.id
        db.session.remove()
    return objects


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def dashboard_pages(app, objects) -> list[tuple[str, str]]:
    """(endpoint, path) for every GET route behind the login, filled with the seeded objects."""
    pages = []
    for rule in dashboard_rules(app):
        if "GET" not in rule.methods or rule.endpoint in EXEMPT:
            continue
        own = {"inbound_message_id": objects[OWN_IDS[rule.endpoint]]} if rule.endpoint in OWN_IDS else {}
        with app.app_context():
            pages += [(rule.endpoint, url) for url in fill(app, rule, {**objects, **own})]
    return pages


def member_pages(app) -> list[tuple[str, str]]:
    """(endpoint, path) of every link to a member page in the emails the outbox holds, one per endpoint,
    LONG_ADDRESS's own where they got that email."""
    from service import email_render
    from service.mailer import KINDS
    from service.models import Community, Member, OutboundEmail
    adapter = app.url_map.bind("localhost")
    found = {}
    with app.app_context():
        for row in db.session.scalars(select(OutboundEmail).where(OutboundEmail.member_id.is_not(None))
                                      .order_by(OutboundEmail.recipient != LONG_ADDRESS, OutboundEmail.id)):
            if row.kind not in KINDS:
                continue  # the stand-in row tests/test_authorization.py adds for the Outbox's routes
            community = db.session.get(Community, row.community_id) if row.community_id else None
            email = email_render.render(row, db.session.get(Member, row.member_id), community)
            for href in re.findall(r'href="(https?://[^"]+)"', email.html):
                path = _path(href.replace("&amp;", "&"))
                try:
                    rule, _arguments = adapter.match(urlsplit(path).path, method="GET", return_rule=True)
                except Exception:
                    continue
                if is_member_link(rule):
                    found.setdefault(rule.endpoint, path)
        db.session.remove()
    return sorted(found.items())


def axe_violations(page, source: str) -> list[str]:
    page.add_script_tag(content=source)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']} {v['id']}: {v['help']} at {node['target']} ({node['html'][:160]})"
            for v in results["violations"] if v["impact"] in FAILING_IMPACTS for node in v["nodes"]]


def check(page, pages, source, width, problems, scroll_too=False) -> set[str]:
    """Open each page, run axe; on a phone, a member page must not scroll sideways. Returns the endpoints seen."""
    seen = set()
    for endpoint, path in pages:
        where = f"{path} ({endpoint}) at {width}"
        response = page.request.get(path, max_redirects=0)  # with the tab's cookies; a download never opens
        if response.status != 200:
            problems.append(f"{where}: answered {response.status}")
            continue
        seen.add(endpoint)
        if "text/html" not in response.headers.get("content-type", ""):
            continue  # a download or raw text: nothing for axe to read
        page.goto(path)
        problems += [f"{where}: {v}" for v in axe_violations(page, source)]
        if scroll_too:
            wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if wide[0] > wide[1]:
                problems.append(f"{where}: scrolls sideways ({wide[0]} px wide in a {wide[1]} px window)")
    return seen


@pytest.mark.timeout(900)  # every page twice: minutes, more on a busy machine
def test_no_serious_or_critical_axe_violation_on_any_page(app, browser, base_url, personas):
    require(AXE.is_file(), f"axe-core at {AXE} (make axe)")
    source = AXE.read_text()
    started = time.monotonic()
    objects = _seed(app, personas)
    dashboard = dashboard_pages(app, objects)
    members = member_pages(app)
    public = [(endpoint, build(objects)) for endpoint, build in PUBLIC_PAGES.items()]
    problems, seen = [], set()
    for width, options in WIDTHS.items():
        with watched_page(browser, base_url, locale="en-US", bypass_csp=True, **options) as page:
            seen |= check(page, members + public, source, width, problems, scroll_too=width == "390 px")
            page.goto("/login")
            page.get_by_label("Email").fill("carol@example.org")  # an admin: the pages for admins too
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base_url}/")
            seen |= check(page, dashboard, source, width, problems)
    get_routes = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    unchecked = get_routes - seen - set(EXEMPT)
    assert not problems, "\n".join(problems)
    assert not unchecked, f"GET routes neither checked nor exempt (seed an object or a link for them): {unchecked}"
    print(f"axe: {len(dashboard)} dashboard, {len(members) + len(public)} member and public pages, "
          f"at {len(WIDTHS)} widths, in {time.monotonic() - started:.1f} s")
