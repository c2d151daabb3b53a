"""The Outbox page at length: search by recipient and subject, the subject column, readable kinds, local times,
pages that keep the search."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text, update

from service import announcements, mailer, members, outbox
from service.clock import now
from service.extensions import db
from service.models import Community, Meeting, Member, OutboundEmail
from tests.conftest import CSRF_RE, PASSWORD, csrf_from, login


def _community(name: str) -> Community:
    return db.session.scalar(select(Community).where(Community.name == name))


def _listed_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<td><a href="/outbox/(\d+)">', html)]


@pytest.fixture
def mail(app, personas):
    """Riverside: Kim welcomed, a "June agenda" announcement, an invitation to "Budget clinic" (Ana reads
    Spanish); Lakeside: its own "June agenda" announcement, which Riverside's coordinator must never see."""
    with app.app_context():
        riverside, lakeside = _community("Riverside COP"), _community("Lakeside COP")
        members.add_member(None, riverside, name="Kim Doe", email="kim@example.org", welcome=True)
        announcements.send_announcement(None, riverside, "June agenda", "See you Tuesday.", "n-1")
        announcements.send_announcement(None, lakeside, "June agenda", "Lakeside only.", "n-2")
        meeting = Meeting(community_id=riverside.id, uid="budget@test", title="Budget clinic",
                          starts_at=now() + timedelta(days=7))
        db.session.add(meeting)
        db.session.flush()
        people = db.session.scalars(select(Member).where(Member.email.in_(["ana@example.org", "kim@example.org"]))
                                    .order_by(Member.id)).all()
        mailer.queue_bulk("meeting_invitation", people, key_for=lambda m: f"invite:{m.id}",
                          context_for=lambda m: {"meeting_id": meeting.id}, community=riverside)
        db.session.commit()
        return {"riverside": riverside.id, "lakeside": lakeside.id}


def _sql_ids(app, where: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(text(f"SELECT id FROM outbound_email WHERE {where} ORDER BY id DESC")))


def test_search_finds_recipients_and_subjects_of_the_coordinators_communities_only(app, alice_client, mail):
    riverside = mail["riverside"]
    june = alice_client.get("/outbox/?q=JUNE").get_data(as_text=True)
    assert _listed_ids(june) == _sql_ids(app, f"community_id = {riverside} AND kind = 'announcement'")
    assert "Lakeside only" not in june and "ben@example.org" not in june and "2 emails match." in june
    kim = alice_client.get("/outbox/?q=kim@").get_data(as_text=True)
    assert _listed_ids(kim) == _sql_ids(app, "recipient = 'kim@example.org'")
    budget = alice_client.get("/outbox/?q=budget clinic").get_data(as_text=True)
    assert _listed_ids(budget) == _sql_ids(app, "kind = 'meeting_invitation'")
    nothing = alice_client.get("/outbox/?q=ben@example.org").get_data(as_text=True)
    assert _listed_ids(nothing) == [] and "No emails match." in nothing
    # The search narrows the other filters too, and they it.
    assert _listed_ids(alice_client.get("/outbox/?q=kim&kind=welcome").get_data(as_text=True)) == \
        _sql_ids(app, "recipient = 'kim@example.org' AND kind = 'welcome'")


def test_each_row_shows_its_subject_in_the_members_language_and_a_readable_kind(app, alice_client, mail):
    page = alice_client.get("/outbox/").get_data(as_text=True)
    rows = re.findall(r"<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*@example\.org)</td>", page)
    assert sorted(rows) == sorted([
        ("Meeting invitation", "Invitación: Budget clinic", "ana@example.org"),
        ("Meeting invitation", "Invitation: Budget clinic", "kim@example.org"),
        ("Announcement", "June agenda", "ana@example.org"),
        ("Announcement", "June agenda", "kim@example.org"),
        ("Welcome", "Welcome to Riverside COP", "kim@example.org")])
    assert '<option value="meeting_invitation">Meeting invitation</option>' in page


def test_times_are_in_the_communitys_time_zone(app, alice_client, mail):
    with app.app_context():
        db.session.execute(update(OutboundEmail).where(OutboundEmail.kind == "welcome").values(
            created_at=datetime(2026, 1, 15, 18, 5, tzinfo=timezone.utc)))
        db.session.commit()
    page = alice_client.get("/outbox/?kind=welcome").get_data(as_text=True)
    assert re.search(r'><time datetime="2026-01-15T18:05:00Z">Thu, Jan 15, 2026, 12:05\u202fPM</time></a>'
                     r' <span class="zone">Central Time \(Chicago\)</span>', page)  # UTC-6 in January


def test_pages_keep_the_search_in_their_links(app, alice_client, mail, monkeypatch):
    monkeypatch.setattr(outbox, "PAGE_SIZE", 1)
    expected = _sql_ids(app, "recipient = 'kim@example.org'")
    first = alice_client.get("/outbox/?q=kim").get_data(as_text=True)
    assert _listed_ids(first) == expected[:1]
    older = re.search(r'<a href="([^"]+)">Older', first).group(1).replace("&amp;", "&")
    assert "q=kim" in older and "page=2" in older
    assert _listed_ids(alice_client.get(older).get_data(as_text=True)) == expected[1:2]


@pytest.mark.parametrize("query", ["page=abc", "page=-1", "status=nope", "community=abc", "community=999999999999999",
                                   "kind=%00", "q=" + "x" * 3000, "q=%25_%5C"])
