"""Practices: a member shares one from the digest's link, the coordinator approves, edits or declines it.

Only approved practices are published (approved_since is what the digest reads); everything a
member wrote is shown as text; tokens for another community or a changed token save nothing.
"""
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from service import members, practices
from service.errors import DomainError
from service.extensions import db
from service.models import AuditEvent, Community, Coordinator, Member, Membership, Practice
from service.tokens import make_token
from tests.conftest import PASSWORD, csrf_from, login, post_form

XSS = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _community(name="Riverside COP") -> Community:
    return db.session.scalar(select(Community).where(Community.name == name))


def _coordinator(email="alice@example.org") -> Coordinator:
    return db.session.scalar(select(Coordinator).where(Coordinator.email == email))


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _share_path(community: Community, member: Member) -> str:
    return _path(practices.share_url(community, member))


def _practices() -> list[tuple]:
    db.session.expire_all()
    return [(p.id, p.community_id, p.member_id, p.title, p.what_we_did, p.what_happened, p.contact_ok, p.status,
             p.reviewed_at) for p in db.session.scalars(select(Practice).order_by(Practice.id))]


def _audit(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _submit(community=None, member=None, title="Evening office hours", what="We opened until 8 pm on Thursdays.",
            happened="Twice as many parents came.", contact_ok=True) -> Practice:
    practice = practices.submit_practice(community or _community(), member or _member(), title, what, happened,
                                         contact_ok)
    db.session.commit()
    return practice


FORM = {"title": "Evening office hours", "what_we_did": "We opened until 8 pm on Thursdays.\nParents came.",
        "what_happened": "Twice as many parents came.", "contact_ok": "y"}


# --- the member's page -----------------------------------------------------------------------------

def test_share_url_is_an_absolute_link_to_the_members_form(app, ctx, personas):
    url = practices.share_url(_community(), _member())
    assert url.startswith(app.config["PUBLIC_BASE_URL"].rstrip("/") + "/m/communities/")
    assert f"/m/communities/{personas['riverside']}/practices/share/" in url


def test_a_spanish_member_shares_a_practice_in_spanish_and_it_waits_for_review(app, ctx, personas, client):
    path = _share_path(_community(), _member())
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'lang="es"' in html
    assert "Comparta una práctica con Riverside COP" in html and "Lo que hicimos" in html
    assert 'type="checkbox"' in html and "otros miembros" in html.lower()
    assert _practices() == []  # opening the link (a mail scanner does) saves nothing

    response = client.post(path, data={"csrf_token": csrf_from(html), **FORM})
    thanks = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Gracias" in thanks and "antes de que aparezca en un resumen" in thanks
    [row] = _practices()
    assert row[1:8] == (personas["riverside"], _member().id, "Evening office hours",
                        "We opened until 8 pm on Thursdays.\nParents came.", "Twice as many parents came.", True,
                        "pending")
    assert row[8] is None
    [event] = _audit("practice.submit")
    assert event.object_id == row[0] and event.community_id == personas["riverside"] and event.actor == "system"


def test_an_english_member_sees_the_english_form(app, ctx, personas, client):
    community, alice = _community(), _coordinator()
    members.add_member(alice, community, name="Eve Stone", email="eve@example.org", organization="Stone Org",
                       language="en")
    db.session.commit()
    html = client.get(_share_path(community, _member("eve@example.org"))).get_data(as_text=True)
    assert 'lang="en"' in html and "Share a practice with Riverside COP" in html
    assert "Other members may contact us about this" in html
    response = post_form(client, _share_path(community, _member("eve@example.org")), {**FORM, "contact_ok": ""})
    assert response.status_code == 200
    assert "will review it before it appears in a digest" in response.get_data(as_text=True)
    assert _practices()[0][6] is False  # the box was not ticked


def test_sending_the_same_practice_twice_saves_it_once(app, ctx, personas, client):
    path = _share_path(_community(), _member())
    token = csrf_from(client.get(path).get_data(as_text=True))
    for title in ("Evening office hours", "  evening   office HOURS "):
        assert client.post(path, data={"csrf_token": token, **FORM, "title": title}).status_code == 200
    assert len(_practices()) == 1 and len(_audit("practice.submit")) == 1
    # Case is ignored beyond ASCII too (SQLite's lower() would not).
    for title in ("Ñandú Night", "ñandú night"):
        assert client.post(path, data={"csrf_token": token, **FORM, "title": title}).status_code == 200
    assert [row[3] for row in _practices()] == ["Evening office hours", "Ñandú Night"]
    db.session.execute(Practice.__table__.delete().where(Practice.title == "Ñandú Night"))
    db.session.commit()
    # Another title is another practice.
    assert client.post(path, data={"csrf_token": token, **FORM, "title": "Bilingual flyers"}).status_code == 200
    assert [row[3] for row in _practices()] == ["Evening office hours", "Bilingual flyers"]
    # Once reviewed, the same title may be shared again (a new pending one).
    practices.approve(_coordinator(), db.session.get(Practice, _practices()[0][0]))
    db.session.commit()
    assert client.post(path, data={"csrf_token": token, **FORM}).status_code == 200
    assert [row[7] for row in _practices()] == ["approved", "pending", "pending"]


@pytest.mark.parametrize("changes, field_error", [
    ({"title": ""}, "Escriba un título corto"),
    ({"title": "   "}, "Escriba un título corto"),
    ({"what_we_did": ""}, "Cuéntenos lo que hicieron"),
    ({"title": "x" * 201}, "200"),
    ({"what_we_did": "x" * 5001}, "5000"),
    ({"what_happened": "x" * 5001}, "5000"),
])
def test_missing_or_too_long_answers_are_shown_and_nothing_is_saved(app, ctx, personas, client, changes,
                                                                   field_error):
    path = _share_path(_community(), _member())
    response = post_form(client, path, {**FORM, **changes})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "error-summary" in html and field_error in html
    assert "Evening office hours" in html or "title" in changes  # what was typed is kept
    assert _practices() == [] and _audit("practice.submit") == []


def test_changed_expired_or_other_communitys_tokens_show_the_bad_link_page_and_save_nothing(
        app, ctx, personas, client, monkeypatch):
    riverside, lakeside, ana, ben = _community(), _community("Lakeside COP"), _member(), _member("ben@example.org")
    good = practices.share_url(riverside, ana).rsplit("/", 1)[1]
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - 400 * 86400)
    expired = make_token("practice", ana.id, riverside.id)
    monkeypatch.undo()
    bad = {
        "tampered": f"/m/communities/{riverside.id}/practices/share/{good[:-3]}abc",
        "other community in the url": f"/m/communities/{lakeside.id}/practices/share/{good}",
        "other community's token": _share_path(lakeside, ben).replace(f"/{lakeside.id}/", f"/{riverside.id}/"),
        "other purpose": f"/m/communities/{riverside.id}/practices/share/{make_token('preferences', ana.id)}",
        "rsvp token with the community id": (f"/m/communities/{riverside.id}/practices/share/"
                                             f"{make_token('rsvp', ana.id, riverside.id)}"),
        "no such member": f"/m/communities/{riverside.id}/practices/share/"
                          f"{make_token('practice', 999999, riverside.id)}",
        "expired": f"/m/communities/{riverside.id}/practices/share/{expired}",
    }
    csrf = csrf_from(client.get(_share_path(riverside, ana)).get_data(as_text=True))
    for name, path in bad.items():
        for response in (client.get(path), client.post(path, data={"csrf_token": csrf, **FORM})):
            html = response.get_data(as_text=True)
            assert response.status_code == 400, name
            assert "This link does not work" in html or "Este enlace no funciona" in html, name
            assert "<form" not in html and "Riverside COP" not in html, name
    assert "expired" in client.get(bad["expired"]).get_data(as_text=True)
    assert _practices() == []


