"""Importing members from a CSV file: validate everything, import nothing until confirmed.

A coordinator uploads a file and sees a preview listing each bad row and why.
Confirming imports the valid rows: small files at once, large ones in an RQ
job that reports progress on the import's row.
"""
import csv
import io
import re

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from service import audit, mailer, normalize
from service.errors import DomainError
from service.extensions import db
from service.members import NAME_MAX_LENGTH, organization_named, send_welcomes
from service.models import Community, Coordinator, Member, MemberImport, Membership

# Header names we accept for each column, English and Spanish, compared case-insensitively.
COLUMN_ALIASES = {
    "name": ("name", "full name", "nombre"),
    "email": ("email", "e-mail", "email address", "correo", "correo electrónico", "correo electronico"),
    "organization": ("organization", "organisation", "organización", "organizacion"),
    "language": ("language", "idioma"),
    "role": ("role", "rol"),
}
REQUIRED_COLUMNS = ("name", "email")
LANGUAGE_VALUES = {"": "en", "en": "en", "english": "en", "inglés": "en", "ingles": "en",
                   "es": "es", "spanish": "es", "español": "es", "espanol": "es"}
ROLE_VALUES = {"": "member", "member": "member", "miembro": "member",
               "facilitator": "facilitator", "facilitador": "facilitator", "facilitadora": "facilitator",
               "leader": "leader", "líder": "leader", "lider": "leader"}
CHUNK = 500


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(_("The file is not UTF-8 text. In Excel choose “CSV UTF-8” when you save it.")) from None
    if "\x00" in text:  # UTF-16 or a spreadsheet, not CSV text; PostgreSQL would refuse the NULs anyway
        raise DomainError(_("The file is not UTF-8 text. In Excel choose “CSV UTF-8” when you save it."))
    return text


def _header_map(header: list[str]) -> dict[str, int]:
    found = {}
    for index, title in enumerate(header):
        key = title.strip().lower()
        for column, aliases in COLUMN_ALIASES.items():
            if key in aliases and column not in found:
                found[column] = index
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        raise DomainError(_("The file has no %(columns)s column. The first line must name the columns: "
                            "name, email, organization, language, role.", columns=", ".join(missing)))
    return found


def _reader(text: str):
    """A reader for Excel-style CSV separated by the delimiter the header line uses most.

    Semicolons come from Excel in locales with a decimal comma (Spanish among
    them), tabs from copying out of a spreadsheet. Only the delimiter is
    guessed: csv.Sniffer also guesses the quote character and takes a name
    such as 'Ohana for one. newline="" keeps old Mac files (CR only) readable.
    """
    header = re.match(r"[^\r\n]*", text).group()
    delimiter = max(",;\t", key=header.count)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)


def parse_rows(community: Community, data: bytes) -> tuple[list[dict], list[dict], int]:
    """Validate a CSV file: (rows to import, problems per bad line, data rows read)."""
    reader = _reader(_decode(data))
    try:
        header = next(reader)
    except StopIteration:
        raise DomainError(_("The file is empty.")) from None
    except csv.Error as exc:
        raise DomainError(_("The file is not a readable CSV file (%(error)s).", error=str(exc))) from None
    columns = _header_map(header)
    existing = set(db.session.scalars(
        select(Member.email).join(Membership).where(Membership.community_id == community.id)))
    seen: dict[str, int] = {}
    rows, problems, total = [], [], 0
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            total += 1
            line = reader.line_num
            row, reasons = _check_row(cells, columns, seen, existing, line)
            if reasons:
                problems.append({"line": line, "email": row.get("email") or "", "reasons": reasons})
            else:
                rows.append(row)
    except csv.Error as exc:
        raise DomainError(_("Line %(line)d is not valid CSV (%(error)s).", line=reader.line_num, error=str(exc))) from None
    return rows, problems, total


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return normalize.text(cells[index]) if index is not None and index < len(cells) else ""


def _check_row(cells, columns, seen, existing, line) -> tuple[dict, list[str]]:
    reasons = []
    raw_email = _cell(cells, columns, "email")
    row = {"name": _cell(cells, columns, "name"), "email": raw_email,
           "organization": _cell(cells, columns, "organization")}
    if not row["name"]:
        reasons.append(_("name is missing"))
    elif len(row["name"]) > NAME_MAX_LENGTH:
        reasons.append(_("name is longer than %(n)d characters", n=NAME_MAX_LENGTH))
    if len(row["organization"]) > NAME_MAX_LENGTH:
        reasons.append(_("organization is longer than %(n)d characters", n=NAME_MAX_LENGTH))
    try:
        row["email"] = normalize.email_address(raw_email)
    except DomainError as error:
        reasons.append(error.message if raw_email else _("email is missing"))
    else:
        if row["email"] in seen:
            reasons.append(_("duplicate of line %(line)d in this file", line=seen[row["email"]]))
        elif row["email"] in existing:
            reasons.append(_("already a member of this community"))
        seen.setdefault(row["email"], line)
    language = _cell(cells, columns, "language")
    if language.lower() in LANGUAGE_VALUES:
        row["language"] = LANGUAGE_VALUES[language.lower()]
    else:
        reasons.append(_("unknown language “%(value)s” (use en or es)", value=language))
    role = _cell(cells, columns, "role")
    if role.lower() in ROLE_VALUES:
        row["role"] = ROLE_VALUES[role.lower()]
    else:
        reasons.append(_("unknown role “%(value)s” (use member, facilitator or leader)", value=role))
    return row, reasons


