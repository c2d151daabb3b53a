"""Charters: drafted from members' answers, proposed by email, approved by link, ratified, kept by version."""
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from service import charters, digests, members
from service.errors import DomainError
from service.extensions import db
from service.markdown_text import to_html
from service.models import (AuditEvent, Charter, CharterVote, Community, FormAnswer, FormRequest, FormResponse,
                            Member, OutboundEmail)
from service.tokens import make_token
from tests.conftest import PASSWORD, csrf_from, login, run_worker

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CHARTER_MD = ("## Purpose\n\nWe learn **together** how to serve families.\n\n"
              "## How we decide\n\n- by consent\n- in meetings\n\n"
              "<script>alert('charter')</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(2)>")


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _people(community: Community) -> None:
    """Two more English-speaking members beside Ana (who reads Spanish)."""
    members.add_member(None, community, name="Sam Ortiz", email="sam@example.org", organization="Food Bank")
    members.add_member(None, community, name="Lee Park", email="lee@example.org", organization="Youth Org")
    db.session.commit()


def _answers(community: Community, answers: dict[str, dict[str, str]], status="submitted",
             request: FormRequest | None = None) -> FormRequest:
    """A charter questionnaire with these members' answers ({email: {question: text}}), written directly."""
    if request is None:
        request = FormRequest(community_id=community.id, kind="charter", title="Our charter")
        db.session.add(request)
        db.session.flush()
    for email, texts in answers.items():
        response = FormResponse(request_id=request.id, member_id=_member(email).id, status=status,
                                submitted_at=datetime.now(timezone.utc) if status == "submitted" else None)
        response.answers = [FormAnswer(question=key, value_text=text) for key, text in texts.items()]
        db.session.add(response)
    db.session.commit()
    return request


def _proposed(community: Community, body: str = CHARTER_MD) -> Charter:
    charter = charters.current_draft(community)
    charters.save_draft(None, charter, body)
    charters.propose(None, charter)
    db.session.commit()
    return charter


def _link(received) -> str:
    """The member page link in an email's plain-text part, as a path for the test client."""
    text = received.message.get_body(("plain",)).get_content()
    url = re.search(r"https?://\S+/m/charters/\d+/\S+", text).group(0)
    return urlsplit(url).path


def _answer(client, path: str, decision: str, comment: str = ""):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "decision": decision, "comment": comment})


def _section(html: str, key: str) -> str:
    start = html.index(f'id="section-{key}"')
    end = html.find('class="charter-section"', start + 1)
    return html[start:end if end > 0 else len(html)]


