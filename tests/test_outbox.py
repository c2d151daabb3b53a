"""The outbox API: idempotency, rollback, suppression; delivery to a real SMTP server."""
from email.message import EmailMessage

from sqlalchemy import func, select

from service import mailer, members, preferences
from service.extensions import db
from service.models import Community, Member, OutboundEmail
from tests.conftest import run_worker


def _community(name="Riverside COP"):
    return db.session.scalar(select(Community).where(Community.name == name))


def _member(email):
    return db.session.scalar(select(Member).where(Member.email == email))


def _rows(**where):
    query = select(OutboundEmail)
    for key, value in where.items():
        query = query.where(getattr(OutboundEmail, key) == value)
    return list(db.session.scalars(query))


def test_welcome_email_arrives_with_text_html_and_footer(app, ctx, personas, smtp):
    community = _community()
    members.add_member(None, community, name="Luz Ortega", email="luz@example.org", language="es", welcome=True)
    db.session.commit()
    run_worker(app)
    [received] = smtp.to("luz@example.org")
    message: EmailMessage = received.message
    assert message["To"].addresses[0].addr_spec == "luz@example.org"
    assert message["Subject"] == "Welcome to Riverside COP" or "Riverside COP" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Luz Ortega" in text and "Luz Ortega" in html
    assert "/m/unsubscribe/" in text and "/m/preferences/" in text
    assert app.config["POSTAL_ADDRESS"] in text and app.config["POSTAL_ADDRESS"] in html
    assert "<style" not in html and 'style="' in html  # CSS inlined
    assert "src=" not in html and "<link" not in html and "url(" not in html  # nothing remote to load
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Id"].endswith(f"<community-{community.id}.{app.config['INBOUND_DOMAIN']}>")
    assert message["Reply-To"].startswith("reply+")
    assert received.mail_from.startswith("bounce+")
    row = _rows(recipient="luz@example.org")[0]
    db.session.refresh(row)
    assert row.status == "sent" and row.message_id == message["Message-ID"] and row.sent_at


def test_same_key_twice_is_one_email(app, ctx, personas, smtp):
    member = _member("ana@example.org")
    assert mailer.queue_email("welcome", member, "k1", community=_community()) == 1
    assert mailer.queue_email("welcome", member, "k1", community=_community()) == 0
    db.session.commit()
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 1


def test_rollback_queues_and_sends_nothing(app, ctx, personas, smtp):
    mailer.queue_email("welcome", _member("ana@example.org"), "k2", community=_community())
    db.session.rollback()
    run_worker(app)
    assert smtp.messages == []
    assert _rows() == []


def test_unsubscribed_member_gets_a_suppressed_row_and_no_mail(app, ctx, personas, smtp):
    member = _member("ana@example.org")
    preferences.unsubscribe(member, via="test")
    mailer.queue_email("welcome", member, "k3", community=_community())
    db.session.commit()
    run_worker(app)
    assert smtp.messages == []
    [row] = _rows()
    assert row.status == "suppressed" and row.last_error == "unsubscribed"


def test_line_breaks_in_a_header_value_are_refused_before_sending(app, ctx, personas, smtp):
    community = _community()
    community.name = "Riverside\r\nBcc: everyone@example.net"  # as if written straight into the database
    mailer.queue_email("welcome", _member("ana@example.org"), "k4", community=community)
    db.session.commit()
    run_worker(app)
    assert smtp.messages == []
    [row] = _rows()
    assert row.status == "failed" and "refused" in row.last_error


def test_community_names_cannot_carry_line_breaks(app, ctx, personas):
    from service.communities import update_community
    community = _community()
    update_community(None, community, name="Riverside\r\nBcc: x@example.net", time_zone="America/Chicago",
                     stage="forming", digest_cadence="weekly")
    assert "\n" not in community.name and "\r" not in community.name


def test_announcement_subject_with_line_breaks_is_folded_to_one_line(app, ctx, personas, smtp):
    from service.announcements import send_announcement
    send_announcement(None, _community(), "Hello\r\nBcc: all@example.net", "Body", "n1")
    db.session.commit()
    run_worker(app)
    [received] = smtp.messages
    assert received.message["Subject"] == "Hello Bcc: all@example.net"
    assert received.message["Bcc"] is None and received.rcpt_tos == ["ana@example.org"]


