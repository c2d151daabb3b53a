"""Conversations for members who chose the digest, muting one conversation, and choosing by page or by a reply
("digest", "no conversations", "every message", "mute" and their Spanish)."""
import re
from datetime import timedelta

from sqlalchemy import func, select

from service import clock, digests, members
from service.conversations import digest as conversation_digest
from service.conversations.addresses import community_address
from service.conversations.choices import set_choice
from service.extensions import db
from service.models import (AuditEvent, Community, Conversation, ConversationMute, Member, Membership,
                            OutboundEmail, Post)
from service.tokens import make_token
from tests.conftest import csrf_from, run_worker
from tests.inbound_mail import compose, deliver


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _membership(email: str) -> Membership:
    return db.session.scalar(select(Membership).join(Member).where(Member.email == email))


def _open_community(rosa: str = "every") -> Community:
    """Riverside with Ana (Spanish), Rosa and Tom, posts not moderated; Rosa reads the conversations `rosa`."""
    community = _riverside()
    community.moderation = "none"
    for name, email in (("Rosa Diaz", "rosa@example.org"), ("Tom Reed", "tom@example.org")):
        members.add_member(None, community, name=name, email=email, organization="Northside", language="en",
                           welcome=False)
    db.session.flush()
    set_choice(_membership("rosa@example.org"), rosa, via="page")
    db.session.commit()
    return community


def _post(app, community, sender="ana@example.org", subject="Intake for families", body=None, **headers):
    body = body if body is not None else "How do you handle intake for families without documents?\nWe ask for very little."
    return deliver(app, compose(sender, community_address(community), subject=subject, body=body, **headers),
                   community_address(community))


def _text(received) -> str:
    return received.message.get_body(("plain",)).get_content()


def _kinds_to(email: str) -> list[str]:
    return list(db.session.scalars(select(OutboundEmail.kind).where(OutboundEmail.recipient == email)
                                   .order_by(OutboundEmail.id)))


# --- digest mode ----------------------------------------------------------------------------------

def test_a_member_on_the_digest_gets_a_post_only_in_their_lesson_digest_and_one_on_every_message_not_twice(
        app, ctx, personas, smtp):
    community = _open_community(rosa="digest")
    digests.enable(community, True, clock.now() - timedelta(days=1))
    db.session.commit()
    _post(app, community, body="How do you handle intake for families without documents?\n"
                               "> an old quoted line\nWe ask for very little.")
    run_worker(app)
    assert {r.rcpt_tos[0] for r in smtp.messages} == {"tom@example.org"}  # Rosa gets no copy of her own
    smtp.messages.clear()

    digests.tick(clock.now() + timedelta(days=8))
    run_worker(app)
    rosa, tom = smtp.to("rosa@example.org"), smtp.to("tom@example.org")
    assert len(rosa) == 1 and len(tom) == 1
    rosa_text = _text(rosa[0])
    assert "Intake for families" in rosa_text and "Ana Torres" in rosa_text
    assert "How do you handle intake for families without documents?" in rosa_text
    assert "an old quoted line" not in rosa_text  # quoted text trimmed
    assert "riverside-cop@cop.localhost" in rosa_text  # how to answer
    assert "How do you handle intake" not in _text(tom[0])  # he had it as its own email
    smtp.messages.clear()

    digests.tick(clock.now() + timedelta(days=15))  # the next issue: nothing new since the last one
    run_worker(app)
    assert "How do you handle intake" not in _text(smtp.to("rosa@example.org")[0])


def test_with_no_lesson_digest_the_digest_member_gets_one_conversations_email_a_day_when_there_is_news(
        app, ctx, personas, smtp):
    community = _open_community(rosa="digest")
    community.digest_hour = 0  # due from midnight, in the community's time zone
    db.session.commit()
    assert conversation_digest.queue_due(clock.now() + timedelta(days=1)) == 0  # nothing new: no email
    _post(app, community)
    _post(app, community, sender="tom@example.org", subject="Evening hours", body="Who has tried evening hours?")
    run_worker(app)
    assert smtp.to("rosa@example.org") == []

    tomorrow = clock.now() + timedelta(days=1)
    assert conversation_digest.queue_due(tomorrow) == 1
    assert conversation_digest.queue_due(tomorrow + timedelta(minutes=1)) == 0  # once a day
    run_worker(app)
    [daily] = smtp.to("rosa@example.org")
    assert "new in the conversations" in daily.message["Subject"]
    text = _text(daily)
    assert "Intake for families" in text and "Evening hours" in text and "Tom Reed" in text
    # Each conversation links to the whole thread in Rosa's own archive, which opens without a login.
    thread_link = re.search(r"Read the whole conversation: (\S+)", text).group(1)
    assert "Intake for families" in app.test_client().get(thread_link.split("127.0.0.1:5000", 1)[1]).get_data(
        as_text=True)
    assert _kinds_to("tom@example.org").count("conversation_digest") == 0  # he reads every message

    assert conversation_digest.queue_due(tomorrow + timedelta(days=1)) == 0  # the next day, nothing new