def test_the_charter_round_trip(app, personas, smtp, alice_client):
    # No shared app context here: the coordinator and the members use separate clients, and each
    # request must have its own `g` (login and CSRF token), as in a real server.
    with app.app_context():
        community = _riverside()
        community.stage = "defining"
        _people(community)
        _answers(community, {"ana@example.org": {"purpose": "An older questionnaire's answer"}})
        request = _answers(community, {
            "ana@example.org": {"purpose": "Aprender juntos", "rhythm": "Monthly, online"},
            "sam@example.org": {"purpose": f"Share what works {XSS}", "decisions": "By consent"},
        })
        _answers(community, {"lee@example.org": {"purpose": "A draft nobody submitted"}}, "draft", request)
        community_id = community.id
        member_ids = {e: _member(e).id for e in ("ana@example.org", "sam@example.org", "lee@example.org")}
        db.session.remove()
    url = f"/communities/{community_id}/charter"

    # The draft page shows each section's answers side by side, escaped, with who wrote them.
    page = alice_client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    purpose = _section(html, "purpose")
    assert "Ana Torres · Casa Verde" in purpose and "Aprender juntos" in purpose
    assert "Sam Ortiz · Food Bank" in purpose and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in purpose
    assert "By consent" in _section(html, "decisions") and "Monthly, online" in _section(html, "rhythm")
    assert "<script>" not in html and "<img src=x" not in html
    assert "A draft nobody submitted" not in html  # only submitted answers count
    assert "An older questionnaire" not in html    # only the latest questionnaire
    with app.app_context():
        [draft] = db.session.scalars(select(Charter).where(Charter.community_id == community_id)).all()
        assert (draft.version, draft.status) == (1, "draft") and "## Purpose" in draft.body
        charter_id = draft.id
        db.session.remove()

    # Save, then the page previews the rendered Markdown with anything active removed.
    token = csrf_from(html)
    response = alice_client.post(url, data={"csrf_token": token, "action": "save", "body": CHARTER_MD})
    assert response.status_code == 302
    with app.app_context():
        draft = db.session.get(Charter, charter_id)
        assert draft.body == CHARTER_MD.strip() and draft.status == "draft"
        db.session.remove()
    html = alice_client.get(url).get_data(as_text=True)
    preview = html[html.index('class="agenda charter-preview"'):]
    assert "<h2>Purpose</h2>" in preview and "<strong>together</strong>" in preview and "<li>by consent</li>" in preview
    assert "<script" not in html and "&lt;script&gt;" in html  # escaped in the textarea, removed in the preview
    assert "javascript:" not in preview and "onerror" not in preview and "script" not in preview

    # Propose: every active member gets the charter with their own link.
    response = alice_client.post(url, data={"csrf_token": token, "action": "propose", "body": CHARTER_MD})
    assert response.status_code == 302
    with app.app_context():
        draft = db.session.get(Charter, charter_id)
        assert draft.status == "proposed" and draft.proposed_at is not None
        keys = set(db.session.scalars(select(OutboundEmail.idempotency_key).where(
            OutboundEmail.kind == "charter_proposal")))
        assert keys == {f"charter:{charter_id}:{member_id}" for member_id in member_ids.values()}
        db.session.remove()
    run_worker(app)
    links = {}
    for email in member_ids:
        [received] = smtp.to(email)
        message = received.message
        body_html = message.get_body(("html",)).get_content()
        assert "<strong>together</strong>" in body_html
        assert "<script" not in body_html and "javascript:" not in body_html and "onerror" not in body_html
        plain = message.get_body(("plain",)).get_content()  # the Markdown as readable text
        assert "We learn together how to serve families." in plain and "- by consent" in plain
        assert "**" not in plain and "##" not in plain and "<script" not in plain and "javascript:" not in plain
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links[email] = _link(received)
    assert "version 1" in smtp.to("sam@example.org")[0].message["Subject"]

    # Members answer by link: two approve, one asks for a change with a hostile comment.
    member_client = app.test_client()
    first = member_client.get(links["sam@example.org"]).get_data(as_text=True)
    assert "We learn <strong>together</strong>" in first and "<script>" not in first
    assert "You have not answered yet" in first
    assert _answer(member_client, links["sam@example.org"], "approve").status_code == 200
    assert _answer(member_client, links["ana@example.org"], "approve").status_code == 200
    assert _answer(member_client, links["lee@example.org"], "change", f"Please add {XSS}").status_code == 200
    assert "I approve this charter" in member_client.get(links["sam@example.org"]).get_data(as_text=True)

    dashboard = alice_client.get(url).get_data(as_text=True)
    approved = dashboard[dashboard.index('id="votes-approve"'):dashboard.index('id="votes-change"')]
    assert "Approved: 2" in approved and "Ana Torres" in approved and "Sam Ortiz" in approved
    assert "Asked for a change: 1" in dashboard and "Not answered yet: 0" in dashboard
    assert "Lee Park" in dashboard and "Please add &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in dashboard
    assert "<script>" not in dashboard and "<img src=x" not in dashboard

    # Ratify: the charter is in force; the community page suggests managing, for the coordinator to confirm.
    response = alice_client.post(f"{url}/versions/{charter_id}/ratify", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        draft = db.session.get(Charter, charter_id)
        assert draft.status == "ratified" and draft.ratified_at is not None
        community = db.session.get(Community, community_id)
        assert community.stage == "defining"
        assert charters.ratified(community).id == charter_id
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "charter")))
        assert actions.count("charter.vote") == 3
        assert {"charter.save", "charter.propose", "charter.ratify"} <= set(actions)
        ratify_event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "charter.ratify"))
        assert "changes" not in ratify_event.details
        assert ratify_event.actor == "alice@example.org"
        db.session.remove()

    # Voting is closed: the link shows the charter, no buttons, and a late POST changes nothing.
    closed = member_client.get(links["lee@example.org"]).get_data(as_text=True)
    assert "the members ratified it" in closed and 'name="decision"' not in closed
    late = member_client.post(links["lee@example.org"],
                              data={"csrf_token": csrf_from(first), "decision": "approve"})
    assert late.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(CharterVote.decision).where(
            CharterVote.member_id == member_ids["lee@example.org"])) == "change"
        db.session.remove()

    # A new version starts from the ratified text; version 1 stays as it was, readable.
    alice_client.post(f"{url}/new-version", data={"csrf_token": token})
    alice_client.post(url, data={"csrf_token": token, "action": "save", "body": "## Purpose\n\nSomething new"})
    with app.app_context():
        v1 = db.session.get(Charter, charter_id)
        v2 = db.session.scalar(select(Charter).where(Charter.community_id == community_id, Charter.version == 2))
        assert v2.status == "draft" and v2.body == "## Purpose\n\nSomething new"
        assert v1.body == CHARTER_MD.strip() and v1.status == "ratified"  # until version 2 is ratified
        v2_id = v2.id
        db.session.remove()
    v1_page = alice_client.get(f"{url}/versions/{charter_id}").get_data(as_text=True)
    assert "We learn <strong>together</strong>" in v1_page and "Ratified" in v1_page and "Approved: 2" in v1_page
    # The ratified version downloads as Markdown: its own text, status, and who approved it.
    download = alice_client.get(f"{url}/versions/{charter_id}/charter.md")
    assert download.status_code == 200 and download.mimetype == "text/markdown"
    assert download.headers["Content-Disposition"] == f'attachment; filename="charter-{community_id}-v1.md"'
    exported = download.get_data(as_text=True)
    assert exported.startswith("# Charter of Riverside") and "Version 1 · Ratified" in exported
    assert CHARTER_MD.strip() in exported and "Something new" not in exported
    assert "Approved: 2 (Ana Torres, Sam Ortiz)" in exported and "Asked for a change: 1" in exported
    history = alice_client.get(url).get_data(as_text=True)
    assert f"/charter/versions/{charter_id}" in history and f"/charter/versions/{v2_id}" in history


