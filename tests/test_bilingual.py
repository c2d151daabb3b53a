"""What a coordinator writes for members, in English and Spanish: each member reads their own language, or the
other one with a note saying it was written in one language only; the compose pages say who reads which."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from service import bilingual, charters, digest_schedule, digests, form_requests, lessons, meeting_emails, members
from service.extensions import db
from service.models import Community, FormRequest, Lesson, Meeting, Member, Membership, OutboundEmail
from tests.conftest import PASSWORD, login, post_form, run_worker

CHICAGO = ZoneInfo("America/Chicago")
UTC = timezone.utc
ENGLISH_ONLY_ES = "Este mensaje se escribió solo en inglés."
SPANISH_ONLY_EN = "This message was written in Spanish only."


@pytest.fixture
def readers(app, personas):
    """Riverside: Ana reads Spanish (from the personas), Sam and Pat English, Elena Spanish. Ids by first name."""
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        members.add_member(None, riverside, name="Sam Lee", email="sam@example.org")
        members.add_member(None, riverside, name="Pat Kim", email="pat@example.org")
        members.add_member(None, riverside, name="Elena Ruiz", email="elena@example.org", language="es")
        db.session.commit()
        return {email.split("@")[0]: member_id for email, member_id in db.session.execute(select(Member.email,
                                                                                                  Member.id))}


def _plain(received) -> str:
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _html(received) -> str:
    return received.message.get_body(("html",)).get_content()


def _only(smtp, address: str, kind_subject: str):
    """The one email to `address` whose subject contains `kind_subject`."""
    [found] = [m for m in smtp.to(address) if kind_subject in m.message["Subject"]]
    return found


def _day_ahead(days=30):
    return (datetime.now(CHICAGO) + timedelta(days=days)).date()


# --- the rule --------------------------------------------------------------------------------------------------

def test_a_reader_gets_their_language_or_the_other_one_said_so():
    assert bilingual.pick("Hello", "Hola", "es") == bilingual.Picked("Hola", "es", None)
    assert bilingual.pick("Hello", "Hola", "en") == bilingual.Picked("Hello", "en", None)
    assert bilingual.pick("Hello", "", "es") == bilingual.Picked("Hello", "en", "en")
    assert bilingual.pick("", "Hola", "en") == bilingual.Picked("Hola", "es", "es")
    assert bilingual.pick("  ", "", "en") == bilingual.Picked("", None, None)


# --- announcements ---------------------------------------------------------------------------------------------

def _announce(client, community_id: int, **texts):
    page = f"/communities/{community_id}/announcements/new"
    return post_form(client, page, {"subject": "", "body": "", "subject_es": "", "body_es": "", **texts,
                                    "nonce": texts.get("nonce", "n-" + "-".join(sorted(texts)))})


def test_an_announcement_reaches_each_member_in_their_language(app, personas, readers, alice_client, smtp):
    response = _announce(alice_client, personas["riverside"], subject="Picnic on Saturday",
                         body="Bring a dish to share.", subject_es="Picnic el sábado",
                         body_es="Traigan un plato para compartir.")
    assert response.status_code == 302
    run_worker(app)
    ana, sam = _only(smtp, "ana@example.org", "Picnic"), _only(smtp, "sam@example.org", "Picnic")
    assert ana.message["Subject"] == "Picnic el sábado"
    assert "Traigan un plato para compartir." in _plain(ana) and "Bring a dish" not in _plain(ana)
    assert sam.message["Subject"] == "Picnic on Saturday"
    assert "Bring a dish to share." in _plain(sam) and "Traigan" not in _plain(sam)
    for received in (ana, sam):  # both written: no note
        assert "only" not in _plain(received) and "solo en" not in _plain(received)


def test_an_announcement_written_in_one_language_reaches_the_others_with_a_note(app, personas, readers,
                                                                                alice_client, smtp):
    _announce(alice_client, personas["riverside"], subject="Survey results", body="Thank you all.")
    _announce(alice_client, personas["riverside"], subject_es="Reunión de vecinos", body_es="Nos vemos pronto.")
    run_worker(app)
    ana = _only(smtp, "ana@example.org", "Survey results")
    assert ENGLISH_ONLY_ES in _plain(ana) and "Thank you all." in _plain(ana)
    assert ENGLISH_ONLY_ES in _html(ana)
    assert "written in" not in _plain(_only(smtp, "sam@example.org", "Survey results"))
    sam = _only(smtp, "sam@example.org", "Reunión de vecinos")
    assert SPANISH_ONLY_EN in _plain(sam) and "Nos vemos pronto." in _plain(sam)
    assert "solo en" not in _plain(_only(smtp, "elena@example.org", "Reunión de vecinos"))


def test_an_announcement_with_a_spanish_subject_and_no_spanish_message_is_refused(app, personas, readers,
                                                                                   alice_client):
    response = _announce(alice_client, personas["riverside"], subject="Picnic", body="Bring a dish.",
                         subject_es="Picnic")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Write the message in this language too, or leave its subject empty." in page
    assert 'value="Picnic"' in page and "Bring a dish." in page  # what was typed is still there
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


def test_an_announcement_in_neither_language_is_refused(app, personas, readers, alice_client):
    response = _announce(alice_client, personas["riverside"])
    assert response.status_code == 400
    assert "Write a subject." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


# --- meetings --------------------------------------------------------------------------------------------------

def _schedule(client, community_id: int, **texts):
    page = f"/communities/{community_id}/meetings/new"
    return post_form(client, page, {"title": "", "agenda": "", "title_es": "", "agenda_es": "", **texts,
                                    "start_date": _day_ahead().isoformat(), "start_time": "18:00",
                                    "duration_minutes": "60", "invite_all": "y"})


def test_a_spanish_member_gets_the_spanish_agenda_and_an_english_member_the_english_one(app, personas, readers,
                                                                                         alice_client, smtp):
    response = _schedule(alice_client, personas["riverside"], title="Monthly call", agenda="- Budget review",
                         title_es="Llamada mensual", agenda_es="- Revisión del presupuesto")
    assert response.status_code == 302
    run_worker(app)
    ana = _only(smtp, "ana@example.org", "Llamada mensual")
    assert ana.message["Subject"] == "Invitación: Llamada mensual"
    assert "Revisión del presupuesto" in _plain(ana) and "Budget review" not in _plain(ana)
    assert "Revisión del presupuesto" in _html(ana) and "solo en inglés" not in _plain(ana)
    sam = _only(smtp, "sam@example.org", "Monthly call")
    assert sam.message["Subject"] == "Invitation: Monthly call"
    assert "Budget review" in _plain(sam) and "presupuesto" not in _plain(sam)
    # The calendar entry's title and description are the member's language too.
    calendar = [part for part in ana.message.walk() if part.get_content_type() == "text/calendar"][0]
    assert "Llamada mensual" in calendar.get_content() and "presupuesto" in calendar.get_content()


def test_a_meeting_agenda_in_english_only_reaches_spanish_members_with_a_note(app, personas, readers,
                                                                              alice_client, smtp):
    _schedule(alice_client, personas["riverside"], title="Monthly call", title_es="Llamada mensual",
              agenda="- Budget review")
    run_worker(app)
    ana = _only(smtp, "ana@example.org", "Llamada mensual")
    assert "Budget review" in _plain(ana) and ENGLISH_ONLY_ES in _plain(ana)
    assert "written in" not in _plain(_only(smtp, "sam@example.org", "Monthly call"))


def test_a_meeting_written_only_in_spanish_reaches_english_members_in_spanish_with_a_note(app, personas, readers,
                                                                                           alice_client, smtp):
    _schedule(alice_client, personas["riverside"], title_es="Taller de huertos", agenda_es="Traer semillas")
    run_worker(app)
    sam = _only(smtp, "sam@example.org", "Taller de huertos")
    assert sam.message["Subject"] == "Invitation: Taller de huertos"
    assert "Traer semillas" in _plain(sam) and SPANISH_ONLY_EN in _plain(sam)
    with app.app_context():  # the dashboard shows the title that was written
        assert db.session.scalar(select(Meeting.title)) == "Taller de huertos"


def test_the_rsvp_page_shows_the_meeting_in_the_members_language(app, personas, readers, alice_client):
    _schedule(alice_client, personas["riverside"], title="Monthly call", title_es="Llamada mensual",
              agenda="Budget review")
    with app.app_context():
        meeting = db.session.scalar(select(Meeting))
        ana, sam = db.session.get(Member, readers["ana"]), db.session.get(Member, readers["sam"])
        ana_page, sam_page = (meeting_emails.rsvp_links(meeting, reader)["page"] for reader in (ana, sam))
    client = app.test_client()
    ana_html = client.get(ana_page.replace(app.config["PUBLIC_BASE_URL"], "")).get_data(as_text=True)
    assert "<h1>Llamada mensual</h1>" in ana_html and "Budget review" in ana_html
    assert "Esto se escribió solo en inglés." in ana_html
    sam_html = client.get(sam_page.replace(app.config["PUBLIC_BASE_URL"], "")).get_data(as_text=True)
    assert "<h1>Monthly call</h1>" in sam_html and "written in" not in sam_html


def test_a_meeting_without_a_title_in_either_language_is_refused(app, personas, readers, alice_client):
    response = _schedule(alice_client, personas["riverside"], agenda="Budget", agenda_es="Presupuesto")
    assert response.status_code == 400
    assert "A meeting needs a title." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0


def test_the_outbox_finds_a_meeting_by_its_spanish_title(app, personas, readers, alice_client):
    _schedule(alice_client, personas["riverside"], title="Monthly call", title_es="Llamada mensual")
    page = alice_client.get("/outbox/?q=llamada").get_data(as_text=True)
    assert "ana@example.org" in page and "sam@example.org" in page


# --- forms -----------------------------------------------------------------------------------------------------

def _send_form(app, personas, **texts) -> int:
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        ids = list(db.session.scalars(select(Member.id)))
        deadline = datetime.now(UTC) + timedelta(days=10)
        request = form_requests.send_request(None, riverside, "charter", texts.pop("title", ""), ids, deadline,
                                             **texts)
        db.session.commit()
        return request.id


def test_a_form_reaches_each_member_with_its_title_and_introduction_in_their_language(app, personas, readers,
                                                                                       smtp):
    _send_form(app, personas, title="Our charter", title_es="Nuestro estatuto",
               intro="Ten minutes, please.", intro_es="Diez minutos, por favor.")
    run_worker(app)
    ana = _only(smtp, "ana@example.org", "Nuestro estatuto")
    assert "Diez minutos, por favor." in _plain(ana) and "Ten minutes" not in _plain(ana)
    sam = _only(smtp, "sam@example.org", "Our charter")
    assert "Ten minutes, please." in _plain(sam) and "Diez" not in _plain(sam)


def test_a_form_introduction_in_english_only_reaches_spanish_members_with_a_note(app, personas, readers, smtp):
    _send_form(app, personas, title="Our charter", title_es="Nuestro estatuto", intro="Ten minutes, please.")
    run_worker(app)
    ana = _only(smtp, "ana@example.org", "Nuestro estatuto")
    assert "Ten minutes, please." in _plain(ana) and ENGLISH_ONLY_ES in _plain(ana)


def test_the_form_page_speaks_the_members_language(app, personas, readers, smtp):
    request_id = _send_form(app, personas, title="Our charter", title_es="Nuestro estatuto",
                            intro="Ten minutes, please.")
    with app.app_context():
        request = db.session.get(FormRequest, request_id)
        by_member = {r.member_id: form_requests.form_url(r) for r in form_requests.responses(request)}
    client = app.test_client()
    base = app.config["PUBLIC_BASE_URL"]
    ana_html = client.get(by_member[readers["ana"]].replace(base, "")).get_data(as_text=True)
    assert "<h1>Nuestro estatuto</h1>" in ana_html and "Ten minutes, please." in ana_html
    assert "Esto se escribió solo en inglés." in ana_html
    sam_html = client.get(by_member[readers["sam"]].replace(base, "")).get_data(as_text=True)
    assert "<h1>Our charter</h1>" in sam_html and "written in" not in sam_html


# --- the charter -----------------------------------------------------------------------------------------------

def _propose(app, personas, body: str, body_es: str) -> int:
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        draft = charters.current_draft(riverside)
        charters.save_draft(None, draft, body, body_es)
        charters.propose(None, draft)
        db.session.commit()
        return draft.id


def test_the_proposed_charter_reaches_each_member_in_their_language(app, personas, readers, smtp):
    _propose(app, personas, "## Purpose\n\nWe share what works.", "## Propósito\n\nCompartimos lo que funciona.")
    run_worker(app)
    ana, sam = smtp.to("ana@example.org")[0], smtp.to("sam@example.org")[0]
    assert "Compartimos lo que funciona." in _plain(ana) and "We share" not in _plain(ana)
    assert "We share what works." in _plain(sam) and "Compartimos" not in _plain(sam)


def test_a_charter_written_only_in_english_reaches_spanish_members_with_a_note(app, personas, readers, smtp):
    charter_id = _propose(app, personas, "## Purpose\n\nWe share what works.", "")
    run_worker(app)
    ana = smtp.to("ana@example.org")[0]
    assert "We share what works." in _plain(ana) and ENGLISH_ONLY_ES in _plain(ana)
    with app.app_context():  # and the charter's page, from the member's link
        ana_member = db.session.get(Member, readers["ana"])
        url = charters.member_url(db.session.get(charters.Charter, charter_id), ana_member)
    page = app.test_client().get(url.replace(app.config["PUBLIC_BASE_URL"], "")).get_data(as_text=True)
    assert "We share what works." in page and "Esto se escribió solo en inglés." in page


def test_the_charter_page_for_a_spanish_member_shows_the_spanish_text(app, personas, readers):
    charter_id = _propose(app, personas, "We share what works.", "Compartimos lo que funciona.")
    with app.app_context():
        charter = db.session.get(charters.Charter, charter_id)
        urls = {name: charters.member_url(charter, db.session.get(Member, readers[name])) for name in ("ana", "sam")}
    client = app.test_client()
    base = app.config["PUBLIC_BASE_URL"]
    ana_page = client.get(urls["ana"].replace(base, "")).get_data(as_text=True)
    sam_page = client.get(urls["sam"].replace(base, "")).get_data(as_text=True)
    assert "Compartimos lo que funciona." in ana_page and "We share" not in ana_page
    assert "We share what works." in sam_page and "Compartimos" not in sam_page


def test_a_charter_in_neither_language_cannot_be_proposed(app, personas, readers, alice_client):
    page = f"/communities/{personas['riverside']}/charter"
    response = post_form(alice_client, page, {"body": "", "body_es": "", "action": "propose",
                                              "deadline": _day_ahead(14).isoformat()})
    assert response.status_code == 400
    assert "Write the charter before proposing it." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


# --- lessons ---------------------------------------------------------------------------------------------------

def _digest_lesson(app, personas, body_es: str):
    with app.app_context():
        lesson = Lesson(slug="bilingual-test", title_en="Test lesson", title_es="Lección de prueba")
        module = lessons.draft_module(title_en="Finding leaders", title_es="Encontrar líderes",
                                      goal_en="Name two leaders", goal_es="Nombrar dos líderes",
                                      body_en="Ask who already leads.", body_es=body_es)
        module.position = 0
        lesson.modules.append(module)
        db.session.add(lesson)
        community = db.session.get(Community, personas["riverside"])
        community.lesson_id, community.digest_enabled = lesson.id, True
        community.digest_enabled_at = datetime(2026, 1, 1, tzinfo=UTC)
        db.session.commit()
        slot = digest_schedule.next_slot(community, datetime.now(UTC) - timedelta(days=8))
        digests.tick(slot + timedelta(minutes=1))
    run_worker(app)


def test_a_lesson_module_reaches_each_member_in_their_language(app, personas, readers, smtp):
    _digest_lesson(app, personas, body_es="Pregunte quién ya dirige.")
    ana, sam = _plain(smtp.to("ana@example.org")[0]), _plain(smtp.to("sam@example.org")[0])
    assert "Pregunte quién ya dirige." in ana and "Ask who" not in ana and "solo en inglés" not in ana
    assert "Ask who already leads." in sam and "Pregunte" not in sam


def test_a_lesson_module_without_spanish_reaches_spanish_members_in_english_with_a_note(app, personas, readers,
                                                                                       smtp):
    _digest_lesson(app, personas, body_es="")
    ana = smtp.to("ana@example.org")[0]
    assert "Ask who already leads." in _plain(ana)
    assert "(Esta lección se escribió solo en inglés.)" in _plain(ana)
    assert "(Esta lección se escribió solo en inglés.)" in _html(ana)
    assert "written in" not in _plain(smtp.to("sam@example.org")[0])


# --- the compose pages -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["announcements/new", "meetings/new", "forms/new", "charter"])
def test_each_compose_page_shows_both_languages_and_how_many_read_each(app, personas, readers, alice_client,
                                                                       path):
    html = alice_client.get(f"/communities/{personas['riverside']}/{path}").get_data(as_text=True)
    assert "2 members read English, 2 Spanish." in html
    assert '<legend lang="en">English</legend>' in html and '<legend lang="es">Español</legend>' in html


def test_the_counts_follow_each_membership_and_leave_out_inactive_members(app, personas, readers):
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        assert bilingual.readers(riverside) == {"en": 2, "es": 2}
        membership = db.session.scalar(select(Membership).where(Membership.member_id == readers["elena"]))
        membership.status = "inactive"
        db.session.commit()
        assert bilingual.readers(riverside) == {"en": 2, "es": 1}
        assert bilingual.readers_sentence({"en": 1, "es": 0}) == "1 member reads English, 0 Spanish."


def test_the_lesson_module_page_counts_readers_of_the_communities_using_it(app, personas, readers, client):
    with app.app_context():
        lesson = Lesson(slug="counted", title_en="Counted lesson", title_es="")
        db.session.add(lesson)
        db.session.flush()
        db.session.get(Community, personas["riverside"]).lesson_id = lesson.id
        db.session.commit()
        lesson_id = lesson.id
    login(client, "carol@example.org", PASSWORD)
    html = client.get(f"/lessons/{lesson_id}/modules/new").get_data(as_text=True)
    assert "2 members read English, 2 Spanish." in html


def test_the_meeting_and_form_pages_show_what_was_written_in_each_language(app, personas, readers, alice_client):
    _schedule(alice_client, personas["riverside"], title="Monthly call", title_es="Llamada mensual",
              agenda="Budget review")
    request_id = _send_form(app, personas, title="Our charter", title_es="Nuestro estatuto",
                            intro_es="Diez minutos, por favor.")
    with app.app_context():
        meeting_id = db.session.scalar(select(Meeting.id))
    base = f"/communities/{personas['riverside']}"
    meeting_page = alice_client.get(f"{base}/meetings/{meeting_id}").get_data(as_text=True)
    assert "Budget review" in meeting_page and "Llamada mensual" in meeting_page
    assert "Not written: these readers get the other language, with a note." in meeting_page  # no Spanish agenda
    form_page = alice_client.get(f"{base}/forms/{request_id}").get_data(as_text=True)
    assert "Nuestro estatuto" in form_page and "Diez minutos, por favor." in form_page