def test_a_member_on_no_conversations_gets_them_neither_by_email_nor_in_a_digest(app, ctx, personas, smtp):
    community = _open_community(rosa="none")
    digests.enable(community, True, clock.now() - timedelta(days=1))
    db.session.commit()
    _post(app, community)
    digests.tick(clock.now() + timedelta(days=8))
    run_worker(app)
    assert [m.message["Subject"] for m in smtp.to("rosa@example.org")] != []  # her lesson digest came
    assert all("How do you handle intake" not in _text(m) for m in smtp.to("rosa@example.org"))


# --- muting ---------------------------------------------------------------------------------------

def test_mute_by_link_shows_the_subject_changes_nothing_on_get_and_can_be_undone(app, ctx, personas, smtp,
                                                                                client):
    community = _open_community()
    _post(app, community)
    run_worker(app)
    conversation = db.session.scalar(select(Conversation))
    copy = _text(smtp.to("rosa@example.org")[0])
    link = next(word for word in copy.split() if f"?mute={conversation.id}" in word)
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Intake for families" in html
    assert db.session.scalar(select(func.count(ConversationMute.id))) == 0  # opening the link mutes nothing

    rosa = _membership("rosa@example.org").member
    mute_url = f"/m/preferences/{make_token('preferences', rosa.id)}/mute"
    button = {"conversation": conversation.id, "action": "mute"}
    assert client.get(mute_url).status_code == 405  # only the button changes anything
    assert client.post(mute_url, data=button).status_code == 400  # no CSRF token: refused
    assert db.session.scalar(select(func.count(ConversationMute.id))) == 0
    done = client.post(mute_url, data={**button, "csrf_token": csrf_from(html)})
    assert done.status_code == 200 and "no longer receive this conversation" in done.get_data(as_text=True)
    smtp.messages.clear()
    post = db.session.scalar(select(Post))
    _post(app, community, sender="tom@example.org", subject="Re: Intake for families", body="We ask for a name.",
          In_Reply_To=post.message_id)
    run_worker(app)
    assert smtp.to("rosa@example.org") == [] and len(smtp.to("ana@example.org")) == 1

    undone = client.post(mute_url, data={**button, "action": "unmute",
                                         "csrf_token": csrf_from(done.get_data(as_text=True))})
    assert "receive this conversation again" in undone.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ConversationMute.id))) == 0


def test_the_mute_page_of_another_communitys_conversation_is_not_found(app, ctx, personas, client):
    community = _open_community()
    lakeside = db.session.scalar(select(Community).where(Community.name == "Lakeside COP"))
    other = Conversation(community_id=lakeside.id, subject="Lakeside secret plans")
    db.session.add(other)
    db.session.commit()
    token = make_token("preferences", _membership("rosa@example.org").member_id)
    page = client.get(f"/m/preferences/{token}?mute={other.id}").get_data(as_text=True)
    assert "Lakeside secret plans" not in page
    for conversation in (other.id, "99999999999999999999", "x"):
        response = client.post(f"/m/preferences/{token}/mute", data={"conversation": conversation, "action": "mute",
                                                                     "csrf_token": csrf_from(page)})
        assert response.status_code == 404
    assert db.session.scalar(select(func.count(ConversationMute.id))) == 0
    assert community.id != lakeside.id