def test_a_new_version_starts_from_the_latest_text(app, ctx, personas):
    community = _riverside()
    v1 = _proposed(community)
    charters.ratify(None, v1, override_reason="Agreed at the meeting")
    v2 = charters.new_version(None, community)
    assert (v2.version, v2.status, v2.body) == (2, "draft", v1.body)
    assert charters.new_version(None, community).id == v2.id  # one draft at a time
    assert charters.current_draft(community).id == v2.id


def test_ratifying_a_new_version_supersedes_the_old_one(app, ctx, personas):
    community = _riverside()
    v1 = _proposed(community)
    charters.ratify(None, v1, override_reason="Agreed at the meeting")
    v2 = charters.new_version(None, community)
    charters.save_draft(None, v2, "## Purpose\n\nSharper")
    charters.propose(None, v2)
    charters.ratify(None, v2, override_reason="Agreed at the meeting")
    db.session.commit()
    assert (v1.status, v2.status) == ("superseded", "ratified")
    assert charters.ratified(community).id == v2.id
    assert community.stage == "forming"  # the coordinator moves it on, one stage at a time (test_lifecycle)


def test_a_new_version_while_proposed_withdraws_the_proposal(app, ctx, personas, client):
    community = _riverside()
    v1 = _proposed(community)
    ana = _member()
    v2 = charters.new_version(None, community)
    db.session.commit()
    assert (v1.status, v2.status, v2.version, v2.body) == ("superseded", "draft", 2, v1.body)
    with pytest.raises(DomainError):
        charters.vote(v1, ana, "approve")
    with pytest.raises(DomainError):
        charters.save_draft(None, v1, "edited")  # a proposed or superseded text never changes
    page = client.get(f"/m/charters/{v1.id}/{make_token('charter', ana.id, v1.id)}")
    assert page.status_code == 200 and 'name="decision"' not in page.get_data(as_text=True)


