"""The CSV import offers each new member the welcome email, as adding one by hand does; nobody already in the
community gets it again."""
import io
import re

from sqlalchemy import func, select

from service import members
from service.extensions import db
from service.models import Community, Member, OutboundEmail
from tests.conftest import post_form, run_worker

HEADER = "name,email,organization,language,role\n"
# Ana is already in Riverside (a problem row); Ben is Lakeside's, new here; Una unsubscribed from everything.
FILE = (HEADER + "Ana Torres,ana@example.org,Casa Verde,es,\n"
        "Nia Park,nia@example.org,Casa Verde,en,\n"
        "Omar Diaz,omar@example.org,,es,\n"
        "Ben Lake,ben@example.org,Lake Org,en,\n"
        "Una Gone,una@example.org,,en,\n").encode()


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _preview(client, community_id: int, content: bytes) -> tuple[int, str]:
    url = f"/communities/{community_id}/imports/new"
    response = post_form(client, url, {"file": (io.BytesIO(content), "members.csv")},
                         content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    import_id = int(re.search(r"/imports/(\d+)$", response.headers["Location"]).group(1))
    return import_id, client.get(response.headers["Location"]).get_data(as_text=True)


def _confirm(client, community_id: int, import_id: int, welcome: bool):
    page_url = f"/communities/{community_id}/imports/{import_id}"
    return post_form(client, page_url, {"send_welcome": "y"} if welcome else {}, post_url=page_url + "/confirm")


def _welcomes(app) -> dict[str, list[str]]:
    """Welcome rows in Riverside's outbox: recipient -> statuses."""
    with app.app_context():
        found = {}
        for recipient, status in db.session.execute(select(OutboundEmail.recipient, OutboundEmail.status).where(
                OutboundEmail.kind == "welcome", OutboundEmail.community_id == _riverside().id)):
            found.setdefault(recipient, []).append(status)
        return found


def _setup_people(app) -> None:
    """Una is known (unsubscribed); Sam joined Riverside by hand with a welcome."""
    with app.app_context():
        db.session.add(Member(email="una@example.org", name="Una Gone", status="unsubscribed"))
        members.add_member(None, _riverside(), name="Sam Lee", email="sam@example.org", welcome=True)
        db.session.commit()


def test_the_preview_offers_the_welcome_on_by_default_and_says_how_many_get_it(app, alice_client, personas):
    _setup_people(app)
    _import_id, page = _preview(alice_client, personas["riverside"], FILE)
    assert re.search(r'<input checked id="send_welcome" name="send_welcome" type="checkbox" value="y">', page)
    assert "Send each new member the welcome email" in page
    assert "3 new members will get it." in page
    assert "1 will not: they unsubscribed, bounce or paused all email." in page


def test_import_with_welcome_on_sends_one_welcome_per_new_member_and_none_to_existing(app, alice_client,
                                                                                      personas, smtp):
    _setup_people(app)
    riverside = personas["riverside"]
    import_id, _page = _preview(alice_client, riverside, FILE)
    assert _confirm(alice_client, riverside, import_id, welcome=True).status_code == 302
    assert _welcomes(app) == {"sam@example.org": ["pending"], "nia@example.org": ["pending"],
                              "omar@example.org": ["pending"], "ben@example.org": ["pending"],
                              "una@example.org": ["suppressed"]}
    smtp.messages.clear()
    run_worker(app)
    delivered = sorted(r for m in smtp.messages for r in m.rcpt_tos)
    assert delivered == ["ben@example.org", "nia@example.org", "omar@example.org", "sam@example.org"]
    assert smtp.to("omar@example.org")[0].message["Subject"] == "Bienvenida a Riverside COP"  # his language here
    assert smtp.to("ana@example.org") == []


def test_import_with_welcome_off_sends_none(app, alice_client, personas):
    _setup_people(app)
    riverside = personas["riverside"]
    before = _welcomes(app)
    import_id, _page = _preview(alice_client, riverside, FILE)
    _confirm(alice_client, riverside, import_id, welcome=False)
    assert _welcomes(app) == before == {"sam@example.org": ["pending"]}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)
                                 .where(Member.email.in_(["nia@example.org", "omar@example.org"]))) == 2


def test_someone_who_joined_between_preview_and_confirm_gets_no_second_welcome(app, alice_client, personas):
    riverside = personas["riverside"]
    import_id, _page = _preview(alice_client, riverside, HEADER.encode() + b"Nia Park,nia@example.org,,en,\n"
                                                                         b"Omar Diaz,omar@example.org,,es,\n")
    with app.app_context():
        members.add_member(None, _riverside(), name="Nia Park", email="nia@example.org")  # by hand, no welcome
        db.session.commit()
    _confirm(alice_client, riverside, import_id, welcome=True)
    assert _welcomes(app) == {"omar@example.org": ["pending"]}


def test_a_large_import_run_as_a_job_sends_the_welcomes_too(app, alice_client, personas, monkeypatch):
    riverside = personas["riverside"]
    monkeypatch.setitem(app.config, "IMPORT_INLINE_MAX_ROWS", 1)
    import_id, _page = _preview(alice_client, riverside, HEADER.encode() + b"Nia Park,nia@example.org,,en,\n"
                                                                         b"Omar Diaz,omar@example.org,,es,\n")
    _confirm(alice_client, riverside, import_id, welcome=True)
    assert _welcomes(app) == {}  # queued as a job: nothing yet
    run_worker(app)
    assert set(_welcomes(app)) == {"nia@example.org", "omar@example.org"}
    assert all(len(statuses) == 1 for statuses in _welcomes(app).values())
