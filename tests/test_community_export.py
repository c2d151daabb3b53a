"""A whole community exported as a zip, imported into another instance (round trip), archived and restored."""
import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from service import (announcements, charters, community_archive, community_data, community_export,
                     members, meetings, practices, scheduled_work)
from service.community_import import NOT_SENT, ImportRefused, import_community
from service.digests import tick
from service.errors import DomainError
from service.extensions import db
from service.lesson_files import lesson_dirs, load_lesson_dir
from service.models import (Announcement, AuditEvent, Community, Coordinator, FormAnswer, FormResponse, InboundMessage,
                            Invitation, Meeting, MeetingSeries, Member, Membership, Organization, OutboundEmail,
                            Reminder)
from service.tokens import make_token
from tests.conftest import PASSWORD, csrf_from, login, post_form, run_worker


def _community(name="Riverside COP") -> Community:
    return db.session.scalar(select(Community).where(Community.name == name))


def _member(email) -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


@pytest.fixture
def rich(ctx, personas):
    """Riverside with a bit of everything: three members (one also in Lakeside), a lesson, a past meeting with
    answers and attendance, a future one with its invitations still waiting, a charter form answered, a ratified
    charter, a practice, a reply received (raw bytes) and sent and waiting email."""
    riverside = _community()
    alice = db.session.get(Coordinator, personas["alice"])
    sam = members.add_member(alice, riverside, name="Sam Lee", email="sam@example.org", organization="Food Bank")
    members.add_member(alice, riverside, name="Zoë Ruiz", email="zoe@example.org", organization="casa verde")
    lakeside = _community("Lakeside COP")
    members.add_member(None, lakeside, name="Sam at Lakeside", email="sam@example.org", organization="Lake Org")
    lesson = load_lesson_dir(lesson_dirs()[0])
    db.session.flush()
    riverside.lesson_id = lesson.id
    ana = _member("ana@example.org")
    casa = db.session.scalar(select(Organization).where(Organization.name_key == "casa verde"))
    casa.contact_member_id = ana.id
    lake = db.session.scalar(select(Organization).where(Organization.name_key == "lake org"))
    lake.contact_member_id = _member("ben@example.org").id  # not in Riverside: must not travel
    past = meetings.create_meeting(alice, riverside, starts_at=datetime.now(timezone.utc) + timedelta(days=1),
                                   title="Kick-off", agenda="**Welcome** and =1+1", location="Library")
    meetings.record_rsvp(past, ana, "yes", note="=HYPERLINK(\"http://x\")")
    meetings.record_rsvp(past, _member("sam@example.org"), "no")
    past.starts_at = datetime.now(timezone.utc) - timedelta(days=2)
    meetings.mark_attendance(alice, past, {ana.id})
    meetings.create_meeting(alice, riverside, starts_at=datetime.now(timezone.utc) + timedelta(days=5),
                            title="Second call")
    from service.form_requests import send_request
    form = send_request(alice, riverside, "charter", "Charter questions", [ana.id, sam.member_id],
                        datetime.now(timezone.utc) + timedelta(days=7))
    db.session.flush()
    response = db.session.scalar(select(FormResponse).where(FormResponse.request_id == form.id,
                                                            FormResponse.member_id == ana.id))
    response.status, response.submitted_at = "submitted", datetime.now(timezone.utc)
    db.session.add(FormAnswer(response_id=response.id, question="purpose", value_text="=cmd|' /C calc'!A0"))
    charter = charters.new_version(alice, riverside)
    charters.save_draft(alice, charter, "# Purpose\n\nWe learn together.")
    charters.propose(alice, charter)
    charters.vote(charter, ana, "approve")
    charters.ratify(alice, charter, override_reason="The members agreed at the kickoff meeting.")
    practices.submit_practice(riverside, ana, "Shared rides", "We drove each other.", "More came.", True)
    db.session.add(InboundMessage(via="test", message_id="<r1@example.org>", raw=b"Subject: hi\r\n\r\n\xff\x00",
                                  community_id=riverside.id, member_id=ana.id, status="done",
                                  object_kind="meeting", object_id=past.id, text="yes"))
    sent = db.session.scalars(select(OutboundEmail).where(OutboundEmail.community_id == riverside.id)).first()
    sent.status, sent.sent_at, sent.message_id = "sent", datetime.now(timezone.utc), "<m1@example.org>"
    db.session.commit()
    return riverside.id


