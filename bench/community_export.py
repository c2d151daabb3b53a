"""Community export and import benchmark: one large community out as a zip and back in as a new one.

A community of 2,000 members (20 organizations) with 12 meetings that
invited all of them (24,000 invitations, a third unanswered, half attended)
and one invitation email per invitee in the outbox (24,000 rows with their
context): about 52,000 rows. Each figure is the median of 3 runs.

1. Export: `community_export.export_zip` (every file of the zip) against a
   baseline of reading the same rows with one SELECT per table and writing
   them as JSON (`community_data.owned_id_queries` picks them): the least a
   dump of those rows costs. Target: at most 4 times the baseline.
2. Import: `community_import.import_community` of that zip into the same
   instance (a copy: new ids, keys remapped, unique values prefixed), against
   a baseline of PostgreSQL COPY of the same rows into temporary tables:
   the least it costs the database to take them. Target: at most 12 times the
   baseline (the import also remaps every key, checks every value's type and
   looks for collisions).

It prints the figures and PASS/FAIL per target, and exits 0 whatever the
verdict. The database (`cop_bench_export`) and Redis db (6) are its own: it
drops and rebuilds the schema.
"""
import argparse
import io
import json
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import fanout  # noqa: E402  (database guard rails, schema reset and member set-up live there)
import report  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_export"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
EXPORT_TARGET, IMPORT_TARGET = 4.0, 12.0
RUNS = 3


def seed(app, members: int, meetings: int) -> int:
    """The community (see the module's docstring); its id."""
    from sqlalchemy import insert, select
    from service.extensions import db
    from service.models import Invitation, Meeting, Membership, Organization, OutboundEmail
    community_id = fanout.create_members(app, members)
    moment = datetime.now(timezone.utc)
    with app.app_context():
        organizations = db.session.execute(insert(Organization).returning(Organization.id), [
            {"name": f"Organization {i}", "name_key": f"organization {i}", "created_at": moment}
            for i in range(20)]).scalars().all()
        member_ids = db.session.scalars(select(Membership.member_id).where(
            Membership.community_id == community_id).order_by(Membership.member_id)).all()
        for index, organization_id in enumerate(organizations):
            db.session.execute(Membership.__table__.update().where(Membership.member_id % 20 == index)
                               .values(organization_id=organization_id))
        for number in range(meetings):
            meeting = Meeting(community_id=community_id, uid=f"{uuid.uuid4()}@bench.example.org",
                              title=f"Monthly call {number + 1}", starts_at=moment - timedelta(days=30 * number))
            db.session.add(meeting)
            db.session.flush()
            db.session.execute(insert(Invitation), [
                {"meeting_id": meeting.id, "member_id": member_id, "answer": ("yes", "no", None)[member_id % 3],
                 "attended": bool(member_id % 2), "note": "", "created_at": moment} for member_id in member_ids])
            db.session.execute(insert(OutboundEmail), [
                {"kind": "meeting_invitation", "community_id": community_id, "member_id": member_id,
                 "recipient": f"member{member_id}@example.org", "idempotency_key": f"invite:{meeting.id}:{member_id}",
                 "context": {"meeting_id": meeting.id}, "status": "sent", "attempts": 1, "created_at": moment,
                 "updated_at": moment, "sent_at": moment} for member_id in member_ids])
        db.session.commit()
    return community_id


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def baseline_export(community_id: int) -> int:
    """One SELECT per table of the community's rows, written as JSON; bytes written."""
    from sqlalchemy import select
    from service import community_data
    from service.extensions import db
    tables = community_data.tables()
    out = {}
    for name, ids in community_data.owned_id_queries(community_id).items():
        table = tables[name]
        out[name] = [list(row) for row in db.session.execute(select(table).where(table.c.id.in_(ids)))]
    return len(json.dumps(out, default=str))


def baseline_import(data: bytes) -> int:
    """COPY of the export's rows, as they are, into temporary tables shaped like ours; rows copied."""
    import zipfile
    from service.extensions import db
    tables = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("community.json"))["tables"]
    connection = db.session.connection().connection.driver_connection
    copied = 0
    with connection.cursor() as cursor:
        for name, rows in tables.items():
            if not rows:
                continue
            columns = list(rows[0])
            cursor.execute(f'CREATE TEMP TABLE "bench_{name}" (LIKE "{name}") ON COMMIT DROP')
            quoted = ", ".join(f'"{column}"' for column in columns)
            with cursor.copy(f'COPY "bench_{name}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([json.dumps(value) if isinstance(value, (dict, list)) else value
                                    for value in row.values()])
            copied += len(rows)
    db.session.commit()
    return copied


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--meetings", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="500 members, 4 meetings")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_EXPORT")
    args, _unknown = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    members, meetings = (500, 4) if args.quick else (args.members, args.meetings)
    fanout.prepare_targets(args)
    import os
    os.environ.update({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url})
    from service import community_export, community_import, create_app
    from service.extensions import db
    from service.models import Community
    app = create_app()
    fanout.reset_schema(app)
    community_id = seed(app, members, meetings)
    with app.app_context():
        community = db.session.get(Community, community_id)
        exports, base_exports, imports, base_imports, rows = [], [], [], [], 0
        for _run in range(RUNS):
            seconds, (_name, data) = timed(lambda: community_export.export_zip(None, community))
            db.session.commit()
            exports.append(seconds)
            base_exports.append(timed(lambda: baseline_export(community_id))[0])
            seconds, rows = timed(lambda: baseline_import(data))
            base_imports.append(seconds)
            seconds, _copy = timed(lambda: community_import.import_community(None, io.BytesIO(data)))
            db.session.commit()
            imports.append(seconds)
    export_s, base_export_s = statistics.median(exports), statistics.median(base_exports)
    import_s, base_import_s = statistics.median(imports), statistics.median(base_imports)
    print(f"community: {members} members, {meetings} meetings, {rows} rows in community.json, "
          f"zip {len(data) / 1e6:.1f} MB")
    print(f"export: {export_s:.2f} s; baseline (SELECT + JSON) {base_export_s:.2f} s; "
          f"ratio {export_s / base_export_s:.1f}")
    print(f"import: {import_s:.2f} s; baseline (COPY into temporary tables) {base_import_s:.2f} s; "
          f"ratio {import_s / base_import_s:.1f}")
    fanout.print_verdicts([
        report.figure("export / baseline", export_s / base_export_s, "<=", EXPORT_TARGET,
                      baseline=f"SELECT + JSON, {base_export_s:.2f} s",
                      text=f"export at most {EXPORT_TARGET:g} times the baseline ({export_s / base_export_s:.1f})"),
        report.figure("import / baseline", import_s / base_import_s, "<=", IMPORT_TARGET,
                      baseline=f"COPY into temporary tables, {base_import_s:.2f} s",
                      text=f"import at most {IMPORT_TARGET:g} times the baseline ({import_s / base_import_s:.1f})"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
