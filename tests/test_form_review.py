"""The review dashboard of a form: response rate, charts equal to the SQL counts, text answers with who
wrote them, the table, filters, the CSV export (BOM, formula cells neutralised), the feedback trend, XSS
shown inert, and 404 for other coordinators."""
import csv
import io
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from service import csv_export, form_review
from service.extensions import db
from service.models import (Community, FormAnswer, FormRequest, FormResponse, Meeting, Member, Membership,
                            Organization)
from service.svg_charts import bar_chart, line_chart

XSS = "<script>alert(1)</script><img src=x onerror=alert(1)>"
FORMULAS = ["=1+2", "+cmd", "-1", "@SUM(A1:A2)", "\tTAB", "\rCR"]
MULTILINE = 'Line one, with a comma\nline two "quoted"'
NOW = datetime(2025, 3, 1, 15, 0, tzinfo=timezone.utc)


# --- building data directly in the database -------------------------------------------------------

def _org(name: str) -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.name_key == name.lower()))
    if org is None:
        org = Organization(name=name, name_key=name.lower())
        db.session.add(org)
        db.session.flush()
    return org


def _member(community_id: int, name: str, organization: str | None) -> Member:
    member = Member(name=name, email=f"{uuid.uuid4().hex[:10]}@example.org")
    db.session.add(member)
    db.session.flush()
    db.session.add(Membership(community_id=community_id, member_id=member.id, name=name, language="en",
                              organization_id=_org(organization).id if organization else None))
    return member


def _meeting(community_id: int, title: str, starts_at: datetime) -> Meeting:
    meeting = Meeting(community_id=community_id, uid=f"{uuid.uuid4()}@test", title=title, starts_at=starts_at)
    db.session.add(meeting)
    db.session.flush()
    return meeting


def _request(community_id: int, title: str, kind: str = "feedback", meeting: Meeting | None = None) -> FormRequest:
    form_request = FormRequest(community_id=community_id, kind=kind, title=title,
                               meeting_id=meeting.id if meeting else None)
    db.session.add(form_request)
    db.session.flush()
    return form_request


def _respond(form_request: FormRequest, member: Member, answers: dict | None, status: str = "submitted",
             minutes: int = 0) -> FormResponse:
    """A response with its answers (ints to value_int, strings to value_text)."""
    response = FormResponse(request_id=form_request.id, member_id=member.id, status=status,
                            submitted_at=NOW + timedelta(minutes=minutes) if status == "submitted" else None)
    db.session.add(response)
    db.session.flush()
    for key, value in (answers or {}).items():
        db.session.add(FormAnswer(response_id=response.id, question=key,
                                  value_int=value if isinstance(value, int) else None,
                                  value_text=value if isinstance(value, str) else None))
    return response


@pytest.fixture
def feedback(app, personas):
    """Riverside's feedback after one meeting: 6 members of two organizations (+ one without), 4 submitted,
    1 draft, 1 not answered; an XSS answer and formula answers among the texts."""
    with app.app_context():
        community_id = personas["riverside"]
        meeting = _meeting(community_id, "March call", NOW - timedelta(hours=3))
        form_request = _request(community_id, "Feedback: March call <b>", meeting=meeting)
        casa = [_member(community_id, f"Casa {n}", "Casa Verde") for n in range(3)]
        rio = [_member(community_id, f"Rio {n}", "Rio Org") for n in range(2)]
        loner = _member(community_id, "Solo =HYPERLINK(1)", None)
        _respond(form_request, casa[0], {"usefulness": 5, "recommend": 9, "what_worked": XSS,
                                         "what_to_change": "=1+2"}, minutes=1)
        _respond(form_request, casa[1], {"usefulness": 4, "recommend": 10, "what_worked": MULTILINE,
                                         "what_to_change": "+cmd", "next_topics": "-1"}, minutes=2)
        _respond(form_request, rio[0], {"usefulness": 4, "recommend": 3, "what_worked": "Good pacing",
                                        "next_topics": "@SUM(A1:A2)"}, minutes=3)
        _respond(form_request, loner, {"usefulness": 2, "recommend": 0, "what_to_change": "\tTAB",
                                       "next_topics": "\rCR"}, minutes=4)
        _respond(form_request, casa[2], {"usefulness": 1, "what_worked": "draft only"}, status="draft")
        _respond(form_request, rio[1], None, status="requested")
        db.session.commit()
        return {"request": form_request.id, "meeting": meeting.id, "community": community_id,
                "casa": _org("Casa Verde").id, "rio": _org("Rio Org").id}


