"""Input that would fail later fails at the door: control characters in any form, addresses SMTP cannot
carry, links that break an invitation, ids beyond the database's integers and dates far in the future."""
import io
from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, String, Text, func, select
from werkzeug.exceptions import NotFound

from service import charters, communities, form_requests, intake, lessons, meetings, normalize, practices
from service.errors import DomainError
from service.extensions import db
from service.models import (Community, Conversation, Coordinator, FormResponse, InboundMessage, Meeting, Member,
                            Membership, Post)
from service.tokens import make_token
from tests.conftest import PASSWORD, csrf_from, login, run_worker

CHICAGO = ZoneInfo("America/Chicago")
# NUL, SOH, BS, ESC, DEL and a C1 control: PostgreSQL refuses the first, emails and CSV files break on the rest.
DIRT = "\x00\x01\x08\x1b\x7f\x9f"


def dirty(value: str) -> str:
    """The value with control characters inside it, and Windows line breaks."""
    return value[:2] + DIRT + value[2:].replace("\n", "\r\n")


# --- a browser's view of a form --------------------------------------------------------------------

class _Forms(HTMLParser):
    """Each <form> of a page: its action and the values a browser would send without any typing."""

    def __init__(self):
        super().__init__()
        self.forms, self._form, self._textarea, self._select = [], None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"action": attrs.get("action"), "fields": {}}
            self.forms.append(self._form)
        elif self._form is None or not attrs.get("name"):
            return
        elif tag == "input" and attrs.get("type") not in ("submit", "button", "checkbox", "radio", "file"):
            self._form["fields"][attrs["name"]] = attrs.get("value") or ""
        elif tag == "input" and attrs.get("type") in ("checkbox", "radio") and "checked" in attrs:
            self._form["fields"].setdefault(attrs["name"], attrs.get("value", "y"))
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self._form["fields"][self._textarea] = ""
        elif tag == "select":
            self._select = attrs["name"]
        if tag == "option" and self._select and ("selected" in attrs or self._select not in self._form["fields"]):
            self._form["fields"][self._select] = attrs.get("value", "")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        if self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._form = None


def fill_in(client, page_url: str, values: dict, extra: dict | None = None):
    """Open the page, fill in `values` on the form that has those fields, post it as a browser would."""
    page = client.get(page_url)
    assert page.status_code == 200, page_url
    parser = _Forms()
    parser.feed(page.get_data(as_text=True))
    [form] = [f for f in parser.forms if set(values) <= set(f["fields"])]
    return client.post(form["action"] or page_url, data={**form["fields"], **values, **(extra or {})})


