"""The Outbox's counts by status (service/outbox_counts.py keeps each community's total per figures stamp): they are
the database's own counts at every look, after rows are added, delivered, failed or removed in plain SQL, for a
coordinator (their communities only) and for an admin (every email, those of no community too)."""
import re

from sqlalchemy import delete, insert, select, text, update

from service.clock import now
from service.extensions import db
from service.models import OutboundEmail
from service.models.outbox import OUTBOX_STATUSES
from tests.conftest import PASSWORD, login


def _shown(client) -> dict[str, int]:
    """The counts the Outbox shows (those above 0), looked at twice (the second look uses what was kept)."""
    first, second = (client.get("/outbox/").get_data(as_text=True) for _look in range(2))
    counts = re.search(r'<p class="counts">(.*?)</p>', second, re.S).group(1)
    assert counts == re.search(r'<p class="counts">(.*?)</p>', first, re.S).group(1)
    shown = re.findall(r'class="badge (\w+)">[^<]*: (\d+)</span>', counts)
    assert [status for status, _number in shown] == list(OUTBOX_STATUSES)
    return {status: int(number) for status, number in shown if number != "0"}


def _counted(app, communities: list[int] | None) -> dict[str, int]:
    """The same counts asked of the database directly (None: every email)."""
    where = "" if communities is None else f"WHERE community_id IN ({', '.join(map(str, communities))})"
    with app.app_context():
        found = dict(db.session.execute(text(f"SELECT status, count(*) FROM outbound_email {where} GROUP BY status")).all())
    return {status: found.get(status, 0) for status in OUTBOX_STATUSES}


def _add(app, community_id: int | None, statuses: list[str], start: int) -> None:
    moment = now()
    with app.app_context():
        db.session.execute(insert(OutboundEmail), [
            {"kind": "announcement", "community_id": community_id, "recipient": f"person{start + n}@example.org",
             "idempotency_key": f"counts:{start + n}", "context": {"subject": "June agenda", "body": "Hello"},
             "status": status, "attempts": 1, "created_at": moment, "updated_at": moment}
            for n, status in enumerate(statuses)])
        db.session.commit()


def _change(app, statement) -> None:
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def test_the_counts_are_the_databases_after_every_kind_of_change(app, alice_client, personas):
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    _add(app, riverside, ["sent"] * 5 + ["pending"] * 3 + ["failed"], 0)
    _add(app, lakeside, ["sent"] * 4, 100)  # bob's: never in alice's counts
    assert _shown(alice_client) == {"sent": 5, "pending": 3, "failed": 1} == {
        s: n for s, n in _counted(app, [riverside]).items() if n}

    _add(app, riverside, ["sent", "sent"], 200)  # added
    assert _shown(alice_client)["sent"] == 7
    pending = select(OutboundEmail.id).where(OutboundEmail.status == "pending").limit(2).scalar_subquery()
    _change(app, update(OutboundEmail).where(OutboundEmail.id.in_(pending)).values(status="sent"))  # delivered
    assert _shown(alice_client) == {"sent": 9, "pending": 1, "failed": 1}
    _change(app, update(OutboundEmail).where(OutboundEmail.status == "pending").values(status="failed"))
    assert _shown(alice_client) == {"sent": 9, "failed": 2}
    sent = select(OutboundEmail.id).where(OutboundEmail.status == "sent",
                                          OutboundEmail.community_id == riverside).limit(3).scalar_subquery()
    _change(app, delete(OutboundEmail).where(OutboundEmail.id.in_(sent)))  # removed
    assert _shown(alice_client) == {"sent": 6, "failed": 2} == {
        s: n for s, n in _counted(app, [riverside]).items() if n}


def test_an_admin_counts_every_email_those_of_no_community_too(app, client, personas):
    assert login(client, "carol@example.org", PASSWORD).status_code == 302
    _add(app, personas["riverside"], ["sent", "pending"], 0)
    _add(app, personas["lakeside"], ["sent"], 100)
    _add(app, None, ["sent"], 200)  # a coordinator's own mail, say
    assert _shown(client) == {"sent": 3, "pending": 1}
    _add(app, None, ["sent", "suppressed"], 300)
    assert _shown(client) == {"sent": 4, "pending": 1, "suppressed": 1} == {
        s: n for s, n in _counted(app, None).items() if n}


def test_a_community_given_to_a_coordinator_adds_its_emails_to_their_counts(app, alice_client, personas):
    _add(app, personas["riverside"], ["sent"], 0)
    _add(app, personas["lakeside"], ["sent", "sent"], 100)
    assert _shown(alice_client) == {"sent": 1}
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("INSERT INTO community_coordinator (community_id, coordinator_id, role)"
                                    " VALUES (:community, :alice, 'observer')"),
                               {"community": personas["lakeside"], "alice": personas["alice"]})
    assert _shown(alice_client) == {"sent": 3}


def test_statuses_and_kinds_are_in_each_readers_language(app, alice_client, personas):
    """The labels are translated once per language and process: a Spanish reader after an English one (and back)
    reads their own."""
    _add(app, personas["riverside"], ["sent"], 0)
    page = alice_client.get("/outbox/").get_data(as_text=True)
    assert '<span class="badge sent">sent: 1</span>' in page and "<td>Announcement</td>" in page
    _change(app, text("UPDATE coordinator SET language = 'es' WHERE id = :id").bindparams(id=personas["alice"]))
    page = alice_client.get("/outbox/").get_data(as_text=True)
    assert '<span class="badge sent">enviado: 1</span>' in page and "<td>Anuncio</td>" in page
    assert ">Anuncio</option>" in page and "<td>Announcement</td>" not in page
    _change(app, text("UPDATE coordinator SET language = 'en' WHERE id = :id").bindparams(id=personas["alice"]))
    assert '<span class="badge sent">sent: 1</span>' in alice_client.get("/outbox/").get_data(as_text=True)