def test_a_member_no_longer_active_in_the_community_cannot_share(app, ctx, personas, client):
    community, ana = _community(), _member()
    path = _share_path(community, ana)
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    membership = db.session.scalar(select(Membership).where(Membership.member_id == ana.id))
    members.set_membership_status(_coordinator(), membership, "inactive")
    db.session.commit()
    assert client.get(path).status_code == 403
    assert client.post(path, data={"csrf_token": csrf, **FORM}).status_code == 403
    with pytest.raises(DomainError):
        practices.submit_practice(community, ana, "Title", "Text")
    # Ben belongs to Lakeside only.
    with pytest.raises(DomainError):
        practices.submit_practice(community, _member("ben@example.org"), "Title", "Text")
    db.session.rollback()
    assert _practices() == []


def test_the_members_form_refuses_a_missing_csrf_token(app, ctx, personas, client):
    path = _share_path(_community(), _member())
    client.get(path)
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post(path, data={**data, **FORM})
        assert response.status_code == 400
    assert _practices() == []


def test_script_in_a_practice_is_shown_as_text_to_the_member(app, ctx, personas, client):
    response = post_form(client, _share_path(_community(), _member()), {**FORM, "title": XSS})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- the domain functions --------------------------------------------------------------------------

def test_submit_practice_checks_and_trims_what_the_member_wrote(app, ctx, personas):
    community, ana = _community(), _member()
    for kwargs, field in (({"title": ""}, "title"), ({"what_we_did": " \n "}, "what_we_did"),
                          ({"title": "t" * 201}, "title"), ({"what_we_did": "w" * 5001}, "what_we_did"),
                          ({"what_happened": "h" * 5001}, "what_happened")):
        values = {"title": "Title", "what_we_did": "What", **kwargs}
        with pytest.raises(DomainError) as error:
            practices.submit_practice(community, ana, **values)
        assert error.value.field == field
    practice = practices.submit_practice(community, ana, "  Evening\n hours ", "\n We opened late. \n",
                                         source="email")
    db.session.commit()
    assert (practice.title, practice.what_we_did, practice.what_happened, practice.contact_ok, practice.source,
            practice.status) == ("Evening hours", "We opened late.", "", False, "email", "pending")
    # At the limits exactly is fine.
    assert practices.submit_practice(community, ana, "t" * 200, "w" * 5000, "h" * 5000).id != practice.id