def _canonical(rows: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Each table's rows without ids, every foreign key (and polymorphic id) replaced by the row it points at."""
    index = {name: {row["id"]: row for row in table_rows} for name, table_rows in rows.items()}
    by_name = community_data.tables()

    def resolve(target: str | None, value):
        target = community_data.KIND_TABLES.get(target, target)
        if target not in index or value is None:
            return value
        referenced = index[target].get(value)
        return (target, form(target, referenced)) if referenced else None

    def resolve_each(target: str | None, value):
        """A context's id, or each of a list of them (an announcement's organizations)."""
        return [resolve(target, item) for item in value] if isinstance(value, list) else resolve(target, value)

    def form(name: str, row: dict) -> tuple:
        table, out = by_name[name], []
        kind_column, id_column = community_data.POLYMORPHIC.get(name, (None, None))
        for column in community_data.exported_columns(table):
            if column.primary_key:
                continue
            value = row[column.name]
            if column.foreign_keys:
                value = resolve(next(iter(column.foreign_keys)).column.table.name, value)
            if column.name == id_column:
                value = resolve(row[kind_column], value)
            if community_data.CONTEXTS.get(name) == column.name and isinstance(value, dict):
                value = {key: resolve_each(community_data.CONTEXT_IDS.get(
                    key, value.get("object_kind") if key == "object_id" else None), item)
                         for key, item in sorted(value.items())}
            if name == "outbound_email" and column.name == "idempotency_key":
                value = re.sub(r"^imported:[0-9a-f]+:", "", value)
            out.append((column.name, value))
        return tuple(out)

    return {name: sorted(repr(form(name, row)) for row in table_rows) for name, table_rows in rows.items()}


def _wipe():
    db.session.remove()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def _export(community_id: int) -> bytes:
    _name, data = community_export.export_zip(None, db.session.get(Community, community_id))
    db.session.commit()
    return data


def test_every_table_has_a_place_in_an_export(ctx):
    """A table added later must be owned by a community, shared by a natural key, or said to be instance-level."""
    plan = community_data.layout()
    assert {"community", "membership", "meeting", "invitation", "reminder", "form_request", "form_response",
            "form_answer", "charter", "charter_vote", "practice", "audit_event", "outbound_email",
            "inbound_message", "digest_issue", "intake_entry", "member_import", "bounce_event",
            "community_coordinator"} <= set(plan.owned)
    assert set(plan.shared) == {"member", "organization", "lesson", "coordinator"}
    assert plan.shared_children == ("lesson_module",)


def test_round_trip_into_an_empty_database_gives_the_same_community(rich):
    data = _export(rich)
    before = community_data.community_rows(rich)  # after the export: its own audit event is in the file
    waiting = [row for row in before["outbound_email"] if row["status"] in ("pending", "sending")]
    assert waiting and any(row["status"] == "sent" for row in before["outbound_email"])
    for row in waiting:  # what the import does on purpose: the old instance may have sent them
        row.update(status="suppressed", last_error=NOT_SENT, next_attempt_at=None)
    assert not any(row["email"] == "ben@example.org" for row in before["member"])
    assert {row["name"] for row in before["organization"]} == {"Casa Verde", "Food Bank"}

    _wipe()
    community = import_community(None, io.BytesIO(data))
    db.session.commit()
    after = community_data.community_rows(community.id)
    after["audit_event"] = [row for row in after["audit_event"] if row["action"] != "community.import"]

    expected, found = _canonical(before), _canonical(after)
    assert set(found) == set(expected)
    for name in expected:
        assert found[name] == expected[name], name
    assert sum(len(rows) for rows in after.values()) > 40
    assert db.session.scalar(select(func.count()).select_from(Community)) == 1
    # The imported account cannot log in until its owner sets a password, and is no admin here.
    alice = community_data.tables()["coordinator"]
    assert db.session.execute(select(alice.c.password_hash, alice.c.is_admin)).all() == [("!", False)]


def test_a_scheduled_announcement_and_a_meeting_series_travel_with_their_ids_pointing_home(ctx, personas):
    """The announcement's audience names organizations by id, and series emails name their series: both point
    at the imported rows, not at whatever had those ids."""
    from service import meeting_series
    riverside = _community()
    members.add_member(None, riverside, name="Sam Lee", email="sam@example.org", organization="Food Bank")
    db.session.flush()
    food_bank = db.session.scalar(select(Organization.id).where(Organization.name_key == "food bank"))
    announcements.send_announcement(None, riverside, "For the food bank", "See you.", "later-1",
                                    announcements.audience(riverside, organization_ids=[food_bank]),
                                    send_at=datetime.now(timezone.utc) + timedelta(days=3))
    meeting_series.create_series(None, riverside, starts_at=datetime.now(timezone.utc) + timedelta(days=8),
                                 frequency="weekly", invitation="series", count=3, title="Weekly circle")
    db.session.commit()
    data = _export(riverside.id)
    _wipe()
    for name in ("Other Org", "Another Org"):  # taken ids, so an id left unmapped would point at one of them
        db.session.add(Organization(name=name, name_key=name.lower()))
    db.session.commit()
    community = import_community(None, io.BytesIO(data))
    db.session.commit()
    [announcement] = db.session.scalars(select(Announcement)).all()
    [organization] = announcement.audience["organization_ids"]
    assert db.session.get(Organization, organization).name == "Food Bank"
    assert announcement.status == "scheduled" and announcement.community_id == community.id
    assert [m.email for m in announcements.recipients(community, announcement.audience)] == ["sam@example.org"]
    [series] = db.session.scalars(select(MeetingSeries)).all()
    assert len(meeting_series.occurrences(series)) == 3
    contexts = db.session.scalars(select(OutboundEmail.context).where(OutboundEmail.kind == "series_invitation"))
    assert {context["series_id"] for context in contexts} == {series.id}


def test_import_reuses_members_and_organizations_without_overwriting_them(rich, client):
    data = _export(rich)
    riverside = db.session.get(Community, rich)
    old_ids = {row.id for row in db.session.scalars(select(Membership).where(Membership.community_id == rich))}
    db.session.execute(InboundMessage.__table__.delete())
    db.session.delete(riverside)  # gone from here; its members stay (Sam is in Lakeside, Ana and Zoë are people)
    _member("ana@example.org").name = "Ana Who Changed Her Name"
    db.session.commit()
    members_before = db.session.scalar(select(func.count()).select_from(Member))

    community = import_community(None, io.BytesIO(data))
    db.session.commit()

    assert community.id != rich
    assert db.session.scalar(select(func.count()).select_from(Member)) == members_before
    ana = _member("ana@example.org")
    assert ana.name == "Ana Who Changed Her Name"  # the person's own data is theirs here
    imported = {m.member.email: m for m in db.session.scalars(
        select(Membership).where(Membership.community_id == community.id))}
    assert imported["ana@example.org"].member_id == ana.id and imported["ana@example.org"].name == "Ana Torres"
    assert {m.id for m in imported.values()}.isdisjoint(old_ids)
    assert db.session.scalar(select(func.count()).where(Organization.name_key == "casa verde")) == 1
    answers = db.session.execute(select(Invitation.member_id, Invitation.answer).join(Invitation.meeting).where(
        Invitation.answer.is_not(None), Meeting.community_id == community.id)).all()
    assert sorted(answers) == sorted([(ana.id, "yes"), (_member("sam@example.org").id, "no")])
    new_meetings = set(db.session.scalars(select(Meeting.id).where(Meeting.community_id == community.id)))
    contexts = db.session.scalars(select(OutboundEmail.context).where(OutboundEmail.community_id == community.id,
                                                                      OutboundEmail.kind == "meeting_invitation"))
    assert {context["meeting_id"] for context in contexts} == new_meetings  # a retry renders the right meeting
    reply_event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "community.import"))
    assert reply_event.community_id == community.id and reply_event.details["members_matched"] == 3