def test_votes_change_and_are_checked(app, ctx, personas):
    community = _riverside()
    _people(community)
    draft = charters.current_draft(community)
    charters.save_draft(None, draft, "## Purpose\n\nLearn")
    sam = _member("sam@example.org")
    with pytest.raises(DomainError):
        charters.vote(draft, sam, "approve")          # not proposed yet
    charters.propose(None, draft)
    charters.vote(draft, sam, "approve")
    charters.vote(draft, sam, "change", "More about roles")
    db.session.commit()
    [row] = db.session.scalars(select(CharterVote).where(CharterVote.charter_id == draft.id)).all()
    assert (row.decision, row.comment) == ("change", "More about roles")
    with pytest.raises(DomainError):
        charters.vote(draft, sam, "change", "")       # a change needs a comment
    with pytest.raises(DomainError):
        charters.vote(draft, sam, "maybe")
    lakeside_member = _member("ben@example.org")
    with pytest.raises(DomainError):
        charters.vote(draft, lakeside_member, "approve")  # not a member of this community
    result = charters.votes(draft)
    assert [v.name for v in result["change"]] == ["Sam Ortiz"]
    assert {m.name for m in result["waiting"]} == {"Ana Torres", "Lee Park"}
    with pytest.raises(DomainError):
        charters.propose(None, draft)                 # already proposed
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 3