def test_approved_since_returns_only_practices_approved_after_the_date_in_order(app, ctx, personas):
    riverside, lakeside, alice = _community(), _community("Lakeside COP"), _coordinator()
    first, second, pending, declined = (_submit(title=t) for t in ("First", "Second", "Pending", "Declined"))
    other = _submit(community=lakeside, member=_member("ben@example.org"), title="Lakeside's")
    practices.approve(alice, first)
    first.reviewed_at = datetime.now(timezone.utc) - timedelta(days=10)  # approved before the last digest
    practices.approve(alice, second)
    practices.decline(alice, declined, "Off topic")
    practices.approve(_coordinator("bob@example.org"), other)
    db.session.commit()
    last_digest = datetime.now(timezone.utc) - timedelta(days=3)

    assert practices.approved_since(riverside, last_digest) == [second]
    assert practices.approved_since(riverside, last_digest.replace(tzinfo=None)) == [second]  # naive = UTC
    assert practices.approved_since(riverside, None) == [first, second]
    assert practices.approved_since(riverside, datetime.now(timezone.utc) + timedelta(seconds=5)) == []
    assert practices.approved_since(lakeside, last_digest) == [other]
    assert pending not in practices.approved_since(riverside, None)
    assert practices.pending_for(riverside) == [pending]
    assert practices.approved_since(riverside, None, until=last_digest) == [first]
    # Approving a declined one later publishes it in the next digest, after the ones approved before it.
    practices.approve(alice, declined)
    db.session.commit()
    assert practices.approved_since(riverside, last_digest) == [second, declined]