def _zip(files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_file_that_is_not_ours_newer_or_imported_twice_is_refused_and_nothing_is_written(rich, app, tmp_path):
    data = _export(rich)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    body = zipfile.ZipFile(io.BytesIO(data)).read("community.json")
    damaged = json.loads(body)
    damaged["tables"]["invitation"][0]["meeting_id"] = 999_999
    cases = {
        b"PK not really": "not a zip file",
        _zip({"hello.txt": "hi"}): "not a community export",
        _zip({"manifest.json": json.dumps({**manifest, "schema_revision": "9999_future"}), "community.json": body}):
            "newer version of the service",
        _zip({"manifest.json": json.dumps({**manifest, "format": "other"}), "community.json": body}):
            "not a community export",
        _zip({"manifest.json": json.dumps({**manifest, "export_id": "d" * 32}),
              "community.json": json.dumps(damaged)}): "refers to a row it does not hold",
    }
    counts = {table.name: db.session.scalar(select(func.count()).select_from(table))
              for table in db.metadata.sorted_tables}
    for content, message in cases.items():
        with pytest.raises(ImportRefused, match=message):
            import_community(None, io.BytesIO(content))
        db.session.rollback()
    assert {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables} == counts

    (tmp_path / "bad.zip").write_bytes(b"nothing")
    cli = app.test_cli_runner()
    written = cli.invoke(args=["communities", "export", str(rich), str(tmp_path / "c.zip")])
    assert written.exit_code == 0 and "Wrote Riverside COP to" in written.output, written.output
    assert cli.invoke(args=["communities", "export", "999999", str(tmp_path / "x.zip")]).exit_code == 1
    first = cli.invoke(args=["communities", "import", str(tmp_path / "c.zip")])
    assert first.exit_code == 0, first.output
    assert "Imported Riverside COP as community" in first.output  # here too, as a copy
    again = cli.invoke(args=["communities", "import", str(tmp_path / "c.zip")])
    assert again.exit_code == 1 and "already imported here" in again.output and "Nothing was imported" in again.output
    bad = cli.invoke(args=["communities", "import", str(tmp_path / "bad.zip")])
    assert bad.exit_code == 1 and "not a zip file" in bad.output
    assert db.session.scalar(select(func.count()).where(Community.name == "Riverside COP")) == 2


def test_the_admin_import_page_takes_a_zip_and_says_what_is_wrong(rich, client):
    data = _export(rich)
    login(client, "alice@example.org", PASSWORD)
    assert client.get("/admin/communities/import").status_code == 404  # admins only
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, "carol@example.org", PASSWORD)
    assert "/admin/communities/import" in client.get("/").get_data(as_text=True)
    bad = post_form(client, "/admin/communities/import", {"file": (io.BytesIO(b"not a zip"), "c.zip")},
                    content_type="multipart/form-data")
    assert bad.status_code == 400 and "not a zip file" in bad.get_data(as_text=True)
    missing = post_form(client, "/admin/communities/import", {}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose the export" in missing.get_data(as_text=True)
    assert client.post("/admin/communities/import", data={"file": (io.BytesIO(data), "c.zip")},
                       content_type="multipart/form-data").status_code == 400  # no CSRF token
    limit, client.application.config["MAX_CONTENT_LENGTH"] = client.application.config["MAX_CONTENT_LENGTH"], 2048
    try:
        large = post_form(client, "/admin/communities/import", {"file": (io.BytesIO(data), "c.zip")},
                          content_type="multipart/form-data")
    finally:
        client.application.config["MAX_CONTENT_LENGTH"] = limit
    assert large.status_code == 413 and "File too large" in large.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Community)) == 2
    good = post_form(client, "/admin/communities/import", {"file": (io.BytesIO(data), "c.zip")},
                     content_type="multipart/form-data")
    assert good.status_code == 302
    page = client.get(good.headers["Location"]).get_data(as_text=True)
    assert "Riverside COP" in page and "Sam Lee" in page