def _url(data: dict, suffix: str = "") -> str:
    return f"/communities/{data['community']}/forms/{data['request']}/review/{suffix}"


def _sql_counts(request_id: int, question: str, organization_id: int | None = None) -> dict[int, int]:
    """Counts per value straight from SQL, independently of form_review."""
    query = (select(FormAnswer.value_int, func.count()).join(FormResponse)
             .where(FormResponse.request_id == request_id, FormResponse.status == "submitted",
                    FormAnswer.question == question).group_by(FormAnswer.value_int))
    if organization_id is not None:
        query = query.join(Membership, FormResponse.member_id == Membership.member_id).where(
            Membership.organization_id == organization_id)
    return dict(db.session.execute(query).all())


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", html, re.S)


def _bars(svg: str) -> dict[int, int]:
    """{value: count} as written on the chart: the count above each bar, the value under it."""
    bars = re.findall(r'<text class="count"[^>]*>([^<]*)</text><text class="value"[^>]*>([^<]*)</text>', svg)
    return {int(value.replace(",", "")): int(count.replace(",", "")) for count, value in bars}


# --- summary ----------------------------------------------------------------------------------------

def test_chart_numbers_equal_the_sql_counts(app, alice_client, feedback):
    page = alice_client.get(_url(feedback))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    svgs = _svgs(html)
    assert len(svgs) == 2  # the two rating questions
    with app.app_context():
        for svg, (key, scale) in zip(svgs, [("usefulness", range(1, 6)), ("recommend", range(0, 11))]):
            sql = _sql_counts(feedback["request"], key)
            assert _bars(svg) == {value: sql.get(value, 0) for value in scale}  # full scale, zeros included
    assert _bars(svgs[0]) == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}  # the draft's 1 is not counted
    assert "Mean 3.8 on a scale of 1 to 5" in html  # (5 + 4 + 4 + 2) / 4 = 3.75
    assert "67%" in html and "(4 of 6)" in html  # 4 submitted of 6 asked
    assert 'role="img"' in svgs[0] and "<title" in svgs[0] and "aria-label=" in svgs[0]


def test_summary_lists_text_answers_with_member_and_organization(app, alice_client, feedback):
    html = alice_client.get(_url(feedback)).get_data(as_text=True)
    section = html.split('id="q-what_worked"')[1].split("</section>")[0]
    assert "Casa 1, Casa Verde" in section and "Rio 0, Rio Org" in section
    assert "draft only" not in html  # drafts are the member's until submitted
    assert section.index("Rio 0") < section.index("Casa 1") < section.index("Casa 0")  # newest first


def test_a_questions_answer_page_counts_what_the_summary_counts(app, alice_client, feedback):
    for args, organization in (("", None), (f"?organization={feedback['casa']}", feedback["casa"])):
        with app.app_context():
            form_request = db.session.get(FormRequest, feedback["request"])
            filters = form_review.Filters(organization_id=organization)
            [item] = [i for i in form_review.summary(form_request, filters) if i.question.key == "what_worked"]
            db.session.remove()
        assert item.answered > 0
        html = alice_client.get(_url(feedback, "answers/what_worked") + args).get_data(as_text=True)
        assert f">{item.answered} answer" in html


def test_xss_answer_is_inert_on_summary_and_table(app, alice_client, feedback):
    for url in (_url(feedback), _url(feedback, "table"), _url(feedback, "answers/what_worked")):
        response = alice_client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "<script" not in html.lower()
        assert "<img src=x" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        assert "Feedback: March call &lt;b&gt;" in html  # the title too
        assert "script-src 'none'" in response.headers["Content-Security-Policy"]


def test_organization_filter_changes_the_counts(app, alice_client, feedback):
    html = alice_client.get(_url(feedback) + f"?organization={feedback['casa']}").get_data(as_text=True)
    usefulness = _bars(_svgs(html)[0])
    with app.app_context():
        sql = _sql_counts(feedback["request"], "usefulness", feedback["casa"])
    assert usefulness == {value: sql.get(value, 0) for value in range(1, 6)} == {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    assert "(2 of 3)" in html  # Casa Verde: 2 submitted of 3 asked
    assert "Rio 0" not in html
    # an organization that is not among this form's is ignored, not an error
    everyone = alice_client.get(_url(feedback) + "?organization=999999").get_data(as_text=True)
    assert _bars(_svgs(everyone)[0]) == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}


