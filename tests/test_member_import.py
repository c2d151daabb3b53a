"""CSV member import: preview of bad rows, nothing imported until confirmed, small and large imports."""
import io
import re

from sqlalchemy import func, select

from service.extensions import db
from service.models import AuditEvent, Member, MemberImport, Membership
from tests.conftest import post_form

HEADER = "name,email,organization,language,role\n"


def _upload(client, community_id: int, content: bytes, filename: str = "members.csv"):
    url = f"/communities/{community_id}/imports/new"
    return post_form(client, url, {"file": (io.BytesIO(content), filename)},
                     content_type="multipart/form-data")


def _preview(client, community_id: int, content: bytes):
    """Upload a file and follow to its preview page: (import id, preview HTML)."""
    response = _upload(client, community_id, content)
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(rf"/communities/{community_id}/imports/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return int(match.group(1)), page.get_data(as_text=True)


def _confirm(client, community_id: int, import_id: int):
    page_url = f"/communities/{community_id}/imports/{import_id}"
    return post_form(client, page_url, {}, post_url=page_url + "/confirm")


def _problem_rows(html: str) -> dict[int, str]:
    """The preview's table of rows that will not be imported: {line: 'email | why'}."""
    table = re.search(r'<table class="problems">(.*?)</table>', html, re.S)
    if not table:
        return {}
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td></tr>", table.group(1))
    return {int(line): f"{email} | {why}" for line, email, why in rows}


def _membership_count(app, community_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.community_id == community_id))


def _emails_in(app, community_id: int) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Member.email).join(Membership)
                                      .where(Membership.community_id == community_id)))


def test_preview_lists_each_bad_row_and_why_and_imports_nothing(app, alice_client, personas):
    riverside = personas["riverside"]
    content = (HEADER
               + "Good One,good1@example.org,Casa Verde,es,member\n"         # line 2: fine
               + "Bad Email,not-an-address,,en,member\n"                     # line 3
               + "Dup First,dup@example.org,,en,member\n"                    # line 4: fine
               + "Dup Second,DUP@example.org,,en,member\n"                   # line 5: duplicate of 4
               + "Ana Again,ana@example.org,,es,member\n"                    # line 6: already a member
               + "French Speaker,fr@example.org,,fr,member\n"                # line 7: unknown language
               + "Boss,boss@example.org,,en,president\n"                     # line 8: unknown role
               + "Good Two,good2@example.org,Riverside Food Bank,English,Facilitator\n"  # line 9: fine
               ).encode()
    before = _membership_count(app, riverside)

    import_id, html = _preview(alice_client, riverside, content)

    assert "8 rows read: 3 ready to import, 5 with problems." in html
    problems = _problem_rows(html)
    assert set(problems) == {3, 5, 6, 7, 8}
    assert "not-an-address is not a valid email address." in problems[3]
    assert "duplicate of line 4" in problems[5]
    assert "already a member" in problems[6]
    assert "unknown language" in problems[7] and "fr" in problems[7]
    assert "unknown role" in problems[8] and "president" in problems[8]
    assert "Import 3 members" in html
    # Nothing is imported by looking at a preview.
    assert _membership_count(app, riverside) == before
    assert "good1@example.org" not in alice_client.get(f"/communities/{riverside}").get_data(as_text=True)


def test_confirm_imports_exactly_the_valid_rows_once_and_is_audited(app, alice_client, personas):
    riverside = personas["riverside"]
    content = (HEADER
               + "Good One,good1@example.org,Casa Verde,es,member\n"
               + "Bad Email,not-an-address,,en,member\n"
               + "Ana Again,ana@example.org,,es,member\n"
               + "Good Two,Good2@Example.org,Riverside Food Bank,English,Facilitator\n").encode()
    import_id, _ = _preview(alice_client, riverside, content)

    response = _confirm(alice_client, riverside, import_id)
    assert response.status_code == 302
    page = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 members imported." in page
    assert "good1@example.org" in page and "good2@example.org" in page
    assert _emails_in(app, riverside) == {"ana@example.org", "good1@example.org", "good2@example.org"}
    with app.app_context():
        good2 = db.session.scalar(select(Membership).join(Member).where(Member.email == "good2@example.org"))
        assert (good2.role, good2.member.language, good2.organization.name) == \
            ("facilitator", "en", "Riverside Food Bank")
        # Ana keeps her original details: the bad row did not touch her.
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        assert ana.name == "Ana Torres"
        events = {e.action: e for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "member_import"))}
        assert set(events) == {"import.confirm", "import.done"}
        assert events["import.confirm"].actor == "alice@example.org"
        assert events["import.confirm"].community_id == riverside
        assert events["import.done"].details["created"] == 2

    # Confirming again (double click, back button) imports nothing more.
    again = _confirm(alice_client, riverside, import_id)
    assert again.status_code == 302
    page = alice_client.get(again.headers["Location"]).get_data(as_text=True)
    assert "already been confirmed" in page
    assert _membership_count(app, riverside) == 3
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 4  # ana, ben, good1, good2


