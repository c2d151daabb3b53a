"""Replies to our emails: the member's words found under any client's quoting, understood in English and
Spanish, acted on with the same domain functions as the web pages, and confirmed to the member."""
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.utils import make_msgid

import pytest
from hypothesis import given, settings, strategies as st
from flask_babel import force_locale, gettext
from sqlalchemy import func, select, update

from service import charters, mailer, meeting_queries, meetings, members
from service.addresses import make_address
from service.email_render import safe_message_id
from service.extensions import db
from service.inbound.intent import (after_first_sentence, charter_decision, rsvp_answer,
                                    wants_unsubscribe)
from service.inbound.message import Incoming, read_message
from service.inbound.store import receive
from service.inbound.trim import reply_text
from service.models import (CharterVote, Community, DigestIssue, InboundMessage, Invitation, Meeting, Member,
                            OutboundEmail, Practice)
from tests.conftest import run_worker
from tests.inbound_mail import compose, deliver
from tests.reply_corpus import CORPUS, LEFTOVERS, fill

CONFIRMATION_OF = {"rsvp": "reply_rsvp", "charter_vote": "reply_charter", "practice": "reply_practice",
                   "comment": "reply_comment"}


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _reply_address(member: Member, community: Community) -> str:
    return make_address("reply", member.id, community.id)


def _meeting(starts_in=timedelta(days=3)) -> Meeting:
    meeting = meetings.create_meeting(None, _riverside(), starts_at=datetime.now(timezone.utc) + starts_in,
                                      title="Monthly exchange", location="Main St. Library")
    meetings.invite(None, meeting, [m.id for m in meeting_queries.active_members(_riverside())])
    db.session.commit()
    return meeting


def _sent(app, kind: str, member: Member | None = None) -> OutboundEmail:
    """An email of `kind` sent to the member (Ana unless told), as delivery leaves it: with its Message-ID."""
    member = member or _member()
    community = _riverside()
    if kind.startswith("meeting_"):
        meeting = _meeting()
        if kind != "meeting_invitation":
            mailer.queue_email(kind, member, f"test:{kind}:{member.id}", {"meeting_id": meeting.id}, community)
    elif kind == "charter_proposal":
        charter = charters.current_draft(community)
        charters.save_draft(None, charter, "## Purpose\n\nWe learn together how to serve families.")
        charters.propose(None, charter)
    elif kind == "welcome":
        members.send_welcome(community, member)
    elif kind == "digest":  # a digest issue needs a lesson to render; the row is what a sent one leaves
        issue = DigestIssue(community_id=community.id, number=1, slot_at=datetime.now(timezone.utc))
        db.session.add(issue)
        db.session.flush()
        db.session.add(OutboundEmail(
            kind="digest", community_id=community.id, member_id=member.id, recipient=member.email,
            idempotency_key=f"digest:{community.id}:1:{member.id}", context={"issue_id": issue.id},
            status="sent", message_id=make_msgid(domain="cop.localhost"), attempts=1))
    db.session.commit()
    run_worker(app)
    db.session.expire_all()
    return db.session.scalar(select(OutboundEmail).where(
        OutboundEmail.kind == kind, OutboundEmail.member_id == member.id).order_by(OutboundEmail.id.desc()))


def _confirmations() -> list[OutboundEmail]:
    return list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind.like("reply_%"))))


def _mailed_back(smtp, address: str) -> list:
    """Our answers to a member's email that reached the SMTP server (what we sent before is left out)."""
    return [r for r in smtp.to(address) if r.message["Auto-Submitted"] == "auto-replied"]


def _answer(meeting_id: int, member: Member) -> str | None:
    return db.session.scalar(select(Invitation.answer).where(Invitation.meeting_id == meeting_id,
                                                             Invitation.member_id == member.id))