def test_fan_outs_are_cut_into_jobs_that_several_workers_share(app, ctx, personas, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BATCH_SIZE", 500)
    sizes = {n: [len(batch) for batch in mailer.delivery_batches(list(range(n)))] for n in (1, 250, 1000, 10_000)}
    assert sizes[1] == [1]
    assert sizes[250] == [100, 100, 50]          # a few hundred: still several jobs
    assert sizes[1000] == [250] * 4              # at least four jobs ...
    assert sizes[10_000] == [500] * 20           # ... of at most MAIL_BATCH_SIZE


def test_a_fan_out_stores_each_members_own_context_and_skips_keys_already_used(app, ctx, personas, monkeypatch):
    monkeypatch.setattr(mailer, "INSERT_CHUNK", 2)  # several INSERTs on PostgreSQL, as a large fan-out makes
    members.add_member(None, _community(), name="Luz Ortega", email="luz@example.org", language="es")
    people = list(db.session.scalars(select(Member).where(Member.status == "active").order_by(Member.id)))
    assert len(people) == 3
    shared = {"subject": "Même sujet", "body": 'a "quoted" word, a back\\slash, {braces} and\na new line'}
    own = {member.id: {"n": member.id, "nested": {"ü": [1, None, True, 2.5]}, "text": f"{{{member.name}}}"}
           for member in people}
    first = mailer.queue_bulk("announcement", people[:2], lambda m: f"fan:{m.id}", lambda m: shared)
    again = mailer.queue_bulk("announcement", people, lambda m: f"fan:{m.id}", lambda m: shared)
    second = mailer.queue_bulk("test_message", people[::-1], lambda m: f"own:{m.id}", lambda m: own[m.id])
    db.session.commit()
    assert (first, again, second) == (2, len(people) - 2, len(people))
    rows = _rows(kind="announcement")
    assert sorted(row.member_id for row in rows) == [member.id for member in people]
    assert all(row.context == shared and row.community_id is None and row.status == "pending" for row in rows)
    own_rows = sorted(_rows(kind="test_message"), key=lambda row: row.id)
    assert {row.member_id: row.context for row in own_rows} == own
    assert [row.member_id for row in own_rows] == [member.id for member in people[::-1]]  # ids in the order given
    assert all(row.recipient == db.session.get(Member, row.member_id).email for row in _rows())


def test_a_job_sends_over_one_connection_and_a_hang_up_does_not_hold_back_the_rest(app, ctx, personas, smtp,
                                                                                   monkeypatch):
    from service import delivery
    monkeypatch.setattr(delivery, "CLAIM_SIZE", 2)  # the job claims its rows two at a time
    for name in ("Luz Ortega", "Mia Chen", "Noor Haddad"):
        members.add_member(None, _community(), name=name, email=f"{name.split()[0].lower()}@example.org")
    people = list(db.session.scalars(select(Member).where(Member.status == "active").order_by(Member.id)))
    assert len(people) == 5
    smtp.scripted[people[1].email] = ["421 4.7.0 Closing, try again later"]  # the end of the first claim
    mailer.queue_bulk("announcement", people, lambda m: f"news:{m.id}", lambda m: {"subject": "S", "body": "B"},
                      _community())
    db.session.commit()
    run_worker(app)
    peers = {person.email: [received.peer for received in smtp.to(person.email)] for person in people}
    assert peers[people[1].email] == []
    assert all(len(peers[person.email]) == 1 for person in people if person is not people[1])
    # smtplib hung up on the 421; the next claims went on over one new connection.
    assert peers[people[2].email] == peers[people[3].email] == peers[people[4].email] != peers[people[0].email]
    deferred = _rows(recipient=people[1].email)[0]
    assert deferred.status == "pending" and "421" in deferred.last_error


def test_unknown_kind_cannot_be_queued(app, ctx, personas):
    import pytest
    with pytest.raises(ValueError, match="unknown email kind"):
        mailer.queue_email("no_such_kind", _member("ana@example.org"), "k5")


def test_member_reads_email_in_their_language(app, ctx, personas, smtp):
    community = _community()
    members.send_welcome(community, _member("ana@example.org"))  # Ana's language is Spanish
    members.add_member(None, community, name="Sam Lee", email="sam@example.org", language="en", welcome=True)
    db.session.commit()
    run_worker(app)
    spanish = smtp.to("ana@example.org")[0].message
    english = smtp.to("sam@example.org")[0].message
    assert spanish["Subject"].startswith("Bienvenid") and english["Subject"].startswith("Welcome")
    assert "Darse de baja" in spanish.get_body(("plain",)).get_content()
    assert "Unsubscribe" in english.get_body(("plain",)).get_content()
    assert 'lang="es"' in spanish.get_body(("html",)).get_content()