def test_a_second_file_with_the_same_people_imports_nobody_twice(app, alice_client, personas):
    riverside = personas["riverside"]
    content = (HEADER + "Good One,good1@example.org,,en,member\n").encode()
    first, _ = _preview(alice_client, riverside, content)
    second, html = _preview(alice_client, riverside, content)  # previewed before the first is confirmed
    assert "1 ready to import" in html
    _confirm(alice_client, riverside, first)
    response = _confirm(alice_client, riverside, second)
    assert response.status_code == 302
    assert _membership_count(app, riverside) == 2
    with app.app_context():
        assert db.session.get(MemberImport, second).created_count == 0


def test_two_tabs_confirming_the_same_preview_import_it_once(app, alice_client, personas):
    """A second request that loaded the import before the first confirmed it is refused, not re-run."""
    from service import member_import
    from service.errors import DomainError
    from service.models import Coordinator

    riverside = personas["riverside"]
    import_id, _ = _preview(alice_client, riverside, (HEADER + "Good One,good1@example.org,,en,member\n").encode())
    with app.app_context():
        stale = db.session.get(MemberImport, import_id)  # the second tab's view of it: still "previewed"
        alice = db.session.get(Coordinator, personas["alice"])
        assert stale.status == "previewed"
        with app.app_context():  # the first tab confirms meanwhile, in its own session
            _confirm(alice_client, riverside, import_id)
        assert stale.status == "previewed"
        try:
            member_import.confirm_import(alice, stale)
        except DomainError as error:
            assert "already been confirmed" in error.message
        else:
            raise AssertionError("a stale confirm ran the import again")
        db.session.rollback()
        actions = list(db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.object_type == "member_import").order_by(AuditEvent.id)))
    assert actions == ["import.confirm", "import.done"]
    assert _membership_count(app, riverside) == 2


def test_importing_a_person_another_coordinator_knows_reveals_and_changes_nothing_there(app, alice_client,
                                                                                         personas):
    """Ben is Bob's "Ben Lake" of "Lake Org" in Lakeside: Alice's file names him otherwise."""
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    content = (HEADER + "Renamed by Alice,BEN@example.org,Evil Corp,es,leader\n"
               + "Nina New,nina@example.org,Evil Corp,es,leader\n").encode()
    import_id, preview = _preview(alice_client, riverside, content)
    assert "2 ready to import, 0 with problems" in preview  # a known address reads like a new one
    _confirm(alice_client, riverside, import_id)
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    for html in (preview, page):
        assert "Ben Lake" not in html and "Lake Org" not in html
    assert re.search(r'<td><a href="[^"]*">Renamed by Alice</a></td>\s*<td>ben@example.org</td>\s*<td>Evil Corp</td>',
                     page)  # the name links to the member's page
    for address in ("ben@example.org", "nina@example.org"):  # the file's language, known address or not
        assert re.search(rf"<td>{address}</td>(\s*<td>[^<]*</td>){{2}}\s*<td>es</td>", page)
    with app.app_context():
        ben = db.session.scalar(select(Member).where(Member.email == "ben@example.org"))
        assert (ben.name, ben.language) == ("Ben Lake", "en")  # the person's own details stay his
        known = {m.community_id: (m.name, m.organization.name, m.role, m.language) for m in
                 db.session.scalars(select(Membership).where(Membership.member_id == ben.id))}
        assert known == {lakeside: ("Ben Lake", "Lake Org", "member", "en"),
                         riverside: ("Renamed by Alice", "Evil Corp", "leader", "es")}


def test_missing_required_column_is_shown_on_the_upload_page(app, alice_client, personas):
    response = _upload(alice_client, personas["riverside"],
                       b"name,organization\nAna,Casa Verde\n")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Import members from a CSV file" in html  # still the upload page
    assert "no email column" in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MemberImport)) == 0


def test_latin1_file_gets_a_clear_message_about_utf8(app, alice_client, personas):
    content = (HEADER + "José Núñez,jose@example.org,Organización Niños,es,member\n").encode("latin-1")
    response = _upload(alice_client, personas["riverside"], content)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "not UTF-8" in html and "CSV UTF-8" in html
    assert _membership_count(app, personas["riverside"]) == 1