def test_review_functions_write_the_audit_trail(app, ctx, personas):
    alice, practice = _coordinator(), _submit()
    assert practices.edit(alice, practice, title="Evening hours", contact_ok=True) == {
        "title": ["Evening office hours", "Evening hours"]}
    assert practices.edit(alice, practice, title="Evening hours") == {}  # nothing changed, no event
    with pytest.raises(DomainError):
        practices.edit(alice, practice, what_we_did="")
    practices.approve(alice, practice, what_happened="Many more parents came.")
    practices.approve(alice, practice)  # a second click changes nothing
    db.session.commit()
    assert [e.details["fields"] for e in _audit("practice.edit")] == [["title"]]
    [approved] = _audit("practice.approve")
    assert approved.actor == "alice@example.org" and approved.object_id == practice.id
    assert approved.details == {"previous": "pending", "edited": ["what_happened"]}
    assert practice.what_happened == "Many more parents came." and practice.status == "approved"

    declined = _submit(title="Not ours")
    practices.decline(alice, declined, "  Not about\nour work ")
    practices.decline(alice, declined, "again")
    db.session.commit()
    [event] = _audit("practice.decline")
    assert event.details == {"previous": "pending", "reason": "Not about our work"}
    assert declined.status == "declined" and declined.reviewed_at is not None


# --- the dashboard ---------------------------------------------------------------------------------