def test_a_coordinator_downloads_the_whole_community_in_one_click(rich, client):
    login(client, "bob@example.org", PASSWORD)
    assert client.get(f"/communities/{rich}/export.zip").status_code == 404  # not Bob's
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, "alice@example.org", PASSWORD)
    page = client.get(f"/communities/{rich}").get_data(as_text=True)
    assert f"/communities/{rich}/export.zip" in page
    response = client.get(f"/communities/{rich}/export.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert re.search(r'attachment; filename="riverside-cop-\d{8}\.zip"', response.headers["Content-Disposition"])
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    assert {"manifest.json", "community.json", "README.txt", "members.csv", "organizations.csv", "meetings.csv",
            "rsvps.csv", "meetings.ics", "practices.md", "audit.csv", "report.html", "charter/version-1.md"} <= names
    assert any(name.startswith("forms/") for name in names) and any(name.startswith("lessons/") for name in names)
    text = {name: archive.read(name).decode("utf-8-sig") for name in names}
    assert "Zoë Ruiz" in text["members.csv"] and "Ben Lake" not in text["members.csv"]
    assert "'=HYPERLINK" in text["rsvps.csv"]  # a formula is neutralised
    form_csv = next(content for name, content in text.items() if name.startswith("forms/"))
    assert "'=cmd|" in form_csv
    assert text["meetings.ics"].count("BEGIN:VEVENT") == 2 and "METHOD:PUBLISH" in text["meetings.ics"]
    assert "We learn together." in text["charter/version-1.md"]
    assert "Shared rides" in text["practices.md"] and "We drove each other." in text["practices.md"]
    assert "community.export" in text["audit.csv"] and "meeting.create" in text["audit.csv"]
    report = text["report.html"]
    assert "<svg" in report and "@media print" in report
    assert not re.search(r'(src|href)\s*=\s*"(?!#)', report) and "http://" not in report.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # nothing loaded from anywhere
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "community.export")) == 1