def test_mute_by_reply_is_not_posted_is_confirmed_and_stops_the_conversation(app, ctx, personas, smtp):
    community = _open_community()
    _post(app, community)
    run_worker(app)
    post = db.session.scalar(select(Post))
    smtp.messages.clear()
    row = _post(app, community, sender="Rosa Diaz <rosa@example.org>", subject="Re: Intake for families",
                body="Mute\n\nOn Mon, Ana wrote:\n> How do you handle intake", In_Reply_To=post.message_id,
                References=post.message_id)
    assert (row.status, row.outcome) == ("done", "conversation_mute")
    assert db.session.scalar(select(func.count(Post.id))) == 1  # not posted
    run_worker(app)
    [confirmation] = smtp.to("rosa@example.org")
    assert "no longer receive the conversation \"Intake for families\"" in _text(confirmation)
    assert smtp.to("tom@example.org") == []  # nobody else heard of it
    smtp.messages.clear()
    _post(app, community, sender="tom@example.org", subject="Re: Intake for families", body="A name is enough.",
          In_Reply_To=post.message_id)
    run_worker(app)
    assert smtp.to("rosa@example.org") == []


def test_mute_answering_no_conversation_mutes_nothing_and_says_how(app, ctx, personas, smtp):
    community = _open_community()
    row = _post(app, community, sender="rosa@example.org", subject="silenciar", body="")
    assert row.outcome == "conversation_mute"
    assert db.session.scalar(select(func.count(ConversationMute.id))) == 0
    assert db.session.scalar(select(func.count(Post.id))) == 0
    run_worker(app)
    assert "could not tell which conversation" in _text(smtp.to("rosa@example.org")[0])


# --- choosing -------------------------------------------------------------------------------------

def test_the_preferences_page_names_each_community_and_changes_its_conversations(app, ctx, personas, client):
    _open_community()
    rosa = _membership("rosa@example.org")
    url = f"/m/preferences/{make_token('preferences', rosa.member_id)}"
    page = client.get(url).get_data(as_text=True)
    assert "Riverside COP" in page and "In the digest" in page
    form = {"csrf_token": csrf_from(page), "name": "Rosa Diaz", "digest_frequency": "weekly", "language": "en"}
    refused = client.post(url, data={**form, f"conversations_{rosa.id}": "hourly"})
    assert refused.status_code == 400
    db.session.expire_all()
    assert _membership("rosa@example.org").conversations == "every"  # nothing saved
    assert client.post(url, data={**form, f"conversations_{rosa.id}": "digest"}).status_code == 200
    db.session.expire_all()
    assert _membership("rosa@example.org").conversations == "digest"
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "member.conversations"))


def test_a_reply_of_only_digest_changes_the_choice_is_not_posted_and_is_confirmed(app, ctx, personas, smtp):
    community = _open_community()
    row = _post(app, community, sender="rosa@example.org", subject="Re: Intake for families", body="Digest.")
    assert (row.status, row.outcome) == ("done", "conversations_choice")
    assert _membership("rosa@example.org").conversations == "digest"
    assert db.session.scalar(select(func.count(Post.id))) == 0
    run_worker(app)
    [confirmation] = smtp.messages
    assert confirmation.rcpt_tos == ["rosa@example.org"]
    assert "in your digest instead of one email for each message" in _text(confirmation)
    smtp.messages.clear()
    _post(app, community, sender="rosa@example.org", subject="Back", body="every message")
    assert _membership("rosa@example.org").conversations == "every"


def test_spanish_commands_work_and_the_confirmation_is_in_spanish(app, ctx, personas, smtp):
    community = _open_community()
    _post(app, community, sender="ana@example.org", subject="Preferencias", body="Sin conversaciones")
    assert _membership("ana@example.org").conversations == "none"
    run_worker(app)
    assert "Ya no recibirá las conversaciones de Riverside COP" in _text(smtp.to("ana@example.org")[0])
    _post(app, community, sender="ana@example.org", subject="Otra vez", body="resumen")
    assert _membership("ana@example.org").conversations == "digest"


def test_a_post_that_starts_with_digest_but_says_more_is_posted(app, ctx, personas, smtp):
    community = _open_community()
    row = _post(app, community, sender="rosa@example.org", subject="Digest",
                body="Digest of our intake meeting: we agreed to ask for less.")
    assert row.outcome == "post"
    assert _membership("rosa@example.org").conversations == "every"
    assert db.session.scalar(select(Post.text)).startswith("Digest of our intake meeting")


def test_the_coordinator_sees_each_members_choice_on_their_page(app, ctx, personas, alice_client):
    _open_community(rosa="digest")
    rosa = _membership("rosa@example.org")
    page = alice_client.get(f"/communities/{personas['riverside']}/members/{rosa.id}").get_data(as_text=True)
    assert "Conversations" in page and "In the digest" in page