def test_domain_summary_and_rate(app, feedback):
    with app.app_context():
        form_request = db.session.get(FormRequest, feedback["request"])
        rate = form_review.response_rate(form_request, form_review.Filters(organization_id=feedback["rio"]))
        assert rate == {"requested": 2, "submitted": 1, "drafts": 0, "rate": 0.5}
        items = {i.question.key: i for i in form_review.summary(form_request)}
        assert items["recommend"].counts[0] == (0, 1) and len(items["recommend"].counts) == 11
        assert items["recommend"].mean == pytest.approx((9 + 10 + 3 + 0) / 4)
        assert items["next_topics"].answered == 3
        assert [a["member"] for a in items["next_topics"].answers] == ["Solo =HYPERLINK(1)", "Rio 0", "Casa 1"]


def test_meeting_filter_chooses_that_meetings_request(app, alice_client, feedback):
    with app.app_context():
        earlier = _meeting(feedback["community"], "February call", NOW - timedelta(days=30))
        other = _request(feedback["community"], "Feedback: February call", meeting=earlier)
        db.session.commit()
        earlier_id, other_id = earlier.id, other.id
    html = alice_client.get(_url(feedback)).get_data(as_text=True)
    assert "February call" in html and "March call" in html  # both offered in the meeting filter
    response = alice_client.get(_url(feedback) + f"?meeting={earlier_id}&organization={feedback['casa']}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/forms/{other_id}/review/?organization={feedback['casa']}")


# --- table ------------------------------------------------------------------------------------------

def test_table_lists_every_response_with_status(app, alice_client, feedback):
    html = alice_client.get(_url(feedback, "table")).get_data(as_text=True)
    for name in ("Casa 0", "Casa 1", "Casa 2", "Rio 0", "Rio 1"):
        assert name in html
    assert "Not answered yet" in html and "Draft" in html and "Submitted" in html
    filtered = alice_client.get(_url(feedback, "table") + f"?organization={feedback['rio']}").get_data(as_text=True)
    assert "Rio 1" in filtered and "Casa 0" not in filtered


def test_table_pages(app, alice_client, feedback, monkeypatch):
    monkeypatch.setattr(form_review, "PAGE_SIZE", 2)
    first = alice_client.get(_url(feedback, "table")).get_data(as_text=True)
    assert "Page 1 of 3" in first and "Solo" in first and "Rio 0" in first and "Casa 0" not in first
    third = alice_client.get(_url(feedback, "table") + "?page=3").get_data(as_text=True)
    assert "Page 3 of 3" in third and "Rio 1" in third


# --- CSV --------------------------------------------------------------------------------------------

def _csv(alice_client, data, query="") -> tuple[object, list[list[str]]]:
    response = alice_client.get(_url(data, "responses.csv") + query)
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel reads the accents
    return response, list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_csv_export_has_bom_and_neutralises_formulas(app, alice_client, feedback):
    response, rows = _csv(alice_client, feedback)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="feedback-march-call-b-responses.csv"'
    header, body = rows[0], rows[1:]
    assert header[:5] == ["Member", "Email", "Organization", "Status", "Submitted at (America/Chicago)"]
    assert header[5] == "How useful was this meeting for your work?" and len(header) == 10
    assert len(body) == 6  # one row per response, whatever its status
    cells = [cell for row in body for cell in row]
    for formula in FORMULAS:
        assert "'" + formula in cells, formula
        assert formula not in cells
    assert "'=HYPERLINK(1)" not in cells and "Solo =HYPERLINK(1)" in cells  # only a leading = is a formula
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    by_member = {row[0]: row for row in body}
    assert by_member["Casa 1"][header.index("What worked well?")] == MULTILINE  # comma and newline round-trip
    assert by_member["Casa 0"][header.index("What worked well?")] == XSS  # data, verbatim: not HTML-escaped
    assert by_member["Casa 0"][1:5] == [by_member["Casa 0"][1], "Casa Verde", "Submitted", "2025-03-01 09:01"]
    assert by_member["Casa 0"][5] == "5" and by_member["Rio 1"][3] == "Not answered yet"
    assert by_member["Casa 2"][5:] == [""] * 5  # a draft's answers are not exported


def test_csv_export_follows_the_organization_filter(app, alice_client, feedback):
    _response, rows = _csv(alice_client, feedback, f"?organization={feedback['rio']}")
    assert sorted(row[0] for row in rows[1:]) == ["Rio 0", "Rio 1"]