def test_bad_parameters_show_the_page_not_an_error(alice_client, mail, query):
    assert alice_client.get(f"/outbox/?{query}").status_code == 200


def test_what_a_row_shows_is_escaped(app, alice_client, mail):
    """Each row is written whole in Python (views/outbox.py): a coordinator's subject and a server's error in it
    appear as text, never as markup."""
    with app.app_context():
        announcements.send_announcement(None, _community("Riverside COP"), "<script>alert(1)</script> & more",
                                        "Body.", "n-3")
        db.session.execute(update(OutboundEmail).where(OutboundEmail.recipient == "kim@example.org",
                                                       OutboundEmail.kind == "welcome")
                           .values(status="failed", last_error='550 <b onmouseover="x()">no</b>'))
        db.session.commit()
    page = alice_client.get("/outbox/").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<b onmouseover" not in page
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</td>" in page
    assert "<td>550 &lt;b onmouseover=&#34;x()&#34;&gt;no&lt;/b&gt;</td>" in page


def test_pages_say_which_emails_they_show_of_how_many(app, alice_client, mail, monkeypatch):
    monkeypatch.setattr(outbox, "PAGE_SIZE", 2)
    hers = ("community_id IN (SELECT community_id FROM community_coordinator JOIN coordinator"
            " ON coordinator.id = coordinator_id WHERE coordinator.email = 'alice@example.org')")
    theirs = _sql_ids(app, hers)
    assert len(theirs) > 4
    pages, url = [], "/outbox/"
    while url:
        html = alice_client.get(url).get_data(as_text=True)
        shown, first = _listed_ids(html), 2 * len(pages) + 1
        assert f"Emails {first}–{first + len(shown) - 1} of {len(theirs)}" in html
        pages.append(shown)
        older = re.search(r'<a href="([^"]+)">Older', html)
        url = older and older.group(1).replace("&amp;", "&")
    assert [email_id for page in pages for email_id in page] == theirs
    pending = _sql_ids(app, f"{hers} AND status = 'pending'")
    html = alice_client.get("/outbox/?status=pending").get_data(as_text=True)
    assert f"Emails 1–{min(2, len(pending))} of {len(pending)}" in html and f"{len(pending)} emails match." in html
    html = alice_client.get("/outbox/?kind=meeting_invitation").get_data(as_text=True)
    assert "Emails 1–2 of 2" in html and "2 emails match." in html


def _sql(app, statement: str) -> None:
    """A change committed outside the app's session, as another process (a delivery worker) would make it."""
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text(statement))


def _row_of(page: str, kind: str, recipient: str) -> str:
    return re.search(rf"<tr><td>(?:(?!</tr>).)*<td>{kind}</td>(?:(?!</tr>).)*<td>{recipient}</td>(?:(?!</tr>).)*</tr>",
                     page).group(0)


def test_each_row_shows_every_change_at_the_next_look(app, alice_client, mail):
    """Rows are kept between looks (service/views/kept_outbox_rows.py); whatever changes what a row shows is on it
    at the next look, even a change no stamp follows (a delivery's outcome)."""
    for _look in range(2):
        page = alice_client.get("/outbox/").get_data(as_text=True)
    assert "Invitation: Budget clinic" in _row_of(page, "Meeting invitation", "kim@example.org")
    _sql(app, "UPDATE outbound_email SET status = 'failed', attempts = 2, last_error = 'mailbox full'"
              " WHERE kind = 'welcome'")
    welcome = _row_of(alice_client.get("/outbox/").get_data(as_text=True), "Welcome", "kim@example.org")
    assert '<span class="badge failed">failed</span></td><td>2</td><td>mailbox full</td>' in welcome
    _sql(app, "UPDATE meeting SET title = 'Budget review'")
    _sql(app, "UPDATE membership SET language = 'es' WHERE member_id = (SELECT id FROM member"
              " WHERE email = 'kim@example.org')")
    page = alice_client.get("/outbox/").get_data(as_text=True)
    assert "Invitación: Budget review" in _row_of(page, "Meeting invitation", "kim@example.org")
    assert "Invitación: Budget review" in _row_of(page, "Meeting invitation", "ana@example.org")
    _sql(app, "UPDATE community SET time_zone = 'Europe/Madrid' WHERE name = 'Riverside COP'")
    assert "Central European Time" in _row_of(alice_client.get("/outbox/").get_data(as_text=True),
                                              "Welcome", "kim@example.org")


def _retry_token(page: str) -> str:
    """The CSRF token of the page's "retry the failed emails" form (the page's layout has its own forms)."""
    return csrf_from(page[page.index('action="/outbox/retry"'):])


def test_the_same_page_in_another_session_carries_that_sessions_token(app, alice_client, mail):
    _sql(app, "UPDATE outbound_email SET status = 'failed', last_error = 'mailbox full' WHERE kind = 'welcome'")
    mine = alice_client.get("/outbox/").get_data(as_text=True)
    other = app.test_client()
    assert login(other, "alice@example.org", PASSWORD).status_code == 302
    theirs = other.get("/outbox/").get_data(as_text=True)  # the same page, now kept
    assert CSRF_RE.sub("", theirs) == CSRF_RE.sub("", mine) and _retry_token(theirs) != _retry_token(mine)
    response = other.post("/outbox/retry", data={"csrf_token": _retry_token(theirs)}, follow_redirects=True)
    assert "1 email will be sent again." in response.get_data(as_text=True)
    assert _sql_ids(app, "status = 'pending' AND kind = 'welcome'")