def test_tampered_and_cross_charter_tokens_are_refused(app, ctx, personas, client):
    riverside = _proposed(_riverside())
    lakeside = _proposed(db.session.get(Community, personas["lakeside"]))
    ana = _member()
    good = make_token("charter", ana.id, riverside.id)
    assert client.get(f"/m/charters/{riverside.id}/{good}").status_code == 200
    assert client.get(f"/m/charters/{lakeside.id}/{good}").status_code == 400          # another charter
    assert client.get(f"/m/charters/{riverside.id}/{good[:-2]}xx").status_code == 400  # tampered
    rsvp = make_token("rsvp", ana.id, riverside.id)                                     # another purpose
    assert client.get(f"/m/charters/{riverside.id}/{rsvp}").status_code == 400
    page = client.get(f"/m/charters/{riverside.id}/{good}").get_data(as_text=True)
    response = client.post(f"/m/charters/{lakeside.id}/{good}",
                           data={"csrf_token": csrf_from(page), "decision": "approve"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(CharterVote)) == 0


def test_a_members_name_in_the_markdown_export_stays_plain_text(app, ctx, personas, alice_client):
    community = _riverside()
    _people(community)
    charter = _proposed(community, body="## Purpose\n\nLearn together")
    sam = _member("sam@example.org")
    members.set_person_name(sam, "<img src=x onerror=alert(1)> *Sam* [me](javascript:alert(2))")
    charters.vote(charter, sam, "approve")
    db.session.commit()
    exported = alice_client.get(f"/communities/{community.id}/charter/versions/{charter.id}/charter.md")
    text = exported.get_data(as_text=True)
    assert exported.status_code == 200 and "<img" not in text
    assert r"&lt;img src=x onerror=alert\(1\)&gt; \*Sam\* \[me\]\(javascript:alert\(2\)\)" in text
    # Whatever renders the file later shows the name as it was typed, inert.
    rendered = str(to_html(text))
    assert "<img" not in rendered and "href=" not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt; *Sam* [me](javascript:alert(2))" in rendered


def test_script_in_the_charter_is_inert_on_the_member_page(app, ctx, personas, client):
    charter = _proposed(_riverside())
    ana = _member()
    html = client.get(f"/m/charters/{charter.id}/{make_token('charter', ana.id, charter.id)}").get_data(as_text=True)
    assert "<h2>Purpose</h2>" in html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html


def test_missing_csrf_is_refused(app, ctx, personas, alice_client):
    community = _riverside()
    charter = _proposed(community)
    ana = _member()
    path = f"/m/charters/{charter.id}/{make_token('charter', ana.id, charter.id)}"
    assert app.test_client().post(path, data={"decision": "approve"}).status_code == 400
    assert alice_client.post(f"/communities/{community.id}/charter/versions/{charter.id}/ratify").status_code == 400
    assert alice_client.post(f"/communities/{community.id}/charter/new-version").status_code == 400
    assert alice_client.post(f"/communities/{community.id}/charter",
                             data={"action": "save", "body": "x"}).status_code == 400
    db.session.expire_all()
    assert charter.status == "proposed" and db.session.scalar(select(func.count()).select_from(CharterVote)) == 0
    assert db.session.scalar(select(func.count()).select_from(Charter)) == 1


def test_bob_gets_404_on_alices_charter(app, ctx, personas, client):
    community = _riverside()
    charter = _proposed(community)
    assert login(client, "bob@example.org", PASSWORD).status_code == 302
    token = csrf_from(client.get("/").get_data(as_text=True))
    base = f"/communities/{community.id}/charter"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/versions/{charter.id}").status_code == 404
    assert client.get(f"{base}/versions/{charter.id}/charter.md").status_code == 404
    for path in (base, f"{base}/new-version", f"{base}/versions/{charter.id}/ratify"):
        assert client.post(path, data={"csrf_token": token, "action": "save", "body": "hacked"}).status_code == 404
    # Bob's own community does not reach Alice's charter either.
    lakeside = f"/communities/{personas['lakeside']}/charter"
    assert client.get(f"{lakeside}/versions/{charter.id}").status_code == 404
    assert client.post(f"{lakeside}/versions/{charter.id}/ratify", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert charter.status == "proposed" and charter.body == CHARTER_MD.strip()
    assert _riverside().stage == "forming"


def test_propose_needs_text_and_members(app, ctx, personas, alice_client):
    community = _riverside()
    url = f"/communities/{community.id}/charter"
    token = csrf_from(alice_client.get(url).get_data(as_text=True))
    response = alice_client.post(url, data={"csrf_token": token, "action": "propose", "body": "   "})
    assert response.status_code == 400 and "Write the charter before proposing it" in response.get_data(as_text=True)
    assert db.session.scalar(select(Charter.status)) == "draft"


def _digest(community, member) -> tuple[str, str]:
    """(text, HTML) of the member's next digest as it is sent (the dashboard's preview shows links that act as nobody)."""
    from service.email_render import render
    row = OutboundEmail(id=0, kind="digest", recipient=member.email, context=digests.test_context(community, None))
    rendered = render(row, member, community)
    return rendered.text, rendered.html


def test_the_digest_links_to_the_ratified_charter(app, ctx, personas, client):
    community = _riverside()
    _people(community)
    sam = _member("sam@example.org")
    text, html = _digest(community, sam)
    assert "Our charter" not in text
    charter = _proposed(community)
    charters.ratify(None, charter, override_reason="Agreed at the meeting")
    db.session.commit()
    text, html = _digest(community, sam)
    assert "== Our charter ==" in text and "Our charter</h2>" in html
    url = re.search(r"https?://\S+/m/charters/\d+/\S+", text).group(0)
    assert f"/m/charters/{charter.id}/" in url
    page = client.get(urlsplit(url).path)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "We learn <strong>together</strong>" in body
    assert 'name="decision"' not in body  # read-only once ratified


def test_the_community_page_links_to_the_charter(app, ctx, personas, alice_client):
    community = _riverside()
    html = alice_client.get(f"/communities/{community.id}").get_data(as_text=True)
    assert f'href="/communities/{community.id}/charter"' in html