def test_the_queue_shows_what_members_wrote_as_text(app, ctx, personas, alice_client):
    _submit(title=XSS, what=f"Line one\n{IMG}", happened="<b>bold</b> & more")
    community_page = alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)
    assert "Practices (1 waiting)" in community_page
    response = alice_client.get(f"/communities/{personas['riverside']}/practices/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    assert "Ana Torres" in html and "Casa Verde" in html and "1 practice waiting for review" in html
    edit_page = alice_client.get(
        f"/communities/{personas['riverside']}/practices/{_practices()[0][0]}/edit").get_data(as_text=True)
    assert XSS not in edit_page and "<img src=x" not in edit_page and "&lt;script&gt;" in edit_page


def test_approving_publishes_the_practice(app, ctx, personas, alice_client):
    practice_id = _submit().id
    base = f"/communities/{personas['riverside']}/practices"
    response = post_form(alice_client, f"{base}/", {}, post_url=f"{base}/{practice_id}/approve")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{base}/")
    page = alice_client.get(f"{base}/").get_data(as_text=True)
    assert "Approved “Evening office hours”" in page and "Nothing is waiting for review." in page
    [row] = _practices()
    assert row[7] == "approved" and row[8] is not None
    assert practices.approved_since(_community(), datetime.now(timezone.utc) - timedelta(minutes=1))[0].id == \
        practice_id
    [event] = _audit("practice.approve")
    assert event.actor == "alice@example.org" and event.object_id == practice_id
    assert "Practices (0 waiting)" in alice_client.get(f"/communities/{personas['riverside']}").get_data(
        as_text=True)


def test_editing_then_saving_keeps_it_pending_and_save_and_approve_publishes(app, ctx, personas, alice_client):
    practice_id = _submit().id
    url = f"/communities/{personas['riverside']}/practices/{practice_id}/edit"
    page = alice_client.get(url).get_data(as_text=True)
    assert 'value="Evening office hours"' in page and "We opened until 8 pm on Thursdays." in page
    assert "Save and approve" in page

    response = post_form(alice_client, url, {"title": "Evening hours", "what_we_did": "We opened late.",
                                             "what_happened": "", "contact_ok": "y", "save": "1"})
    assert response.status_code == 302
    row = _practices()[0]
    assert row[3:8] == ("Evening hours", "We opened late.", "", True, "pending")
    assert len(_audit("practice.edit")) == 1 and _audit("practice.approve") == []

    response = post_form(alice_client, url, {"title": "Evening hours for parents", "what_we_did": "We opened late.",
                                             "what_happened": "More came.", "save_and_approve": "1"})
    assert response.status_code == 302
    row = _practices()[0]
    assert row[3:8] == ("Evening hours for parents", "We opened late.", "More came.", False, "approved")
    [event] = _audit("practice.approve")
    assert event.details["edited"] == ["contact_ok", "title", "what_happened"]


def test_an_edit_with_a_missing_title_is_refused_and_changes_nothing(app, ctx, personas, alice_client):
    practice_id = _submit().id
    before = _practices()
    url = f"/communities/{personas['riverside']}/practices/{practice_id}/edit"
    response = post_form(alice_client, url, {"title": "", "what_we_did": "Changed", "save_and_approve": "1"})
    assert response.status_code == 400 and "error-summary" in response.get_data(as_text=True)
    assert _practices() == before and _audit("practice.approve") == [] and _audit("practice.edit") == []


def test_declining_keeps_it_out_of_digests_with_the_reason_in_the_audit_trail(app, ctx, personas, alice_client):
    practice_id = _submit().id
    base = f"/communities/{personas['riverside']}/practices"
    response = post_form(alice_client, f"{base}/", {"reason": "Advertises a product"},
                         post_url=f"{base}/{practice_id}/decline")
    assert response.status_code == 302
    row = _practices()[0]
    assert row[7] == "declined"
    assert practices.approved_since(_community(), None) == []
    [event] = _audit("practice.decline")
    assert event.details["reason"] == "Advertises a product" and event.actor == "alice@example.org"
    page = alice_client.get(f"{base}/").get_data(as_text=True)
    assert "Declined “Evening office hours”" in page and "Approve after all" in page


def test_bob_gets_404_on_alices_practices_and_changes_nothing(app, ctx, personas, client):
    practice_id = _submit().id
    assert login(client, "bob@example.org", PASSWORD).status_code == 302
    token = csrf_from(client.get("/").get_data(as_text=True))
    before = _practices()
    base = f"/communities/{personas['riverside']}/practices"
    for url in (f"{base}/", f"{base}/{practice_id}/edit"):
        response = client.get(url)
        assert response.status_code == 404 and "Evening office hours" not in response.get_data(as_text=True)
    for url in (f"{base}/{practice_id}/approve", f"{base}/{practice_id}/decline", f"{base}/{practice_id}/edit"):
        response = client.post(url, data={"csrf_token": token, "title": "Hacked", "what_we_did": "Hacked",
                                          "save_and_approve": "1", "reason": "x"})
        assert response.status_code == 404, url
    # Alice's practice under bob's own community is not found either.
    lakeside = f"/communities/{personas['lakeside']}/practices"
    assert client.get(f"{lakeside}/{practice_id}/edit").status_code == 404
    assert client.post(f"{lakeside}/{practice_id}/approve", data={"csrf_token": token}).status_code == 404
    assert client.get(f"{lakeside}/").status_code == 200
    assert _practices() == before and db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("practice.%"))) == 1


def test_review_buttons_refuse_a_missing_csrf_token(app, ctx, personas, alice_client):
    practice_id = _submit().id
    before = _practices()
    base = f"/communities/{personas['riverside']}/practices/{practice_id}"
    for url in (f"{base}/approve", f"{base}/decline", f"{base}/edit"):
        for data in ({}, {"csrf_token": "forged"}):
            response = alice_client.post(url, data={**data, "title": "Hacked", "what_we_did": "Hacked",
                                                    "save_and_approve": "1"})
            assert response.status_code == 400, url
            assert "This form has expired" in response.get_data(as_text=True)
    assert _practices() == before


def test_the_share_page_is_rate_limited_for_get_as_well_as_post(app, personas):
    """Both the blueprint's 60 per minute and the route's POST limit apply."""
    with app.app_context():
        community = db.session.get(Community, personas["riverside"])
        member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        path = "/" + practices.share_url(community, member).split("/", 3)[3]
    client = app.test_client()
    statuses = [client.get(path).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