def test_empty_file_is_refused_with_a_message(alice_client, personas):
    response = _upload(alice_client, personas["riverside"], b"")
    assert response.status_code == 400
    assert "The file is empty." in response.get_data(as_text=True)


def test_header_only_file_is_refused_with_a_message(alice_client, personas):
    response = _upload(alice_client, personas["riverside"], HEADER.encode())
    assert response.status_code == 400
    assert "no members" in response.get_data(as_text=True)


def test_no_file_chosen_is_a_field_error(alice_client, personas):
    url = f"/communities/{personas['riverside']}/imports/new"
    response = post_form(alice_client, url, {}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose a CSV file to upload." in response.get_data(as_text=True)


def test_file_over_the_import_limit_is_refused_with_its_size(app, alice_client, personas, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 2 * 2**20)
    row = b"Some Body,somebody@example.org,Casa Verde,en,member\n"
    content = HEADER.encode() + row * (2 * 2**20 // len(row) + 1)
    response = _upload(alice_client, personas["riverside"], content)
    assert response.status_code == 400
    assert "The file is larger than 2 MB." in response.get_data(as_text=True)


def test_upload_over_the_request_limit_gets_the_friendly_413_page(app, alice_client, personas, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    response = _upload(alice_client, personas["riverside"], HEADER.encode() + b"x" * 100 * 1024)
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)


def test_semicolon_delimited_file_from_spanish_excel_works(app, alice_client, personas):
    riverside = personas["riverside"]
    content = ("nombre;correo;organización;idioma;rol\r\n"
               "José Núñez;jose@example.org;Organización Niños, Inc.;es;facilitadora\r\n"
               "Lucía Gómez;lucia@example.org;Casa Verde;español;miembro\r\n").encode("utf-8")
    import_id, html = _preview(alice_client, riverside, content)
    assert "2 rows read: 2 ready to import, 0 with problems." in html
    assert "Organización Niños, Inc." in html
    _confirm(alice_client, riverside, import_id)
    assert _emails_in(app, riverside) == {"ana@example.org", "jose@example.org", "lucia@example.org"}
    with app.app_context():
        jose = db.session.scalar(select(Membership).join(Member).where(Member.email == "jose@example.org"))
        assert (jose.member.name, jose.role, jose.member.language) == ("José Núñez", "facilitator", "es")


def test_utf8_bom_from_excel_is_ignored(app, alice_client, personas):
    riverside = personas["riverside"]
    content = "\ufeff".encode() + (HEADER + "Zoë Adams,zoe@example.org,Casa Verde,en,leader\n").encode()
    import_id, html = _preview(alice_client, riverside, content)
    assert "1 rows read: 1 ready to import, 0 with problems." in html
    _confirm(alice_client, riverside, import_id)
    assert "zoe@example.org" in _emails_in(app, riverside)


def test_quoted_fields_with_commas_are_read_as_one_cell(app, alice_client, personas):
    riverside = personas["riverside"]
    content = (HEADER + '"Torres, Ana María",anamaria@example.org,"Casa Verde, Inc.",es,member\n'
               + 'Sam Lee,sam@example.org,Riverside Food Bank,en,member\n').encode()
    import_id, html = _preview(alice_client, riverside, content)
    assert "2 ready to import, 0 with problems" in html
    _confirm(alice_client, riverside, import_id)
    with app.app_context():
        member = db.session.scalar(select(Membership).join(Member).where(Member.email == "anamaria@example.org"))
        assert (member.name, member.organization.name) == ("Torres, Ana María", "Casa Verde, Inc.")


def test_names_starting_with_an_apostrophe_do_not_confuse_the_reader(app, alice_client, personas):
    """'Ohana, 'Aina: an apostrophe is not a quote character in a CSV file."""
    riverside = personas["riverside"]
    content = (HEADER + "'Ohana Kealoha,ohana@example.org,Farmers' Market Co-op,en,member\n"
               + "Mary O'Brien,mary@example.org,Children's Place,en,member\n").encode()
    import_id, html = _preview(alice_client, riverside, content)
    assert "2 rows read: 2 ready to import, 0 with problems." in html
    _confirm(alice_client, riverside, import_id)
    with app.app_context():
        member = db.session.scalar(select(Membership).join(Member).where(Member.email == "ohana@example.org"))
        assert (member.name, member.organization.name) == ("'Ohana Kealoha", "Farmers' Market Co-op")


def test_old_mac_line_endings_and_tab_separated_files_work(app, alice_client, personas):
    riverside = personas["riverside"]
    mac = (HEADER.replace("\n", "\r") + "Cara Mac,cara@example.org,,en,member\r"
           + "Dev Mac,dev@example.org,,es,leader\r").encode()
    import_id, html = _preview(alice_client, riverside, mac)
    assert "2 rows read: 2 ready to import, 0 with problems." in html
    tabs = "name\temail\torganization\nEve Tab\teve@example.org\tCasa Verde, Inc.\n".encode()
    import_id, html = _preview(alice_client, riverside, tabs)
    assert "1 rows read: 1 ready to import, 0 with problems." in html
    assert "Casa Verde, Inc." in html


def test_file_with_nul_bytes_is_refused_as_not_text(app, alice_client, personas):
    """UTF-16 without a byte-order mark decodes as 'UTF-8' full of NULs (and PostgreSQL refuses NULs)."""
    for content in ((HEADER + "Ana\x00,nul@example.org,,en,member\n").encode(),
                    (HEADER + "Fay,fay@example.org,,en,member\n").encode("utf-16-le")):
        response = _upload(alice_client, personas["riverside"], content)
        assert response.status_code == 400
        assert "not UTF-8" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MemberImport)) == 0