def _statuses(community_id: int) -> dict[str, int]:
    return dict(db.session.execute(select(OutboundEmail.status, func.count()).where(
        OutboundEmail.community_id == community_id).group_by(OutboundEmail.status)).all())


def test_an_archived_community_sends_nothing_and_is_read_only_until_restored(app, personas, client, smtp):
    login(client, "alice@example.org", PASSWORD)
    community_id = personas["riverside"]
    with app.app_context():
        riverside = db.session.get(Community, community_id)
        riverside.digest_enabled, riverside.digest_enabled_at = True, datetime.now(timezone.utc) - timedelta(days=30)
        riverside.lesson_id = load_lesson_dir(lesson_dirs()[0]).id
        meeting = meetings.create_meeting(None, riverside, starts_at=datetime.now(timezone.utc) + timedelta(hours=30),
                                          title="Monthly call")
        db.session.commit()
        meeting_id = meeting.id
    # Archived with the invitations still in the outbox.
    response = post_form(client, f"/communities/{community_id}", {}, post_url=f"/communities/{community_id}/archive")
    assert response.status_code == 302
    assert "Archived" in client.get("/").get_data(as_text=True)

    with app.app_context():
        riverside = db.session.get(Community, community_id)
        announcements.send_announcement(None, riverside, "News", "Hello all", "n1")
        reminder = db.session.scalar(select(Reminder).where(Reminder.meeting_id == meeting_id))
        reminder.due_at = datetime.now(timezone.utc) - timedelta(hours=1)
        db.session.commit()
        scheduled_work.sweep_all()
        tick(datetime.now(timezone.utc) + timedelta(days=8))
        db.session.commit()
    run_worker(app)
    assert smtp.messages == []
    with app.app_context():
        assert set(_statuses(community_id)) == {"suppressed"}
        kinds = set(db.session.scalars(select(OutboundEmail.kind).where(OutboundEmail.community_id == community_id)))
        assert {"meeting_invitation", "announcement", "meeting_reminder"} <= kinds
        assert set(db.session.scalars(select(OutboundEmail.last_error).where(
            OutboundEmail.community_id == community_id))) == {"community archived"}

    # Read-only: a change is refused with a page that says why, and nothing changed.
    edit = post_form(client, f"/communities/{community_id}/edit",
                     {"name": "Renamed", "time_zone": "America/Chicago", "stage": "forming",
                      "digest_cadence": "biweekly", "reminder_offsets": "", "feedback_delay_hours": "2"})
    assert edit.status_code == 409 and "is archived" in edit.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Community, community_id).name == "Riverside COP"
        ana = _member("ana@example.org")
        rsvp_url = f"/m/meetings/{meeting_id}/rsvp/{make_token('rsvp', ana.id, meeting_id)}"
    stranger = app.test_client().post(f"/communities/{community_id}/edit", data={"name": "x"})
    assert stranger.status_code != 409 and "archived" not in stranger.get_data(as_text=True)  # tells no stranger
    member = app.test_client()  # a member's browser, from the invitation's link
    answered = post_form(member, rsvp_url, {"answer": "yes"})
    assert answered.status_code == 409 and "no longer takes answers" in answered.get_data(as_text=True)
    assert "Riverside" not in answered.get_data(as_text=True)  # a link's page names nothing it need not
    with app.app_context():
        assert db.session.scalar(select(Invitation.answer).where(Invitation.meeting_id == meeting_id,
                                                                 Invitation.member_id == ana.id)) is None

    assert post_form(client, f"/communities/{community_id}", {},
                     post_url=f"/communities/{community_id}/restore").status_code == 302
    with app.app_context():
        announcements.send_announcement(None, db.session.get(Community, community_id), "Back", "We are back", "n2")
        db.session.commit()
    run_worker(app)
    assert [m.message["Subject"] for m in smtp.to("ana@example.org")] == ["Back"]
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.in_(["community.archive", "community.restore"])).order_by(AuditEvent.id)))
        assert actions == ["community.archive", "community.restore"]


