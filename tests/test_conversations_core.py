"""Community conversations, the core: a member writes to the community's address, the post goes to every
member who reads every message, threaded; a reply to a copy joins the conversation."""
from sqlalchemy import func, select

from service import members
from service.conversations.addresses import community_address, free_slug
from service.extensions import db
from service.models import Community, Conversation, Member, Membership, Post
from tests.conftest import open_riverside, run_worker
from tests.inbound_mail import compose, deliver


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def test_every_community_gets_an_address_from_its_name_and_no_two_share_one(app, ctx, personas):
    riverside = _riverside()
    assert riverside.slug == "riverside-cop"
    assert community_address(riverside) == "riverside-cop@cop.localhost"
    again = Community(name="Riverside  COP!", time_zone="UTC")
    reserved = Community(name="Postmaster", time_zone="UTC")
    db.session.add_all([again, reserved])
    db.session.commit()
    assert again.slug == "riverside-cop-2"
    assert reserved.slug == "postmaster-2"
    assert free_slug("Café Niños", lambda slug: False) == "cafe-ninos"


def test_a_members_post_reaches_every_other_member_threaded_from_name_via_community(app, ctx, personas, smtp):
    community = open_riverside()
    raw = compose("Ana Torres <ana@example.org>", community_address(community),
                  subject="Intake for families without documents",
                  body="How do you handle intake for families without documents?\nWe ask for very little.")
    row = deliver(app, raw, community_address(community))
    assert (row.status, row.outcome) == ("done", "post")
    post = db.session.scalar(select(Post))
    assert post.text.startswith("How do you handle intake")
    run_worker(app)
    got = {r.rcpt_tos[0]: r.message for r in smtp.messages}
    assert set(got) == {"rosa@example.org", "tom@example.org"}  # not back to the author
    copy = got["rosa@example.org"]
    assert copy["Subject"] == "Intake for families without documents"
    assert copy["From"].addresses[0].display_name == "Ana Torres via Riverside COP"
    assert copy["Reply-To"].addresses[0].addr_spec == "riverside-cop@cop.localhost"
    assert copy["List-Post"] == "<mailto:riverside-cop@cop.localhost>"
    assert copy["Message-ID"] == post.message_id == got["tom@example.org"]["Message-ID"]
    assert "How do you handle intake" in copy.get_body(("plain",)).get_content()
    assert "riverside-cop@cop.localhost" in copy.get_body(("plain",)).get_content()


def test_a_reply_to_a_copy_joins_the_conversation_with_threading_headers(app, ctx, personas, smtp):
    community = open_riverside()
    address = community_address(community)
    deliver(app, compose("ana@example.org", address, subject="Intake questions", body="What do you ask first?"),
            address)
    run_worker(app)
    first = db.session.scalar(select(Post))
    reply = compose("Rosa Diaz <rosa@example.org>", address, subject="Re: Intake questions",
                    body="We start with the household's name.\n\nOn Mon, Ana wrote:\n> What do you ask first?",
                    In_Reply_To=first.message_id, References=first.message_id)
    row = deliver(app, reply, address)
    assert row.outcome == "post"
    assert db.session.scalar(select(func.count(Conversation.id))) == 1
    second = db.session.scalar(select(Post).where(Post.id != first.id))
    assert second.in_reply_to_id == first.id and second.text == "We start with the household's name."
    run_worker(app)
    to_ana = [r.message for r in smtp.to("ana@example.org")]
    assert [m["In-Reply-To"] for m in to_ana] == [first.message_id]
    assert first.message_id in to_ana[0]["References"]
    assert db.session.get(Conversation, first.conversation_id).post_count == 2


def test_a_post_from_someone_not_in_the_community_is_not_posted(app, ctx, personas, smtp):
    community = open_riverside()
    row = deliver(app, compose("stranger@example.net", community_address(community), subject="Hi",
                               body="Buy our product now, it is great."), community_address(community))
    assert row.status == "held" and "not an active member" in row.reason
    assert db.session.scalar(select(func.count(Post.id))) == 0


def test_an_out_of_office_answer_to_the_community_address_is_never_posted(app, ctx, personas, smtp):
    community = open_riverside()
    row = deliver(app, compose("rosa@example.org", community_address(community), subject="Out of office",
                               body="I am out of the office until Monday.", Auto_Submitted="auto-replied"),
                  community_address(community))
    assert row.status == "ignored"
    assert db.session.scalar(select(func.count(Post.id))) == 0


def test_members_on_the_digest_or_none_get_no_copy(app, ctx, personas, smtp):
    community = open_riverside()
    tom = db.session.scalar(select(Membership).join(Member).where(Member.email == "tom@example.org"))
    tom.conversations = "digest"
    db.session.commit()
    deliver(app, compose("ana@example.org", community_address(community), subject="A question",
                         body="Who has tried evening office hours?"), community_address(community))
    run_worker(app)
    assert {r.rcpt_tos[0] for r in smtp.messages} == {"rosa@example.org"}


def test_every_community_email_names_the_community_address_in_its_footer_and_list_post(app, ctx, personas, smtp):
    community = _riverside()
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    members.send_welcome(community, ana)
    db.session.commit()
    run_worker(app)
    welcome = smtp.to("ana@example.org")[0].message
    assert welcome["List-Post"] == "<mailto:riverside-cop@cop.localhost>"
    assert "riverside-cop@cop.localhost" in welcome.get_body(("plain",)).get_content()
