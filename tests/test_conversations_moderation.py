"""Moderating conversations: a post that waits is announced to its author and to each coordinator and leader,
who approve, retitle or decline it from the dashboard or by replying to its email; it acts once."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from service import members, needs_you
from service.addresses import make_address
from service.conversations import moderation
from service.coordinators import create_coordinator
from service.extensions import db
from service.inbound.store import receive
from service.models import (AuditEvent, Community, CommunityCoordinator, Coordinator, Member, Membership,
                            OutboundEmail, Post)
from tests.conftest import PASSWORD, csrf_from, login, run_worker
from tests.inbound_mail import compose, deliver

ADDRESS = "riverside-cop@cop.localhost"


@pytest.fixture
def riverside(app, personas):
    """Riverside (moderation "new", the default): Ana (Spanish), Rosa and Tom; alice coordinates, lea leads (in
    Spanish), olga observes."""
    with app.app_context():
        community = db.session.get(Community, personas["riverside"])
        for name, email in (("Rosa Diaz", "rosa@example.org"), ("Tom Reed", "tom@example.org")):
            members.add_member(None, community, name=name, email=email, organization="Northside", language="en",
                               welcome=False)
        for email, role, language in (("lea@example.org", "leader", "es"), ("olga@example.org", "observer", "en")):
            account = create_coordinator(email, email.split("@")[0].title(), PASSWORD, language=language)
            db.session.flush()
            db.session.add(CommunityCoordinator(community_id=community.id, coordinator_id=account.id, role=role))
        db.session.commit()
        db.session.remove()
    return personas


def _post_from_ana(app, subject="Intake sin documentos", body="¿Cómo hacen la admisión de familias sin papeles?"):
    return deliver(app, compose("Ana Torres <ana@example.org>", ADDRESS, subject=subject, body=body), ADDRESS)


def _account(email: str) -> Coordinator:
    return db.session.scalar(select(Coordinator).where(Coordinator.email == email))


def _only_post() -> Post:
    return db.session.scalar(select(Post))


def _client(app, email: str):
    client = app.test_client()
    assert login(client, email, PASSWORD).status_code == 302
    return client


def _page_post(client, community_id: int, post: Post, action: str, data: dict):
    page = f"/communities/{community_id}/moderation/"
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(f"{page}{post.id}/{action}", data={"csrf_token": token, **data})


def _recipients(smtp) -> set[str]:
    return {r.rcpt_tos[0] for r in smtp.messages}


def _text(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_new_members_first_post_waits_its_author_is_told_and_each_moderator_gets_it(
        app, ctx, riverside, smtp):
    row = _post_from_ana(app)
    assert (row.status, row.outcome) == ("done", "post_waiting")
    post = _only_post()
    assert post.status == "waiting"
    run_worker(app)
    assert _recipients(smtp) == {"ana@example.org", "alice@example.org", "lea@example.org"}  # not olga, no member
    to_ana = smtp.to("ana@example.org")[0].message
    assert to_ana["Subject"] == "Tu mensaje espera a un moderador: Intake sin documentos"
    assert to_ana["In-Reply-To"] == post.original_message_id
    assert "Una vez aprobado uno" in _text(to_ana)
    to_alice = smtp.to("alice@example.org")[0].message
    assert to_alice["Subject"] == "Post to moderate in Riverside COP: Intake sin documentos"
    reply_to = to_alice["Reply-To"].addresses[0].addr_spec
    assert reply_to == make_address("moderate", post.id, _account("alice@example.org").id)
    assert "¿Cómo hacen la admisión de familias sin papeles?" in _text(to_alice)
    assert "Ana Torres (ana@example.org)" in _text(to_alice)
    to_lea = smtp.to("lea@example.org")[0].message
    assert to_lea["Subject"].startswith("Mensaje por moderar en Riverside COP")
    assert to_lea["Reply-To"].addresses[0].addr_spec != reply_to  # each moderator answers with their own
    # Once per post: announcing it again queues nothing.
    queued = db.session.scalar(select(func.count(OutboundEmail.id)))
    moderation.post_waits(post, db.session.get(Community, post.community_id))
    db.session.commit()
    assert db.session.scalar(select(func.count(OutboundEmail.id))) == queued


def test_moderation_by_page_approve_with_a_better_subject_then_the_author_goes_straight_through(
        app, ctx, riverside, smtp):
    _post_from_ana(app)
    run_worker(app)
    smtp.messages.clear()
    post = _only_post()
    alice = _client(app, "alice@example.org")
    page = alice.get(f"/communities/{riverside['riverside']}/moderation/").get_data(as_text=True)
    assert "¿Cómo hacen la admisión de familias sin papeles?" in page and "Approve and send" in page
    response = _page_post(alice, riverside["riverside"], post, "approve", {"subject": "Intake without documents"})
    assert response.status_code == 302
    db.session.expire_all()
    assert post.status == "published" and post.subject == "Intake without documents"
    assert post.conversation.subject == "Intake without documents"
    run_worker(app)
    assert _recipients(smtp) == {"rosa@example.org", "tom@example.org"}
    assert smtp.to("rosa@example.org")[0].message["Subject"] == "Intake without documents"
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "post")))
    assert actions == {"post.subject", "post.approve"}
    ana = db.session.scalar(select(Membership).join(Member).where(Member.email == "ana@example.org"))
    assert ana.posts_approved
    listing = alice.get(f"/communities/{riverside['riverside']}/moderation/").get_data(as_text=True)
    assert "No post is waiting." in listing and "Approved" in listing and "Alice" in listing
    # Her next post is not held: it goes out at once.
    row = _post_from_ana(app, subject="Otra pregunta", body="¿Alguien tiene horario nocturno?")
    assert row.outcome == "post"
    assert db.session.scalar(select(Post).where(Post.subject == "Otra pregunta")).status == "published"


def test_moderation_by_page_decline_needs_a_reason_and_tells_only_the_author(app, ctx, riverside, smtp):
    _post_from_ana(app)
    run_worker(app)
    smtp.messages.clear()
    post = _only_post()
    alice = _client(app, "alice@example.org")
    refused = _page_post(alice, riverside["riverside"], post, "decline", {"reason": "  "})
    assert refused.status_code == 400
    assert "Say why the post is declined" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert post.status == "waiting"
    response = _page_post(alice, riverside["riverside"], post, "decline",
                          {"reason": "Please write this to the coordinators; it names a family."})
    assert response.status_code == 302
    db.session.expire_all()
    assert (post.status, post.reason) == ("declined", "Please write this to the coordinators; it names a family.")
    run_worker(app)
    assert _recipients(smtp) == {"ana@example.org"}
    declined = smtp.to("ana@example.org")[0].message
    assert declined["Subject"] == "Tu mensaje no se envió: Intake sin documentos"
    assert "it names a family" in _text(declined)
    listing = alice.get(f"/communities/{riverside['riverside']}/moderation/").get_data(as_text=True)
    assert "Declined: Please write this to the coordinators" in listing


def _moderator_reply(app, post: Post, account_email: str, body: str, sender: str | None = None):
    to = make_address("moderate", post.id, _account(account_email).id)
    return deliver(app, compose(sender or account_email, to, subject=f"Re: Post to moderate: {post.subject}",
                                body=body), to)


def test_moderation_by_reply_approve(app, ctx, riverside, smtp):
    _post_from_ana(app)
    run_worker(app)
    smtp.messages.clear()
    post = _only_post()
    row = _moderator_reply(app, post, "alice@example.org",
                           "OK, looks good.\n\nOn Monday, COP wrote:\n> Reply to this email with approve")
    assert (row.status, row.outcome) == ("done", "post_approved")
    db.session.expire_all()
    assert post.status == "published" and post.moderated_by_id == _account("alice@example.org").id
    run_worker(app)
    assert _recipients(smtp) == {"rosa@example.org", "tom@example.org"}
    assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "post.approve"))["via"] == "email"


def test_moderation_by_reply_decline_in_spanish_with_the_reason(app, ctx, riverside, smtp):
    _post_from_ana(app)
    run_worker(app)
    smtp.messages.clear()
    post = _only_post()
    row = _moderator_reply(app, post, "lea@example.org", "Rechazar: esto va mejor en la reunión del jueves.")
    assert (row.status, row.outcome) == ("done", "post_declined")
    db.session.expire_all()
    assert (post.status, post.reason) == ("declined", "esto va mejor en la reunión del jueves.")
    run_worker(app)
    assert _recipients(smtp) == {"ana@example.org"}
    assert "esto va mejor en la reunión del jueves." in _text(smtp.to("ana@example.org")[0].message)


def _moderation_outcome(app, post, body):
    row = _moderator_reply(app, post, "alice@example.org", body)
    return row.status, row.outcome


def test_a_moderators_reply_that_says_neither_leaves_the_post_waiting_for_a_person(app, ctx, riverside, smtp):
    _post_from_ana(app)
    post = _only_post()
    assert _moderation_outcome(app, post, "Who is this family?") == ("unclear", None)
    assert _moderation_outcome(app, post, "decline") == ("unclear", None)  # no reason for the author
    db.session.expire_all()
    assert post.status == "waiting"


def test_a_moderation_reply_not_from_the_moderators_address_is_held(app, ctx, riverside, smtp):
    _post_from_ana(app)
    post = _only_post()
    forged = _moderator_reply(app, post, "alice@example.org", "approve", sender="mallory@example.net")
    assert forged.status == "held" and "not from the address of the moderator" in forged.reason
    other = _moderator_reply(app, post, "alice@example.org", "approve", sender="lea@example.org")
    assert other.status == "held"  # lea moderates too, but with the address sent to her
    db.session.expire_all()
    assert post.status == "waiting"
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.object_type == "post")) == 0


def test_a_post_moderated_twice_acts_once(app, ctx, riverside, smtp):
    """Page first, then a reply; and a decline from a page loaded before someone approved by email."""
    _post_from_ana(app)
    run_worker(app)
    post = _only_post()
    alice = _client(app, "alice@example.org")
    assert _page_post(alice, riverside["riverside"], post, "approve", {"subject": post.subject}).status_code == 302
    late = _moderator_reply(app, post, "lea@example.org", "rechazar: no")
    assert (late.status, late.outcome) == ("done", "already_moderated")
    db.session.expire_all()
    assert post.status == "published"
    assert db.session.scalar(select(func.count(OutboundEmail.id)).where(OutboundEmail.kind == "post_declined")) == 0

    second = _post_from_ana(app, subject="Segunda", body="Otra cosa.")  # approved now: goes straight out
    assert second.outcome == "post"
    community = db.session.get(Community, riverside["riverside"])
    community.moderation = "all"
    db.session.commit()
    third_row = _post_from_ana(app, subject="Tercera", body="Una más.")
    stale = db.session.get(Post, third_row.object_id)
    assert stale.status == "waiting"  # what a page loaded now shows
    to = make_address("moderate", stale.id, _account("lea@example.org").id)
    receive(compose("lea@example.org", to, subject="Re", body="aprobar"), to, "test")
    run_worker(app)  # lea approves by email meanwhile, in another session
    with pytest.raises(moderation.Moderated):
        moderation.decline(_account("alice@example.org"), stale, "Too late")
    db.session.rollback()
    assert db.session.get(Post, stale.id).status == "published"
    assert db.session.scalar(select(func.count(OutboundEmail.id)).where(OutboundEmail.kind == "post_declined")) == 0


def test_under_all_every_post_waits_even_from_an_approved_member(app, ctx, riverside, smtp):
    community = db.session.get(Community, riverside["riverside"])
    community.moderation = "all"
    db.session.execute(Membership.__table__.update().values(posts_approved=True))
    db.session.commit()
    row = _post_from_ana(app)
    assert row.outcome == "post_waiting"
    run_worker(app)
    assert "Todos los mensajes" in _text(smtp.to("ana@example.org")[0].message)


def test_an_observer_reads_the_waiting_posts_but_cannot_moderate(app, ctx, riverside, smtp):
    _post_from_ana(app)
    post = _only_post()
    olga = _client(app, "olga@example.org")
    page = olga.get(f"/communities/{riverside['riverside']}/moderation/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "¿Cómo hacen la admisión" in html and "Approve and send" not in html
    token = csrf_from(olga.get("/").get_data(as_text=True))
    for action, data in (("approve", {"subject": "x"}), ("decline", {"reason": "x"}), ("subject", {"subject": "x"})):
        response = olga.post(f"/communities/{riverside['riverside']}/moderation/{post.id}/{action}",
                             data={"csrf_token": token, **data})
        assert response.status_code == 403
    # Nor by a reply to an address made out to her account (she is sent none).
    row = _moderator_reply(app, post, "olga@example.org", "approve")
    assert row.status == "held" and "no longer coordinates or leads" in row.reason
    db.session.expire_all()
    assert post.status == "waiting"


def test_another_communitys_coordinator_gets_404_and_changes_nothing(app, ctx, riverside, smtp):
    _post_from_ana(app)
    post = _only_post()
    bob = _client(app, "bob@example.org")
    base = f"/communities/{riverside['riverside']}/moderation/"
    assert bob.get(base).status_code == 404
    token = csrf_from(bob.get("/").get_data(as_text=True))
    assert bob.post(f"{base}{post.id}/approve", data={"csrf_token": token, "subject": "x"}).status_code == 404
    # Nor through his own community's page with Riverside's post.
    own = f"/communities/{riverside['lakeside']}/moderation/{post.id}/approve"
    assert bob.post(own, data={"csrf_token": token, "subject": "x"}).status_code == 404
    db.session.expire_all()
    assert post.status == "waiting"


def test_waiting_posts_count_in_needs_you_and_its_summary(app, ctx, riverside, smtp):
    _post_from_ana(app)
    assert needs_you.waiting([riverside["riverside"]])[riverside["riverside"]] == {"posts_waiting": 1}
    alice = _client(app, "alice@example.org")
    dashboard = alice.get("/").get_data(as_text=True)
    assert "Posts waiting for a moderator" in dashboard
    assert f"/communities/{riverside['riverside']}/moderation/" in dashboard
    assert needs_you.queue_due(datetime(2026, 12, 1, 9, tzinfo=timezone.utc)) >= 1
    smtp.messages.clear()
    run_worker(app)
    summary = _text(smtp.to("alice@example.org")[0].message)
    assert "Posts waiting for a moderator: 1" in summary
    # Approved: the kept count is counted again at once (the post's change raised the figures stamp).
    assert _page_post(alice, riverside["riverside"], _only_post(), "approve", {"subject": "Intake"}).status_code == 302
    assert "Posts waiting for a moderator" not in alice.get("/").get_data(as_text=True)


def test_the_community_settings_choose_moderation_and_where_replies_go_audited(app, ctx, riverside):
    alice = _client(app, "alice@example.org")
    edit = f"/communities/{riverside['riverside']}/edit"
    page = alice.get(edit).get_data(as_text=True)
    assert "Every post waits for a moderator" in page and "To the post's author only" in page
    form = {"name": "Riverside COP", "time_zone": "America/Chicago", "stage": "forming", "digest_cadence": "biweekly",
            "csrf_token": csrf_from(page)}
    bad = alice.post(edit, data={**form, "moderation": "sometimes", "replies_to": "author"})
    assert bad.status_code == 400 and "Not a valid choice" in bad.get_data(as_text=True)
    db.session.expire_all()
    community = db.session.get(Community, riverside["riverside"])
    assert (community.moderation, community.replies_to) == ("new", "community")
    assert alice.post(edit, data={**form, "moderation": "all", "replies_to": "author"}).status_code == 302
    db.session.expire_all()
    assert (community.moderation, community.replies_to) == ("all", "author")
    changes = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "community.update")).all()
    assert changes[-1]["changes"] == {"moderation": ["new", "all"], "replies_to": ["community", "author"]}