def test_too_long_name_or_organization_is_a_bad_row_not_a_failed_import(app, alice_client, personas):
    """The database holds 200 characters: the preview must say so, not the import crash on it."""
    riverside = personas["riverside"]
    content = (HEADER + f"{'N' * 201},long-name@example.org,,en,member\n"
               + f"Ok Name,long-org@example.org,{'O' * 201},en,member\n"
               + f"{'F' * 200},fits@example.org,{'G' * 200},en,member\n").encode()
    import_id, html = _preview(alice_client, riverside, content)
    problems = _problem_rows(html)
    assert set(problems) == {2, 3}
    assert "name is longer than 200 characters" in problems[2]
    assert "organization is longer than 200 characters" in problems[3]
    response = _confirm(alice_client, riverside, import_id)
    assert "1 member imported." in alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "fits@example.org" in _emails_in(app, riverside)


def test_preview_of_another_communitys_import_is_not_found(app, alice_client, personas):
    """An import id of Riverside under Lakeside's address is 404 even for its owner."""
    import_id, _ = _preview(alice_client, personas["riverside"], (HEADER + "A,a@example.org,,,\n").encode())
    assert alice_client.get(f"/communities/{personas['lakeside']}/imports/{import_id}").status_code == 404


def test_ten_thousand_rows_run_as_a_job_with_progress(app, alice_client, personas):
    from rq import SimpleWorker

    from service.queue import get_queue, redis_connection

    riverside = personas["riverside"]
    assert app.config["IMPORT_INLINE_MAX_ROWS"] == 200
    orgs = [f"Organization {n}" for n in range(40)]
    lines = [HEADER.rstrip("\n")]
    lines += [f"Person {n},person{n}@example.org,{orgs[n % 40]},{'es' if n % 3 == 0 else 'en'},member"
              for n in range(10_000)]
    content = ("\n".join(lines) + "\n").encode()

    import_id, html = _preview(alice_client, riverside, content)
    assert "10000 rows read: 10000 ready to import, 0 with problems." in html
    assert "…and 9900 more." in html
    assert _membership_count(app, riverside) == 1

    response = _confirm(alice_client, riverside, import_id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/imports/{import_id}")
    page = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Importing: 0 of 10000 rows processed." in page
    assert '<meta http-equiv="refresh"' in page
    with app.app_context():
        assert db.session.get(MemberImport, import_id).status == "queued"
        assert get_queue().count == 1
    assert _membership_count(app, riverside) == 1  # nothing yet: the job does the work

    with app.app_context():
        SimpleWorker([get_queue()], connection=redis_connection()).work(burst=True)
        db.session.remove()

    page = alice_client.get(f"/communities/{riverside}/imports/{import_id}").get_data(as_text=True)
    assert "Done: 10000 members imported." in page
    assert '<meta http-equiv="refresh"' not in page
    assert _membership_count(app, riverside) == 10_001
    with app.app_context():
        record = db.session.get(MemberImport, import_id)
        assert (record.status, record.processed, record.created_count) == ("done", 10_000, 10_000)
        assert db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.organization_id.is_not(None))) >= 10_000
    community_page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "Organization 7 <span class=\"count\">(250 members)</span>" in community_page