def test_members_answers_by_any_way_in_are_refused_while_archived(rich):
    """The domain refuses them, so a reply by email or a calendar button records nothing either."""
    riverside = db.session.get(Community, rich)
    community_archive.archive(None, riverside)
    db.session.commit()
    ana = _member("ana@example.org")
    meeting = db.session.scalar(select(Meeting).where(Meeting.title == "Second call"))
    with pytest.raises(DomainError, match="archived"):
        meetings.record_rsvp(meeting, ana, "yes", via="email")
    with pytest.raises(DomainError, match="archived"):
        practices.submit_practice(riverside, ana, "Another idea", "We tried it.", source="email")
    db.session.rollback()
    community_archive.restore(None, db.session.get(Community, rich))
    assert meetings.record_rsvp(meeting, ana, "yes", via="email").answer == "yes"


def test_an_observer_sees_the_community_but_neither_downloads_nor_archives_it(app, personas, client):
    """Someone who only looks (a coordinator who stepped back) gets 404 for the export and the archive button."""
    from service.models import CommunityCoordinator
    riverside = personas["riverside"]
    with app.app_context():
        db.session.execute(CommunityCoordinator.__table__.update().where(
            CommunityCoordinator.coordinator_id == personas["alice"]).values(role="observer"))
        db.session.commit()
    login(client, "alice@example.org", PASSWORD)
    page = client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "Riverside COP" in page and "export.zip" not in page and "Archive this community" not in page
    assert client.get(f"/communities/{riverside}/export.zip").status_code == 404
    # Refused (an observer's every POST is, with its own page), and nothing archived.
    assert client.post(f"/communities/{riverside}/archive", data={"csrf_token": csrf_from(page)}).status_code in (403,
                                                                                                                404)
    with app.app_context():
        assert db.session.get(Community, riverside).archived_at is None


def test_only_those_who_run_a_community_archive_it(app, personas, client):
    login(client, "bob@example.org", PASSWORD)
    page = client.get("/").get_data(as_text=True)
    token = csrf_from(page)
    riverside = personas["riverside"]
    assert client.post(f"/communities/{riverside}/archive", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.get(Community, riverside).archived_at is None
        assert community_archive.may_run(db.session.get(Coordinator, personas["carol"]),
                                         db.session.get(Community, riverside))
