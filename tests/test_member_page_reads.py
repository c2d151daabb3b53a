"""The pages members open from their email read what they show in one or two statements (bench/member_pages.py
measures what that saves), and still show it: the member's saved answers, their community's name, the meeting
in their language."""
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import event, select

from service import form_requests, meetings
from service.extensions import db
from service.models import Community, Member, Membership
from service.tokens import make_token
from tests.conftest import csrf_from


@contextmanager
def statements():
    """The SQL statements run inside the block."""
    seen: list[str] = []

    def record(_connection, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _ana() -> Member:
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def _membership(member: Member, community: Community) -> Membership:
    return db.session.scalar(select(Membership).where(Membership.member_id == member.id,
                                                      Membership.community_id == community.id))


def _feedback_path(language: str = "en") -> str:
    """Ana's link to the feedback form of a meeting of Riverside, which knows her in `language`."""
    ana, community = _ana(), _riverside()
    _membership(ana, community).language = language
    meeting = meetings.create_meeting(None, community, title="Monthly call", member_ids=[ana.id],
                                      starts_at=datetime.now(timezone.utc) + timedelta(days=1))
    form_request = form_requests.send_request(None, community, "feedback", "", [ana.id],
                                              datetime.now(timezone.utc) + timedelta(days=5), meeting=meeting)
    db.session.commit()
    response = form_requests.response_of(form_request, ana)
    return f"/m/forms/{response.id}/{make_token('form', ana.id, response.id)}"


def test_the_feedback_form_shows_the_saved_answers_after_two_reads(app, ctx, personas, client):
    path = _feedback_path()
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    saved = client.post(path, data={"csrf_token": csrf, "save_draft": "1", "usefulness": "4", "recommend": "10",
                                    "what_worked": "The <b>small</b> groups"})
    assert saved.status_code == 303
    with statements() as seen:
        page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and len(seen) == 2, seen
    assert "Riverside COP · Feedback on the meeting" in html
    assert '<input checked id="usefulness-3" name="usefulness" type="radio" value="4">' in html
    assert '<input checked id="recommend-10" name="recommend" type="radio" value="10">' in html
    assert '<input id="recommend-9" name="recommend" type="radio" value="9">' in html
    assert html.count("<input checked") == 2
    assert "\r\nThe &lt;b&gt;small&lt;/b&gt; groups</textarea>" in html


def test_a_members_first_visit_reads_their_form_in_one_statement_with_nothing_chosen(app, ctx, personas, client):
    path = _feedback_path()
    with statements() as seen:
        page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and len(seen) == 1, seen
    assert '<input id="usefulness-0" name="usefulness" type="radio" value="1">' in html
    assert "<input checked" not in html and 'rows="4">\r\n</textarea>' in html


def test_a_members_form_post_reads_once_and_writes_everything_in_three_statements(app, ctx, personas, client):
    """One read (the page and its community's archived mark), then the audit row, the response and all answers
    (one more to remove any emptied)."""
    path = _feedback_path()
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    with statements() as seen:
        posted = client.post(path, data={"csrf_token": csrf, "submit": "1", "usefulness": "4", "recommend": "10",
                                         "what_worked": "The <b>small</b> groups", "what_to_change": "Start on time",
                                         "next_topics": "Grants"})
    assert posted.status_code == 303 and posted.headers["Location"].endswith("?saved=submitted")
    assert len(seen) == 4, seen
    html = client.get(path).get_data(as_text=True)
    assert '<input checked id="usefulness-3" name="usefulness" type="radio" value="4">' in html
    assert '<input checked id="recommend-10" name="recommend" type="radio" value="10">' in html
    assert "\r\nThe &lt;b&gt;small&lt;/b&gt; groups</textarea>" in html and "\r\nGrants</textarea>" in html


def test_a_rating_out_of_range_is_announced_on_its_radios_in_the_members_language(app, ctx, personas, client):
    path = _feedback_path("es")
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    page = client.post(path, data={"csrf_token": csrf, "submit": "1", "usefulness": "7", "recommend": "3"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'lang="es"' in html
    assert "Envíe sus respuestas antes del <time datetime=" in html  # the deadline, shown again with the errors
    assert '<input aria-invalid="true" id="usefulness-0" name="usefulness" type="radio" value="1">' in html
    assert '<input checked id="recommend-3" name="recommend" type="radio" value="3">' in html


def test_the_rsvp_page_shows_the_meeting_in_the_members_language_after_one_read(app, ctx, personas, client):
    ana, community = _ana(), _riverside()
    _membership(ana, community).language = "es"
    meeting = meetings.create_meeting(None, community, title="Monthly call", title_es="Llamada mensual",
                                      member_ids=[ana.id], starts_at=datetime.now(timezone.utc) + timedelta(days=2))
    db.session.commit()
    path = f"/m/meetings/{meeting.id}/rsvp/{make_token('rsvp', ana.id, meeting.id)}?answer=yes"
    with statements() as seen:
        page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and len(seen) == 1, seen
    assert "<h1>Llamada mensual</h1>" in html and 'lang="es"' in html
    not_invited = meetings.create_meeting(None, community, title="Leaders only", member_ids=[],
                                          starts_at=datetime.now(timezone.utc) + timedelta(days=3))
    db.session.commit()
    assert client.get(f"/m/meetings/{not_invited.id}/rsvp/"
                      f"{make_token('rsvp', ana.id, not_invited.id)}").status_code == 404