def _texts(value):
    """Every string in a stored value, inside JSON lists and objects too."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def stored_texts() -> list[tuple[str, str, str]]:
    """(table, column, text) of every text stored in a text or JSON column."""
    found = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
        for row in db.session.execute(select(*columns)) if columns else ():
            found += [(table.name, column.name, text) for column, value in zip(columns, row) for text in _texts(value)]
    return found


def stored_anywhere(value: str) -> bool:
    return any(text == value for _table, _column, text in stored_texts())


def control_characters_stored() -> list:
    """Every stored text with a control character other than tab and newline."""
    return [found for found in stored_texts() if normalize.text(found[2], multiline=True) != found[2].strip()]


# --- a community with something behind every form ---------------------------------------------------

@pytest.fixture
def world(app, personas, monkeypatch):
    """Riverside with a meeting Ana is invited to, a pending practice of hers, a lesson with a module,
    a proposed charter, a charter form sent to her, a reply of hers nobody understood and a post of hers waiting
    for a moderator; the ids and member links the forms need."""
    monkeypatch.setitem(app.config, "INTAKE_MIN_FILL_SECONDS", 0)
    with app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        riverside = db.session.get(Community, personas["riverside"])
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        day = (datetime.now(CHICAGO) + timedelta(days=30)).date()
        meeting = meetings.create_meeting(alice, riverside, starts_at=meetings.to_utc(riverside, day, time(18)),
                                          title="Monthly call")
        practice = practices.submit_practice(riverside, ana, "Peer visits", "We visited each other.")
        lesson = lessons.create_lesson(alice, title_en="Sustaining a COP")
        module = lessons.add_module(alice, lesson, title_en="Leaders", goal_en="Find leaders", body_en="Body")
        charter = charters.new_version(alice, riverside)
        charters.save_draft(alice, charter, "# Purpose\n\nLearn together.")
        charters.propose(alice, charter)
        harbor = communities.create_community(alice, name="Harbor COP", time_zone="America/Chicago")
        charters.new_version(alice, harbor)
        request = form_requests.send_request(alice, riverside, "charter", "Our charter", [ana.id],
                                             meetings.to_utc(riverside, day, time(12)))
        response = db.session.scalar(select(FormResponse).where(FormResponse.request_id == request.id))
        reply = InboundMessage(via="test", message_id="<world-reply@mail.example.net>", purpose="reply",
                               raw=b"From: ana@example.org\r\nSubject: Re: Monthly call\r\n\r\nMaybe?\r\n",
                               from_address=ana.email, subject="Re: Monthly call", community_id=riverside.id,
                               member_id=ana.id, status="unclear", text="Maybe?", object_kind="meeting",
                               object_id=meeting.id, detail={})
        db.session.add(reply)
        conversation = Conversation(community_id=riverside.id, subject="Evening hours", started_by_id=ana.id)
        db.session.add(conversation)
        db.session.flush()
        post = Post(conversation_id=conversation.id, community_id=riverside.id, member_id=ana.id,
                    message_id="<world-post@cop.localhost>", subject="Evening hours",
                    text="Who has tried evening hours?", status="waiting")
        db.session.add(post)
        db.session.commit()
        ids = {"r": riverside.id, "inbound": reply.id, "post": post.id, "harbor": harbor.id, "meeting": meeting.id, "practice": practice.id,
               "lesson": lesson.id, "module": module.id, "charter": charter.id, "response": response.id,
               "membership": db.session.scalar(select(Membership.id).where(Membership.member_id == ana.id)),
               "rsvp": make_token("rsvp", ana.id, meeting.id), "share": make_token("practice", ana.id, riverside.id),
               "vote": make_token("charter", ana.id, charter.id),
               "form": make_token(form_requests.TOKEN_PURPOSE, ana.id, response.id),
               "join": intake.link_token(riverside)}
        db.session.remove()
    return ids


ONE_LINE, LINES = "Lucía Méndez", "First line\nSecond\tline"
FUTURE_DAY = (datetime.now(CHICAGO) + timedelta(days=40)).date().isoformat()

# (form, page, {field: clean value}, extra fields a button or a choice adds, whether coordinator alice is logged in)
FORMS = [
    ("community new", "/communities/new", {"name": ONE_LINE, "description": LINES}, {}, True),
    ("community edit", "/communities/{r}/edit", {"name": ONE_LINE, "description": LINES}, {}, True),
    ("member new", "/communities/{r}/members/new",
     {"name": ONE_LINE, "email": "lucia@example.org", "organization": "Casa Azul"}, {}, True),
    ("member edit", "/communities/{r}/members/{membership}/edit", {"name": ONE_LINE, "organization": "Casa Azul"},
     {}, True),
    ("announcement", "/communities/{r}/announcements/new", {"subject": ONE_LINE, "body": LINES}, {}, True),
    ("meeting new", "/communities/{r}/meetings/new",
     {"title": ONE_LINE, "agenda": LINES, "location": "Room 4", "video_url": "https://meet.example/abc"},
     {"start_date": FUTURE_DAY, "start_time": "18:00"}, True),
    ("meeting edit", "/communities/{r}/meetings/{meeting}/edit",
     {"title": ONE_LINE, "agenda": LINES, "location": "Room 4", "video_url": "https://meet.example/abc"}, {}, True),
    ("practice edit", "/communities/{r}/practices/{practice}/edit",
     {"title": ONE_LINE, "what_we_did": LINES, "what_happened": "It helped"}, {"save": "Save changes"}, True),
    ("practice decline", "/communities/{r}/practices/", {"reason": ONE_LINE}, {}, True),
    ("lesson new", "/lessons/new", {"title_en": ONE_LINE, "summary_en": LINES}, {}, True),
    ("lesson edit", "/lessons/{lesson}/edit", {"title_en": ONE_LINE, "summary_en": LINES}, {}, True),
    ("module new", "/lessons/{lesson}/modules/new", {"title_en": ONE_LINE, "goal_en": LINES, "body_en": "Body"},
     {"save": "Save"}, True),
    ("module edit", "/lessons/{lesson}/modules/{module}/edit",
     {"title_en": ONE_LINE, "goal_en": LINES, "body_en": "Body"}, {"save": "Save"}, True),
    ("charter draft", "/communities/{harbor}/charter", {"body": LINES}, {"action": "save"}, True),
    ("form request", "/communities/{r}/forms/new",
     {"title": ONE_LINE}, {"kind": "charter", "deadline_date": FUTURE_DAY, "deadline_time": "12:00"}, True),
    ("rsvp", "/m/meetings/{meeting}/rsvp/{rsvp}", {"note": ONE_LINE}, {"answer": "yes"}, False),
    ("practice share", "/m/communities/{r}/practices/share/{share}",
     {"title": ONE_LINE, "what_we_did": LINES, "what_happened": "It helped"}, {}, False),
    ("charter vote", "/m/charters/{charter}/{vote}", {"comment": LINES}, {"decision": "change"}, False),
    ("form answers", "/m/forms/{response}/{form}", {"purpose": LINES}, {"save_draft": "Save draft"}, False),
    ("interest form", "/join/{join}",
     {"name": ONE_LINE, "email": "lucia@example.org", "organization": "Casa Azul", "role": "Director",
      "hopes": LINES, "topics": "Funding", "availability": "Evenings"}, {}, False),
]


@pytest.mark.parametrize("page, values, extra, coordinator", [case[1:] for case in FORMS],
                         ids=[case[0] for case in FORMS])
def test_control_characters_in_every_form_are_cleaned_not_a_500(app, client, world, page, values, extra,
                                                                 coordinator):
    if coordinator:
        login(client, "alice@example.org", PASSWORD)
    response = fill_in(client, page.format(**world), {name: dirty(value) for name, value in values.items()}, extra)

    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)[:2000]
    assert 'class="field-error"' not in response.get_data(as_text=True)
    with app.app_context():
        assert control_characters_stored() == []
        for name, value in values.items():
            assert stored_anywhere(value), f"{name}: {value!r} is not stored as typed without the control characters"


def test_control_characters_in_the_outbox_filter_are_cleaned_not_a_500(alice_client, world):
    assert alice_client.get("/outbox/?kind=%00welcome").status_code == 200
    page = alice_client.get("/outbox/")
    response = alice_client.post("/outbox/retry", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                        "kind": "\x00welcome"})
    assert response.status_code == 302


def test_a_tampered_hidden_field_is_cleaned_too(app, alice_client, world):
    response = fill_in(alice_client, "/communities/{r}/announcements/new".format(**world),
                       {"subject": "Hello", "body": "Hi all", "nonce": dirty("0123456789abcdef")})
    assert response.status_code == 302
    with app.app_context():
        assert control_characters_stored() == []


def test_the_login_form_ignores_control_characters_in_the_address(client, personas):
    response = fill_in(client, "/login", {"email": dirty("alice@example.org"), "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_the_text_normaliser():
    assert normalize.text(" Ana\x00\x1b  Torres\r\n\t") == "Ana Torres"
    assert normalize.text("  a\r\nb\rc\td\x00\x7f\u0085 \n", multiline=True) == "a\nb\nc\td"
    assert normalize.text("Jose\u0301") == "José"  # NFC: the accent typed as a combining mark
    assert normalize.text("a\ud800b") == "ab"  # a lone surrogate, which UTF-8 cannot encode
    assert normalize.text(None) == ""


# --- email addresses ----------------------------------------------------------------------------------

def test_an_internationalised_domain_is_stored_and_sent_as_idna(app, alice_client, personas, smtp):
    response = fill_in(alice_client, f"/communities/{personas['riverside']}/members/new",
                       {"name": "Rosa Müller", "email": "Rosa@Bücher.example"}, {"send_welcome": "y"})
    assert response.status_code == 302
    run_worker(app)

    [received] = smtp.to("rosa@xn--bcher-kva.example")
    assert received.message["To"].endswith("<rosa@xn--bcher-kva.example>")
    with app.app_context():
        assert db.session.scalar(select(Member.email).where(Member.name == "Rosa Müller")) == \
            "rosa@xn--bcher-kva.example"


@pytest.mark.parametrize("page, values", [
    ("/communities/{r}/members/new", {"name": "Rósa Díaz"}),
    ("/communities/{r}/members/{membership}/edit", {"name": "Rósa Díaz"}),
    ("/join/{join}", {"name": "Rósa Díaz", "organization": "Casa Azul"}),
], ids=["member new", "member edit", "interest form"])
def test_a_non_ascii_local_part_is_refused_with_a_clear_message(app, client, world, page, values):
    if "/join/" not in page:
        login(client, "alice@example.org", PASSWORD)
    response = fill_in(client, page.format(**world), {**values, "email": "rósa@example.org"})

    assert response.status_code == 400
    assert "rósa@example.org has accents or other non-English letters before the @" in \
        response.get_data(as_text=True)
    with app.app_context():
        assert not stored_anywhere("Rósa Díaz") and not stored_anywhere("rósa@example.org")


def test_the_csv_import_cleans_control_characters_refuses_a_non_ascii_local_part_and_takes_an_idna_domain(
        app, alice_client, personas):
    controls = DIRT.replace("\x00", "")  # a NUL makes the whole file refused as not being CSV text
    content = ("name,email,organization\nRósa Díaz,rósa@example.org,\nRosa Müller,rosa@bücher.example,\n"
               f"Lu{controls}cía Méndez,lucia@example.org,Casa{controls} Azul\n").encode()
    upload = f"/communities/{personas['riverside']}/imports/new"
    token = csrf_from(alice_client.get(upload).get_data(as_text=True))
    page = alice_client.post(upload, data={"csrf_token": token, "file": (io.BytesIO(content), "members.csv")},
                             follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "3 rows read: 2 ready to import, 1 with problems." in html
    assert "rósa@example.org has accents or other non-English letters before the @" in html

    confirmed = alice_client.post(page.request.path + "/confirm", data={"csrf_token": csrf_from(html)})
    assert confirmed.status_code == 302
    with app.app_context():
        emails = set(db.session.scalars(select(Member.email).join(Membership)
                                        .where(Membership.community_id == personas["riverside"])))
        assert emails == {"ana@example.org", "rosa@xn--bcher-kva.example", "lucia@example.org"}
        assert stored_anywhere(ONE_LINE) and stored_anywhere("Casa Azul") and not stored_anywhere("Rósa Díaz")
        assert control_characters_stored() == []


def test_the_address_normaliser():
    assert normalize.email_address(" Rosa@Bücher.Example ") == "rosa@xn--bcher-kva.example"
    assert normalize.email_address("rosa@xn--bcher-kva.example") == "rosa@xn--bcher-kva.example"
    for wrong in ("rósa@example.org", "rosa@example.org\r\nBcc: x@example.org", "rosa", ""):
        with pytest.raises(DomainError):
            normalize.email_address(wrong)


def test_users_create_refuses_a_non_ascii_local_part(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "rósa@example.org", "--name", "Rósa"],
                                          input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code != 0
    assert "non-English letters before the @" in result.output
    with app.app_context():
        assert not stored_anywhere("rósa@example.org")


# --- links --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("link", ["https://meet.example/abc\r\nBcc: x@example.org", "javascript:alert(1)",
                                  "https://", "ftp://files.example/x", "https://meet.example/a b",
                                  "https://meet.example:99999/"])
def test_a_video_link_that_would_break_an_invitation_is_refused(app, alice_client, world, link):
    response = fill_in(alice_client, "/communities/{r}/meetings/{meeting}/edit".format(**world), {"video_url": link})

    assert response.status_code == 400
    assert "The link must start with https:// and contain no spaces or line breaks." in \
        response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Meeting, world["meeting"]).video_url in (None, "")


def test_a_good_video_link_reaches_the_invitation(app, alice_client, world, smtp):
    response = fill_in(alice_client, "/communities/{r}/meetings/{meeting}/edit".format(**world),
                       {"video_url": " https://meet.example/abc?pwd=1 "})
    assert response.status_code == 302
    run_worker(app)
    assert any("https://meet.example/abc?pwd=1" in received.message.get_body(("plain",)).get_content()
               for received in smtp.to("ana@example.org"))


# --- ids and dates ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/communities/{big}", "/communities/{big}/edit", "/communities/{r}/members/{big}/edit",
    "/communities/{r}/meetings/{big}", "/communities/{r}/imports/{big}", "/outbox/{big}", "/lessons/{big}",
    "/lessons/{lesson}/modules/{big}", "/communities/{r}/forms/{big}", "/communities/{r}/charter/versions/{big}",
    "/communities/{r}/forms/{big}/review/", "/communities/{r}/practices/{big}/edit",
    "/m/meetings/{big}/rsvp/{rsvp}", "/m/forms/{big}/{form}", "/m/charters/{big}/{vote}",
])
@pytest.mark.parametrize("big", [str(2**31), "99999999999999999999"])
def test_an_id_beyond_the_integer_range_is_not_found(app, alice_client, world, path, big):
    assert alice_client.get(path.format(big=big, **world)).status_code == 404
    assert alice_client.post(path.format(big=big, **world)).status_code in (404, 405)


def test_the_largest_id_still_reaches_its_view(app):
    urls = app.url_map.bind("localhost")
    assert urls.match(f"/outbox/{normalize.MAX_ID}") == ("outbox.show", {"email_id": normalize.MAX_ID})
    with pytest.raises(NotFound):
        urls.match(f"/outbox/{normalize.MAX_ID + 1}")


def test_a_page_number_or_filter_beyond_the_integer_range_is_ignored(alice_client, world):
    assert alice_client.get("/outbox/?page=99999999999999999999&community=99999999999999999999").status_code == 200
    assert alice_client.get(f"/communities/{world['r']}/digest/preview?membership_id=99999999999999999999") \
        .status_code == 200


@pytest.mark.parametrize("day", ["9999-12-31", (datetime.now(CHICAGO) + timedelta(days=6 * 366)).date().isoformat()])
def test_a_meeting_years_away_is_refused_with_a_form_error(app, alice_client, world, day):
    response = fill_in(alice_client, "/communities/{r}/meetings/new".format(**world),
                       {"title": "Far away", "start_date": day, "start_time": "23:30"})

    assert response.status_code == 400
    assert "Choose a date within the next 5 years." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.title == "Far away")) == 0


def test_a_date_in_year_one_is_refused_with_a_form_error_east_of_greenwich(app, alice_client, world):
    with app.app_context():
        db.session.get(Community, world["r"]).time_zone = "Asia/Tokyo"
        db.session.commit()
    response = fill_in(alice_client, "/communities/{r}/meetings/new".format(**world),
                       {"title": "Long ago", "start_date": "0001-01-01", "start_time": "00:30"})

    assert response.status_code == 400
    assert "Choose a date within the next 5 years." in response.get_data(as_text=True)


def test_moving_a_meeting_years_away_is_refused(app, alice_client, world):
    response = fill_in(alice_client, "/communities/{r}/meetings/{meeting}/edit".format(**world),
                       {"start_date": "9999-12-31", "start_time": "23:30"})
    assert response.status_code == 400
    assert "Choose a date within the next 5 years." in response.get_data(as_text=True)


@pytest.mark.parametrize("page, values", [
    ("/communities/{r}/forms/new", {"title": "Far", "deadline_date": "9999-12-31", "deadline_time": "23:30"}),
    ("/communities/{r}/forms/{request}", {"deadline_date": "9999-12-31", "deadline_time": "23:30"}),
], ids=["new form", "moved deadline"])
def test_a_deadline_years_away_is_refused_with_a_form_error(app, alice_client, world, page, values):
    with app.app_context():
        world["request"] = db.session.get(FormResponse, world["response"]).request_id
    response = fill_in(alice_client, page.format(**world), values, {"kind": "charter"})

    assert response.status_code == 400
    assert "Choose a date within the next 5 years." in response.get_data(as_text=True)


def test_the_domain_refuses_a_meeting_years_away(app, world, personas):
    with app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        riverside = db.session.get(Community, personas["riverside"])
        with pytest.raises(DomainError, match="within the next 5 years"):
            meetings.create_meeting(alice, riverside, title="Far", starts_at=meetings.now() + timedelta(days=6 * 366))
