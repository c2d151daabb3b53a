"""Reading conversations: the dashboard's list and threads for a community's staff, and a member's archive
opened from the signed link in every community email (published posts only, their language, no login)."""
import re
import time

from sqlalchemy import select

from service import members
from service.conversations import archive, posting
from service.extensions import db
from service.models import Community, CommunityCoordinator, Member, Membership, Post, PostAttachment
from service.tokens import make_token, read_token
from tests.conftest import PASSWORD, login, open_riverside, run_worker


def _community(name: str) -> Community:
    return db.session.scalar(select(Community).where(Community.name == name))


def _membership(community: Community, email: str) -> Membership:
    return db.session.scalar(select(Membership).join(Member).where(
        Membership.community_id == community.id, Member.email == email))


def _post(community: Community, email: str, subject: str, text: str, answering: Post | None = None) -> Post:
    post = posting.submit(community, _membership(community, email), subject, text,
                          in_reply_to=answering.message_id if answering else "")
    db.session.commit()
    return post


def _path(url: str) -> str:
    return url.split("127.0.0.1:5000", 1)[1] if "127.0.0.1:5000" in url else url


def _archive_path(member_email: str, community: Community) -> str:
    member = db.session.scalar(select(Member).where(Member.email == member_email))
    return _path(archive.archive_url(member.id, community.id))


def _subjects(html: str) -> list[str]:
    """The conversation subjects a list page shows, in order."""
    return re.findall(r'<td><a href="[^"]+">([^<]+)</a>', html)


# --- the dashboard ------------------------------------------------------------------------------------------

def test_staff_see_conversations_newest_activity_first_and_find_them_by_subject_words_or_author(
        app, ctx, personas, alice_client):
    community = open_riverside()
    intake = _post(community, "ana@example.org", "Intake for families", "How do you handle intake?")
    _post(community, "rosa@example.org", "Evening hours", "Has anyone tried evening office hours?")
    _post(community, "tom@example.org", "Volunteer training", "We train volunteers on Saturdays.")
    _post(community, "tom@example.org", "Re: Intake for families", "We ask for very little.", answering=intake)
    url = f"/communities/{community.id}/conversations/"

    page = alice_client.get(url).get_data(as_text=True)
    assert _subjects(page) == ["Intake for families", "Volunteer training", "Evening hours"]  # the reply moved it up
    assert _subjects(alice_client.get(url, query_string={"q": "evening"}).get_data(as_text=True)) == ["Evening hours"]
    assert _subjects(alice_client.get(url, query_string={"q": "very LITTLE"}).get_data(as_text=True)) == [
        "Intake for families"]  # words of a reply, case ignored
    assert _subjects(alice_client.get(url, query_string={"q": "Rosa"}).get_data(as_text=True)) == ["Evening hours"]
    nothing = alice_client.get(url, query_string={"q": "100%_"}).get_data(as_text=True)
    assert _subjects(nothing) == [] and "No conversation matches." in nothing
    # The community page links here.
    assert url in alice_client.get(f"/communities/{community.id}").get_data(as_text=True)


def test_the_list_comes_in_pages_and_a_page_past_the_end_shows_the_last(app, ctx, personas, alice_client):
    community = open_riverside()
    for number in range(archive.PAGE_SIZE + 2):
        _post(community, "rosa@example.org", f"Question {number:02d}", "Words.")
    url = f"/communities/{community.id}/conversations/"
    first = alice_client.get(url).get_data(as_text=True)
    assert len(_subjects(first)) == archive.PAGE_SIZE and _subjects(first)[0] == f"Question {archive.PAGE_SIZE + 1}"
    assert "Page 1 of 2" in first
    last = alice_client.get(url, query_string={"page": "99"}).get_data(as_text=True)
    assert _subjects(last) == ["Question 01", "Question 00"] and "Page 2 of 2" in last
    assert alice_client.get(url, query_string={"page": "two"}).status_code == 200