# --- the corpus, end to end -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_reply_in_the_corpus_is_understood_recorded_and_confirmed(app, ctx, personas, smtp, name):
    case = CORPUS[name]
    ours = _sent(app, case.answers)
    ana, riverside = _member(), _riverside()
    to = _reply_address(ana, riverside)
    raw = fill(name, ana.email, to, ours.message_id)
    stored = deliver(app, raw, to, via="mta")

    assert (stored.status, stored.outcome) == (case.status, case.outcome), stored.reason
    assert case.words in stored.text
    assert not [left for left in LEFTOVERS if left in stored.text], stored.text
    db.session.expire_all()
    if case.outcome == "rsvp":
        assert stored.object_kind == "meeting"
        assert _answer(stored.object_id, ana) == case.decision
    elif case.answers.startswith("meeting_"):
        assert _answer(stored.object_id, ana) is None  # a question or a negation answers nothing
    if case.outcome == "charter_vote":
        vote = db.session.scalar(select(CharterVote).where(CharterVote.member_id == ana.id))
        assert (vote.decision, stored.object_kind) == (case.decision, "charter")
        assert case.words in vote.comment
    if case.outcome == "practice":
        practice = db.session.scalar(select(Practice).where(Practice.member_id == ana.id))
        assert (practice.status, practice.source) == ("pending", "email")
        assert practice.title.startswith(case.words) and case.words in practice.what_we_did
    if case.outcome == "unsubscribed":
        assert _member().status == "unsubscribed"
        assert _confirmations() == [] and _mailed_back(smtp, ana.email) == []
        return

    [confirmation] = _confirmations()
    expected_kind = "reply_unclear" if case.status == "unclear" else CONFIRMATION_OF[case.outcome]
    assert (confirmation.kind, confirmation.status) == (expected_kind, "sent")
    assert confirmation.idempotency_key == f"inbound-reply:{stored.id}"
    [received] = _mailed_back(smtp, ana.email)
    message = received.message
    sent_id = message_from_bytes(raw, policy=policy.default)["Message-ID"].strip()
    assert message["In-Reply-To"] == sent_id and message["References"] == sent_id
    assert message["Auto-Submitted"] == "auto-replied"
    assert message.get_body(("plain",)).get_content().strip()


# --- what a reply answers -------------------------------------------------------------------------

def test_a_reply_whose_client_dropped_the_threading_headers_is_matched_by_its_subject(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    with force_locale("es"):
        subject = gettext("Invitation: %(title)s", title="Monthly exchange")
    stored = deliver(app, compose(ana.email, to, f"RE: RV: {subject}", "Sí, allí estaré"), to)
    assert (stored.status, stored.outcome) == ("done", "rsvp")
    assert _answer(ours.context["meeting_id"], ana) == "yes"


def test_a_subject_that_matches_nothing_of_ours_is_unclear_and_answers_nothing(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    stored = deliver(app, compose(ana.email, to, "Re: something else", "Yes"), to)
    assert (stored.status, stored.object_kind) == ("unclear", None)
    assert _answer(ours.context["meeting_id"], ana) is None
    assert [c.kind for c in _confirmations()] == ["reply_unclear"]


def test_the_message_id_of_another_members_email_never_matches(app, ctx, personas, smtp):
    riverside = _riverside()
    members.add_member(None, riverside, name="Sam Lee", email="sam@example.org", organization="North")
    db.session.commit()
    ours = _sent(app, "meeting_invitation")
    sams = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "meeting_invitation",
                                                         OutboundEmail.member_id == _member("sam@example.org").id))
    ana = _member()
    to = _reply_address(ana, riverside)
    raw = compose(ana.email, to, "Re: hello", "Yes", In_Reply_To=sams.message_id, References=sams.message_id)
    stored = deliver(app, raw, to)
    assert stored.status == "unclear" and stored.object_kind is None
    assert _answer(ours.context["meeting_id"], ana) is None
    assert _answer(ours.context["meeting_id"], _member("sam@example.org")) is None