def test_neutralise_and_slug():
    assert [csv_export.neutralise(v) for v in ("=1+2", "+x", "-1", "@a", "\tx", "\rx", "ok", "a=b")] == \
        ["'=1+2", "'+x", "'-1", "'@a", "'\tx", "'\rx", "ok", "a=b"]
    assert csv_export.neutralise(-1) == -1 and csv_export.neutralise(None) == ""
    assert csv_export.neutralise("\x00=evil") == "'=evil"  # a NUL cannot hide a formula
    assert csv_export.neutralise("Good\x00 pacing") == "Good pacing"  # NULs dropped (SQLite can store them)
    assert csv_export.slug("Réunion #3: «Retour»") == "reunion-3-retour"
    assert csv_export.slug("???") == "form"


# --- trend ------------------------------------------------------------------------------------------

def test_trend_points_equal_per_meeting_means(app, alice_client, personas):
    with app.app_context():
        community_id = personas["riverside"]
        people = [_member(community_id, f"P{n}", "Casa Verde") for n in range(3)]
        expected = []
        for month, ratings in enumerate([[(5, 9), (4, 7)], [(3, 5), (2, 2), (2, 8)], [], [(1, 10)]]):
            meeting = _meeting(community_id, f"Call {month}", NOW + timedelta(days=30 * month))
            form_request = _request(community_id, f"Feedback {month}", meeting=meeting)
            for person, (useful, recommend) in zip(people, ratings):
                _respond(form_request, person, {"usefulness": useful, "recommend": recommend, "what_worked": "x"})
            _respond(form_request, _member(community_id, f"Late {month}", None), {"usefulness": 1}, status="draft")
            expected.append((sum(u for u, _r in ratings) / len(ratings) if ratings else None,
                             sum(r for _u, r in ratings) / len(ratings) if ratings else None))
        _request(community_id, "A charter form", kind="charter")  # not feedback: not in the trend
        db.session.commit()
        points = form_review.feedback_trend(db.session.get(Community, community_id))
    assert [(p["usefulness"], p["recommend"]) for p in points] == [
        (pytest.approx(u) if u is not None else None, pytest.approx(r) if r is not None else None)
        for u, r in expected]
    assert [p["responses"] for p in points] == [2, 3, 0, 1]

    response = alice_client.get(f"/communities/{personas['riverside']}/feedback-trend/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<script" not in html
    usefulness_svg, recommend_svg = _svgs(html)
    for svg, index in ((usefulness_svg, 0), (recommend_svg, 1)):
        written = re.findall(r'<text class="point-value[^"]*"[^>]*>([^<]*)</text>', svg)
        assert written == [f"{e[index]:.1f}" if e[index] is not None else "–" for e in expected]
    # point heights follow the means: a higher mean is drawn higher (smaller y)
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', usefulness_svg)]
    assert ys == sorted(ys)  # means 4.5, 2.33, 1.0 go down the chart


def test_trend_without_feedback(app, alice_client, personas):
    html = alice_client.get(f"/communities/{personas['riverside']}/feedback-trend/").get_data(as_text=True)
    assert "No feedback has been requested after a meeting yet." in html


# --- charts -----------------------------------------------------------------------------------------

def test_charts_escape_text_and_use_no_style_or_script():
    svg = bar_chart([(1, 3), (2, 0)], title='<script>alert("t")</script>')
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg and "href" not in svg
    line = line_chart([("<b>May</b>", 2.5), ("June", None)], low=1, high=5, title="T & U")
    assert "<b>" not in line and "&lt;b&gt;May&lt;/b&gt;" in line and "T &amp; U" in line
    assert "style=" not in line and "<script" not in line


# --- who may see it -----------------------------------------------------------------------------------

def test_other_coordinators_get_404(app, client, personas, feedback):
    from tests.conftest import PASSWORD, login
    assert login(client, "bob@example.org", PASSWORD).status_code == 302
    for suffix in ("", "table", "responses.csv", "answers/what_worked"):
        assert client.get(_url(feedback, suffix)).status_code == 404
    assert client.get(f"/communities/{feedback['community']}/feedback-trend/").status_code == 404
    # bob's own community with alice's request id is a 404 too
    assert client.get(f"/communities/{personas['lakeside']}/forms/{feedback['request']}/review/").status_code == 404


def test_logged_out_is_sent_to_login(app, client, feedback):
    response = client.get(_url(feedback))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_question_is_404(app, alice_client, feedback):
    assert alice_client.get(_url(feedback, "answers/usefulness")).status_code == 404  # a rating: no text list
    assert alice_client.get(_url(feedback, "answers/nope")).status_code == 404


def test_healthz(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"