def test_a_thread_shows_its_posts_in_order_with_authors_and_labels_what_members_never_received(
        app, ctx, personas, alice_client):
    community = open_riverside()
    first = _post(community, "ana@example.org", "Intake for families", "How do you handle intake?")
    _post(community, "rosa@example.org", "Re: Intake for families", "A short form.", answering=first)
    community.moderation = "all"
    db.session.commit()
    waiting = _post(community, "tom@example.org", "Re: Intake for families", "We <b>never</b> ask.",
                    answering=first)
    assert waiting.status == "waiting"
    db.session.add(PostAttachment(post_id=first.id, filename="intake form.pdf", content_type="text/html",
                                  size=2048, data=b"<script>alert(1)</script>"))
    db.session.commit()

    page = alice_client.get(f"/communities/{community.id}/conversations/{first.conversation_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index("How do you handle intake?") < html.index("A short form.") < html.index("never")
    assert "Ana Torres" in html and "Rosa Diaz" in html
    assert "Waiting for a moderator: members have not received it" in html
    assert "We &lt;b&gt;never&lt;/b&gt; ask." in html  # a member's words, escaped
    attachment = db.session.scalar(select(PostAttachment))
    link = f"/communities/{community.id}/conversations/attachments/{attachment.id}"
    assert link in html and "intake form.pdf" in html
    download = alice_client.get(link)
    assert download.status_code == 200 and download.data == b"<script>alert(1)</script>"
    assert download.headers["Content-Type"] == "application/octet-stream"  # never rendered as the HTML it claims
    assert download.headers["Content-Disposition"].startswith("attachment")
    # The list says a post waits there.
    listed = alice_client.get(f"/communities/{community.id}/conversations/").get_data(as_text=True)
    assert "1 waiting for a moderator" in listed


def test_only_the_communitys_staff_read_its_conversations_observers_included(app, ctx, personas, client):
    community = open_riverside()
    post = _post(community, "ana@example.org", "Intake for families", "How do you handle intake?")
    attachment = PostAttachment(post_id=post.id, filename="a.txt", content_type="text/plain", size=1, data=b"x")
    db.session.add(attachment)
    db.session.commit()
    base = f"/communities/{community.id}/conversations"
    urls = [f"{base}/", f"{base}/{post.conversation_id}", f"{base}/attachments/{attachment.id}"]
    login(client, "bob@example.org", PASSWORD)  # Lakeside's coordinator
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    # A Lakeside conversation's id under Riverside's address is not found either.
    lakeside = _community("Lakeside COP")
    lakeside.moderation = "none"
    theirs = _post(lakeside, "ben@example.org", "Lake news", "Hello.")
    assert client.get(f"/communities/{lakeside.id}/conversations/{theirs.conversation_id}").status_code == 200
    db.session.add(CommunityCoordinator(community_id=community.id, coordinator_id=personas["bob"], role="observer"))
    db.session.commit()
    assert [client.get(url).status_code for url in urls] == [200, 200, 200]


# --- the member's archive -----------------------------------------------------------------------------------

def test_every_community_email_carries_the_members_own_archive_link_and_a_post_its_list_archive_header(
        app, ctx, personas, smtp):
    community = open_riverside()
    _post(community, "ana@example.org", "Intake for families", "How do you handle intake?")
    run_worker(app)
    copies = {r.rcpt_tos[0]: r.message for r in smtp.messages}
    rosa, tom = copies["rosa@example.org"], copies["tom@example.org"]
    rosa_link = rosa["List-Archive"].strip("<>")
    rosa_id = db.session.scalar(select(Member.id).where(Member.email == "rosa@example.org"))
    assert read_token("archive", rosa_link.rsplit("/", 1)[1], object_id=community.id) == rosa_id
    assert rosa_link in rosa.get_body(("plain",)).get_content()
    post = db.session.scalar(select(Post))
    assert f"{rosa_link}/{post.conversation_id}" in rosa.get_body(("plain",)).get_content()  # the whole thread
    assert rosa_link in rosa.get_body(("html",)).get_content()
    assert tom["List-Archive"] != rosa["List-Archive"]  # each member's own link
    # Any other community email too (a welcome), in the member's footer.
    members.send_welcome(community, db.session.scalar(select(Member).where(Member.email == "ana@example.org")))
    db.session.commit()
    run_worker(app)
    welcome = smtp.to("ana@example.org")[0].message.get_body(("plain",)).get_content()
    ana_id = db.session.scalar(select(Member.id).where(Member.email == "ana@example.org"))
    [token] = re.findall(r"/m/archive/(\S+)", welcome)
    assert read_token("archive", token, object_id=community.id) == ana_id


def test_the_archive_opens_without_login_in_the_members_language_with_published_posts_only(
        app, ctx, personas, client):
    community = open_riverside()
    first = _post(community, "rosa@example.org", "Intake for families",
                  "How do you handle intake? <script>alert('x')</script> <img src=https://tracker.example/p.gif>")
    community.moderation = "all"
    db.session.commit()
    _post(community, "tom@example.org", "Re: Intake for families", "A secret waiting answer.", answering=first)
    _post(community, "tom@example.org", "Unpublished question", "Nobody has approved this yet.")

    url = _archive_path("ana@example.org", community)  # Ana reads Riverside in Spanish
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'lang="es"' in html and "Conversaciones de Riverside COP" in html
    assert _subjects(html) == ["Intake for families"]  # the conversation with nothing published is not there
    assert '<meta name="robots" content="noindex">' in html and page.headers["X-Robots-Tag"].startswith("noindex")
    assert page.headers["Referrer-Policy"] == "no-referrer"

    thread = client.get(f"{url}/{first.conversation_id}")
    text = thread.get_data(as_text=True)
    assert thread.status_code == 200
    assert "Rosa Diaz" in text and "How do you handle intake?" in text
    assert "A secret waiting answer." not in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "<img" not in text  # no remote content: a member's HTML is shown as text
    assert "img-src 'self' data:" in thread.headers["Content-Security-Policy"]
    waiting = db.session.scalar(select(Post).where(Post.subject == "Unpublished question"))
    assert client.get(f"{url}/{waiting.conversation_id}").status_code == 404


def test_a_members_archive_link_never_opens_another_communitys_archive(app, ctx, personas, client):
    riverside = open_riverside()
    lakeside = _community("Lakeside COP")
    lakeside.moderation = "none"
    members.add_member(None, lakeside, name="Ana T.", email="ana@example.org", language="en", welcome=False)
    db.session.commit()
    _post(riverside, "rosa@example.org", "Riverside question", "Only for Riverside.")
    theirs = _post(lakeside, "ben@example.org", "Lakeside secret", "Only for Lakeside.")

    riverside_link = _archive_path("ana@example.org", riverside)
    token = riverside_link.rsplit("/", 1)[1]
    member_id, community_id, issued, signature = token.split(".")
    assert int(community_id) == riverside.id
    # The same signature with Lakeside's id in the token: refused as an altered link.
    altered = f"{member_id}.{lakeside.id}.{issued}.{signature}"
    refused = client.get(f"/m/archive/{altered}")
    assert refused.status_code == 400 and "Lakeside secret" not in refused.get_data(as_text=True)
    # A Lakeside conversation's id under the Riverside link is not found.
    assert client.get(f"{riverside_link}/{theirs.conversation_id}").status_code == 404
    # Another purpose's token for the same member and community (an RSVP's, say) opens nothing.
    rsvp_token = make_token("rsvp", db.session.scalar(select(Member.id).where(Member.email == "ana@example.org")),
                            lakeside.id)
    assert client.get(f"/m/archive/{rsvp_token}").status_code == 400
    # Ana's own Lakeside link shows Lakeside's conversations, and only those.
    lakeside_page = client.get(_archive_path("ana@example.org", lakeside)).get_data(as_text=True)
    assert _subjects(lakeside_page) == ["Lakeside secret"]


def test_a_member_who_left_gets_a_polite_page_and_no_conversations(app, ctx, personas, client):
    community = open_riverside()
    _post(community, "rosa@example.org", "Intake for families", "How do you handle intake?")
    url = _archive_path("tom@example.org", community)
    assert client.get(url).status_code == 200
    _membership(community, "tom@example.org").status = "inactive"
    db.session.commit()
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "You are no longer a member here" in html and "Intake for families" not in html
    assert client.get(f"{url}/1").status_code == 403


def test_an_expired_or_broken_archive_link_says_so(app, ctx, personas, client, monkeypatch):
    community = open_riverside()
    url = _archive_path("rosa@example.org", community)
    assert "This link is incomplete" in client.get(url[:-3]).get_data(as_text=True)
    later = time.time() + (app.config["MEMBER_LINK_MAX_AGE_DAYS"] + 1) * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    expired = client.get(url)
    assert expired.status_code == 400 and "This link has expired" in expired.get_data(as_text=True)


def test_a_test_copy_points_the_archive_link_at_the_stand_in_page(app, ctx, personas):
    from service.email_render import render
    from service.models import OutboundEmail
    community = _community("Riverside COP")
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    row = OutboundEmail(id=1, kind="announcement", recipient=ana.email, context={"subject": "Hi", "body": "Hello."},
                        community_id=community.id)
    preview = render(row, ana, community, preview=True)
    assert "/m/archive/" not in preview.text and "test-copy/member_archive.index" in preview.text