def test_the_message_id_of_the_members_email_from_another_community_never_matches(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    lakeside = db.session.scalar(select(Community).where(Community.name == "Lakeside COP"))
    members.add_member(None, lakeside, name="Ana Torres", email=ana.email, organization="Casa Verde")
    db.session.commit()
    to = _reply_address(ana, lakeside)  # her Lakeside reply address, answering a Riverside email
    stored = deliver(app, compose(ana.email, to, "Re: hello", "Yes", In_Reply_To=ours.message_id), to)
    assert stored.status == "unclear" and stored.object_kind is None
    assert _answer(ours.context["meeting_id"], ana) is None


def test_the_newest_reference_of_ours_decides_when_in_reply_to_is_not_ours(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    raw = compose(ana.email, to, "Re: hello", "No puedo, lo siento", In_Reply_To="<colleague@mail.example.net>",
                  References=f"<older@mail.example.net> {ours.message_id} <colleague@mail.example.net>")
    stored = deliver(app, raw, to)
    assert (stored.status, stored.outcome) == ("done", "rsvp")
    assert _answer(ours.context["meeting_id"], ana) == "no"


def test_a_reply_to_our_confirmation_changes_the_answer(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    deliver(app, compose(ana.email, to, "Re: x", "Yes", In_Reply_To=ours.message_id), to)
    [confirmation] = _confirmations()
    stored = deliver(app, compose(ana.email, to, "Re: y", "Actually, not this time.",
                                  In_Reply_To=confirmation.message_id), to)
    assert (stored.status, stored.outcome, stored.object_kind) == ("done", "rsvp", "meeting")
    assert _answer(ours.context["meeting_id"], ana) == "no"


# --- who may answer -------------------------------------------------------------------------------

def test_a_spoofed_from_is_held_and_nothing_is_recorded_or_sent(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    stored = deliver(app, fill("gmail_en_top", "mallory@evil.example", to, ours.message_id), to)
    assert stored.status == "held" and "mallory@evil.example" in stored.reason
    assert _answer(ours.context["meeting_id"], ana) is None
    assert _confirmations() == []


def test_one_members_reply_address_used_by_another_member_is_held(app, ctx, personas, smtp):
    riverside = _riverside()
    members.add_member(None, riverside, name="Sam Lee", email="sam@example.org", organization="North")
    db.session.commit()
    ours = _sent(app, "meeting_invitation")
    ana, sam = _member(), _member("sam@example.org")
    to = _reply_address(ana, riverside)
    stored = deliver(app, fill("gmail_en_top", sam.email, to, ours.message_id), to)
    assert stored.status == "held" and stored.member_id is None
    assert _answer(ours.context["meeting_id"], ana) is None and _answer(ours.context["meeting_id"], sam) is None
    assert _confirmations() == []


def test_a_tampered_reply_address_is_held(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    local, _, domain = _reply_address(ana, _riverside()).partition("@")
    tampered = f"{local[:-1]}{'0' if local[-1] != '0' else '1'}@{domain}"
    stored = deliver(app, fill("gmail_en_top", ana.email, tampered, ours.message_id), tampered)
    assert stored.status == "held"
    assert _answer(ours.context["meeting_id"], ana) is None
    assert _confirmations() == []


def test_the_same_reply_twice_is_recorded_and_confirmed_once(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    raw = fill("outlook_desktop_en", ana.email, to, ours.message_id)
    first = deliver(app, raw, to)
    again, new = receive(raw, to, "imap")
    run_worker(app)
    assert not new and again.id == first.id
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 1
    assert len(_confirmations()) == 1 and len(_mailed_back(smtp, ana.email)) == 1
    assert _answer(ours.context["meeting_id"], ana) == "no"


# --- refusals and unclear replies -----------------------------------------------------------------

def test_an_answer_after_the_meeting_started_is_unclear_and_the_member_is_told_why(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    meeting_id = ours.context["meeting_id"]
    db.session.execute(update(Meeting).where(Meeting.id == meeting_id)
                       .values(starts_at=datetime.now(timezone.utc) - timedelta(minutes=5)))
    db.session.commit()
    ana = _member()
    to = _reply_address(ana, _riverside())
    stored = deliver(app, fill("gmail_en_top", ana.email, to, ours.message_id), to)
    with force_locale("es"):  # Ana reads Spanish
        why = gettext("This meeting has already started, so answers are closed.")
    assert stored.status == "unclear" and stored.reason == why
    assert _answer(meeting_id, ana) is None
    [received] = _mailed_back(smtp, ana.email)
    text = received.message.get_body(("plain",)).get_content()
    assert why in text
    assert "/rsvp/" not in text  # no links to answer a meeting that has started


def test_an_unclear_answer_offers_the_one_click_links_while_the_meeting_is_open(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    stored = deliver(app, fill("gmail_en_question", ana.email, to, ours.message_id), to)
    assert stored.status == "unclear"
    [received] = _mailed_back(smtp, ana.email)
    text = received.message.get_body(("plain",)).get_content()
    assert "Is it online or at the library this time?" in text
    assert text.count("/rsvp/") == 3


def test_a_yes_to_a_cancellation_is_a_comment_not_an_answer(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_cancelled")
    ana = _member()
    to = _reply_address(ana, _riverside())
    stored = deliver(app, compose(ana.email, to, "Re: x", "Yes, sad to miss it", In_Reply_To=ours.message_id), to)
    assert (stored.status, stored.outcome, stored.object_kind) == ("done", "comment", "meeting")
    assert _answer(ours.context["meeting_id"], ana) is None
    assert [c.kind for c in _confirmations()] == ["reply_comment"]


def test_a_reply_with_nothing_above_the_quote_is_unclear(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()
    to = _reply_address(ana, _riverside())
    body = "On Mon, Dec 7, 2026 at 9:00 AM COP Coordinator <cop@cop.localhost> wrote:\n> You are invited\n"
    stored = deliver(app, compose(ana.email, to, "Re: x", body, In_Reply_To=ours.message_id), to)
    assert (stored.status, stored.text) == ("unclear", "")
    assert [c.kind for c in _confirmations()] == ["reply_unclear"]


def test_a_thank_you_under_a_digest_is_a_comment_not_a_practice(app, ctx, personas, smtp):
    ours = _sent(app, "digest")
    ana = _member()
    to = _reply_address(ana, _riverside())
    stored = deliver(app, compose(ana.email, to, "Re: digest", "Thanks, very useful!", In_Reply_To=ours.message_id),
                     to)
    assert (stored.status, stored.outcome, stored.object_kind) == ("done", "comment", "digest")
    assert db.session.scalar(select(func.count(Practice.id))) == 0


def test_a_practice_with_markup_is_stored_as_text_and_shown_escaped(app, ctx, personas, smtp):
    ours = _sent(app, "digest")
    ana = _member()
    to = _reply_address(ana, _riverside())
    body = "<script>alert(1)</script> We pair every new volunteer with an experienced one for the first month."
    stored = deliver(app, compose(ana.email, to, "Buddy system for volunteers", body, In_Reply_To=ours.message_id),
                     to)
    assert stored.outcome == "practice"
    practice = db.session.scalar(select(Practice))
    assert practice.title == "Buddy system for volunteers" and practice.what_we_did == body
    [received] = _mailed_back(smtp, ana.email)
    html = received.message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_confirmation_reads_the_members_language(app, ctx, personas, smtp):
    ours = _sent(app, "meeting_invitation")
    ana = _member()  # Spanish
    to = _reply_address(ana, _riverside())
    deliver(app, fill("gmail_es_wrapped_attribution", ana.email, to, ours.message_id), to)
    [received] = _mailed_back(smtp, ana.email)
    with force_locale("es"):
        subject = gettext("Your answer is saved: %(title)s", title="Monthly exchange")
    assert received.message["Subject"] == subject and subject.startswith("Su respuesta")
    assert "Llevo las notas de la última reunión." in received.message.get_body(("plain",)).get_content()


# --- header safety --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, safe", [
    ("<CAHx7q1Z@mail.gmail.com>", True),
    ("<000001db4c2a$a1$@centro.example>", True),
    ("<a@b>\r\nBcc: victim@example.org", False),
    ("<a b@c>", False),
    ("<a@b> <c@d>", False),
    ("a@b", False),
    ("<" + "a" * 300 + "@b>", False),
    ("", False),
])
def test_only_a_plain_message_id_goes_into_in_reply_to(value, safe):
    assert (safe_message_id(value) is not None) == safe


# --- what the words mean (no database) ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "yes", "Yes!", "YES.", "yes please", "Yeah, sure", "Count me in!", "count me in 👍", "I'll be there",
    "I’ll be there, thanks", "I will be there.", "I will come, yes.", "See you there!", "Of course",
    "No problem, see you Tuesday", "👍", "Absolutely. Can I bring a colleague?",
    "sí", "Si", "SÍ!!", "Sí, allí estaré.", "alli estare", "Ahí estaré", "Cuenten conmigo", "cuenta conmigo 🙂",
    "Claro que sí", "Por supuesto, nos vemos", "Asistiré", "Confirmo.",
    "Hi Alice,\n\nYes, count me in.", "Hola a todos:\nSí, allí estaré", "Hola, sí, allí estaré", "Hi, yes",
])
def test_everyday_yes(text):
    assert rsvp_answer(text) == "yes"


@pytest.mark.parametrize("text", [
    "no", "No.", "Nope", "No, I can't make it.", "Sorry, I can't make it this time.", "can't make it",
    "I cannot come", "Not this time, sorry.", "not this time", "I won't be able to join", "Count me out",
    "Unfortunately I'm not going", "👎",
    "No puedo", "no puedo, lo siento", "No podré ir", "Esta vez no", "No iré.", "no asistiré", "No voy a poder.",
])
def test_everyday_no(text):
    assert rsvp_answer(text) == "no"


@pytest.mark.parametrize("text", [
    "maybe", "Maybe!", "Maybe, it depends on my shift.", "perhaps", "Not sure yet", "Probably", "tentatively yes",
    "tal vez", "Tal vez.", "Quizás", "quiza", "A lo mejor", "Puede ser", "No estoy segura todavía",
    "Si puedo, voy",
])
def test_everyday_maybe(text):
    assert rsvp_answer(text) == "maybe"


@pytest.mark.parametrize("text", [
    "I can't say yes until my director signs off.", "I don't think I can say yes yet", "Is it online?",
    "is it online or in person?", "Yes or no, do we need to bring anything?", "¿Es en línea?", "¿Sí o no hay que llevar algo?",
    "What time does it end?", "Thank you for organizing this", "Gracias por organizar", "", "   ",
    "> yes", "Tengo una pregunta\nsí, claro", "Who else is coming?", "Hi Dana,\n\nIs it online?",
])
def test_questions_negations_and_other_words_are_no_answer(text):
    assert rsvp_answer(text) is None


def test_the_first_sentence_answers_and_the_rest_is_the_note():
    text = "Sorry, I can't make it this time. We have our board meeting that afternoon.\n\nDana"
    assert rsvp_answer(text) == "no"
    assert after_first_sentence(text) == "We have our board meeting that afternoon.\n\nDana"
    assert rsvp_answer("Something came up.\nNo, I can't make it") is None  # the answer must come first


@pytest.mark.parametrize("text", [
    "I approve", "Approved!", "approve", "Yes", "Looks good to me", "I agree. Thanks for the work!", "LGTM",
    "Apruebo", "Lo apruebo.", "De acuerdo", "Estoy de acuerdo, gracias", "Sí", "Me parece bien",
])
def test_charter_approval(text):
    assert charter_decision(text) == ("approve", text)


@pytest.mark.parametrize("text", [
    "I approve, but the meetings should be every two weeks", "Please change the goals section",
    "I don't approve: the roles are missing", "Could we add a youth representative?",
    "Propongo un cambio: las reuniones cada dos semanas", "No estoy de acuerdo con la parte de roles",
    "Deberían agregar a las escuelas", "Sugiero quitar el punto 3",
])
def test_anything_asking_a_change_is_a_change_request_with_the_comment(text):
    assert charter_decision(text) == ("change", text)


@pytest.mark.parametrize("text", ["Is this the final version?", "Thanks!", "Gracias", "", "I don't know"])
def test_other_words_on_a_charter_are_neither(text):
    assert charter_decision(text) is None


@pytest.mark.parametrize("subject, text", [
    ("Re: Invitation", "unsubscribe"), ("unsubscribe", ""), ("RE: AW: Unsubscribe", "hello"),
    ("Re: digest", "STOP"), ("Re: digest", "Stop."), ("Re: digest", "\n  Unsubscribe me please\n\nthanks"),
    ("BAJA", "Ya no trabajo en la organización."), ("Re: boletín", "Darme de baja"), ("RV: boletín", "baja"),
    ("Re: boletín", "Quiero darme de baja"),
])
def test_unsubscribe_alone_in_the_subject_or_first_line(subject, text):
    assert wants_unsubscribe(subject, text)


@pytest.mark.parametrize("subject, text", [
    ("Re: Invitation", "Yes"), ("Re: digest", "How do I unsubscribe my colleague?"),
    ("Re: digest", "Please don't stop sending these"), ("Stop the meeting early?", "yes"),
    ("Re: digest", "Thanks\nunsubscribe"), ("Re: la baja de fondos", "sí"),
])
def test_unsubscribe_words_inside_a_sentence_are_not_an_unsubscribe(subject, text):
    assert not wants_unsubscribe(subject, text)


# --- trimming, on the corpus ----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CORPUS))
def test_trimming_keeps_the_members_words_and_drops_quote_headers_and_signature(app, name):
    raw = fill(name, "ana@example.org", "reply@cop.localhost", "<ours@cop.localhost>")
    with app.app_context():
        trimmed = reply_text(read_message(raw))
    assert CORPUS[name].words in trimmed
    assert not [left for left in LEFTOVERS if left in trimmed], trimmed


def test_trimming_keeps_a_list_and_a_reply_written_between_quotes():
    text = ("On Mon, Dec 7, 2026 at 9:00 AM COP Coordinator wrote:\n> Will you come?\n\nYes.\n\n"
            "> Anything to bring?\n\nWhat we did:\n- a sign-up sheet\n- text reminders\n")
    trimmed = reply_text(Incoming(message=None, text=text))
    assert trimmed.startswith("Yes.") and "- a sign-up sheet\n- text reminders" in trimmed
    assert ">" not in trimmed and "wrote:" not in trimmed


LINES = st.lists(st.one_of(
    st.text(max_size=80), st.sampled_from(["> quoted", "-- ", "On Mon, Dec 7 wrote:", "El lun escribió:",
                                           "From: a <a@b>", "Sent: today", "De: x", "Enviado el: hoy", "",
                                           "________________________________", "-----Original Message-----",
                                           "Sent from my iPhone", "Yes", "no puedo", "Hi Ana,"])), max_size=40)


@settings(max_examples=300, deadline=None)
@given(LINES)
def test_trimming_and_reading_never_raise_and_keep_only_text_that_was_there(lines):
    text = "\n".join(lines)
    trimmed = reply_text(Incoming(message=None, text=text))
    assert all(line.strip() in text for line in trimmed.splitlines())
    assert rsvp_answer(trimmed) in ("yes", "no", "maybe", None)
    assert charter_decision(trimmed) is None or charter_decision(trimmed)[0] in ("approve", "change")
    wants_unsubscribe(text[:255], trimmed)