def preview_import(actor: Coordinator, community: Community, filename: str, data: bytes) -> MemberImport:
    """Validate an uploaded file and keep the result for the coordinator to confirm."""
    if len(data) > current_app.config["IMPORT_MAX_BYTES"]:
        raise DomainError(_("The file is larger than %(mb)d MB.", mb=current_app.config["IMPORT_MAX_BYTES"] // 2**20))
    rows, problems, total = parse_rows(community, data)
    if total == 0:
        raise DomainError(_("The file has a header line but no members."))
    record = MemberImport(community_id=community.id, coordinator_id=actor.id, filename=filename[:255],
                          total_rows=total, valid_rows=rows, problems=problems)
    db.session.add(record)
    db.session.flush()
    return record


def welcome_recipients(record: MemberImport) -> tuple[int, int]:
    """For the preview: (how many new members the welcome email would reach, how many it would not because
    the person unsubscribed, bounces or paused all email)."""
    emails = [row["email"] for row in record.valid_rows]
    unreachable = set(mailer.suppressed_addresses(emails))
    for start in range(0, len(emails), 1000):
        unreachable.update(db.session.scalars(select(Member.email).where(
            Member.email.in_(emails[start:start + 1000]), (Member.status != "active") | Member.paused)))
    return len(emails) - len(unreachable), len(unreachable)


def confirm_import(actor: Coordinator, record: MemberImport, send_welcome: bool = False) -> MemberImport:
    """Import the valid rows: at once when few, otherwise in an RQ job after commit.

    With `send_welcome`, each member the import adds gets the welcome email,
    as one added by hand does; someone already in the community gets none.
    """
    if record.status != "previewed":
        raise DomainError(_("This import has already been confirmed."))
    if not record.valid_rows:
        raise DomainError(_("There are no valid rows to import."))
    # Claim it in the database: a double click or a second tab holding a stale copy is refused here.
    claimed = db.session.execute(update(MemberImport).where(
        MemberImport.id == record.id, MemberImport.status == "previewed").values(status="queued"))
    if claimed.rowcount != 1:
        raise DomainError(_("This import has already been confirmed."))
    record.status, record.send_welcome = "queued", send_welcome
    audit.record(actor, "import.confirm", "member_import", record.id, record.community_id,
                 filename=record.filename, rows=len(record.valid_rows), welcome=send_welcome)
    if len(record.valid_rows) <= current_app.config["IMPORT_INLINE_MAX_ROWS"]:
        run_import(record)
    else:
        from service.queue import enqueue_after_commit
        enqueue_after_commit("jobs.imports.import_members", record.id)
    return record


def run_import(record: MemberImport) -> None:
    """Create the memberships of a confirmed import in chunks, committing progress as it goes.

    Rows whose address joined the community since the preview are skipped, so
    running an import twice never creates a member twice.
    """
    record.status = "running"
    rows = record.valid_rows
    community = db.session.get(Community, record.community_id)
    for start in range(0, len(rows), CHUNK):
        added = _import_chunk(record.community_id, rows[start:start + CHUNK])
        if record.send_welcome:
            db.session.flush()  # the new people's ids, for the outbox rows
            send_welcomes(community, added)
        record.created_count += len(added)
        record.processed = min(start + CHUNK, len(rows))
        db.session.commit()
    record.status = "done"
    actor = db.session.get(Coordinator, record.coordinator_id) if record.coordinator_id else None
    audit.record(actor, "import.done", "member_import", record.id, record.community_id,
                 created=record.created_count, skipped=len(rows) - record.created_count)
    db.session.commit()


def _import_chunk(community_id: int, rows: list[dict]) -> list[Member]:
    """Add each row's person to the community under the name, organization and language the file gives.

    A known address is joined as it is: the person's shared details (their own
    name, language) are left alone and nothing about them is read back here.
    """
    emails = [row["email"] for row in rows]
    members = {m.email: m for m in db.session.scalars(select(Member).where(Member.email.in_(emails)))}
    joined = set(db.session.scalars(select(Membership.member_id).where(
        Membership.community_id == community_id, Membership.member_id.in_([m.id for m in members.values()]))))
    # Organizations first: looking one up flushes whatever is pending, and doing it between
    # new members would send them to the database a few at a time instead of in one batch.
    organizations = {}
    for row in rows:
        key = row["organization"].lower()
        if key and key not in organizations:
            organizations[key] = organization_named(row["organization"])
    added = []
    for row in rows:
        member = members.get(row["email"])
        if member is None:
            member = Member(email=row["email"], name=row["name"], language=row["language"])
            db.session.add(member)
            members[row["email"]] = member
        elif member.id in joined:
            continue
        org = organizations.get(row["organization"].lower())
        db.session.add(Membership(community_id=community_id, member=member, role=row["role"], name=row["name"],
                                  language=row["language"], organization_id=org.id if org else None))
        added.append(member)
    return added
