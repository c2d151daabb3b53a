"""A whole community as one zip: files people can read (CSV, Markdown, calendar, a printable report) and
community.json, every row by table, which `flask communities import` loads into another instance.

manifest.json says what the file is (FORMAT), which schema revision wrote it
(an instance refuses a file from a newer one) and the export's own id (the
same file is imported once per instance).
"""
import io
import json
import uuid
import zipfile
from collections import defaultdict

from alembic.script import ScriptDirectory
from flask import current_app, render_template
from flask_babel import get_locale, gettext as _
from sqlalchemy import func, select

from service import audit, charters, community_data, community_report, csv_export, moments, svg_charts
from service.clock import now
from service.extensions import db
from service.form_review import local_moment
from service.ical import published_calendar
from service.markdown_text import escape_markdown
from service.models import (AuditEvent, Charter, Community, Coordinator, FormRequest, Invitation, Lesson, Meeting,
                            Member, Membership, Organization, Practice)

FORMAT = "cop-community-export"
FORMAT_VERSION = 1
MANIFEST, DATA = "manifest.json", "community.json"


def _script() -> ScriptDirectory:
    return ScriptDirectory(current_app.extensions["migrate"].directory)


def schema_revision() -> str:
    """The migration head this code's schema is at (several heads, joined, while branches are unmerged)."""
    return "+".join(sorted(_script().get_heads()))


def known_revisions() -> set[str]:
    return {script.revision for script in _script().walk_revisions()}


def export_zip(actor: Coordinator | None, community: Community) -> tuple[str, bytes]:
    """(file name, zip bytes) of the whole community; audited (the caller commits)."""
    audit.record(actor, "community.export", "community", community.id, community.id)
    db.session.flush()  # the export's own event is in its audit trail
    files = Files(community)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as output:
        for name, content in files.all():
            output.writestr(name, content)
    stamp = now().strftime("%Y%m%d")
    return f"{csv_export.slug(community.name, 'community')}-{stamp}.zip", archive.getvalue()


class Files:
    """Each file of one community's export, by name."""

    def __init__(self, community: Community):
        self.community = community

    def all(self):
        yield MANIFEST, json.dumps(self.manifest(), indent=2)
        yield DATA, json.dumps({"tables": community_data.community_rows(self.community.id)}, ensure_ascii=False)
        yield "README.txt", self.readme()
        yield "members.csv", self.members()
        yield "organizations.csv", self.organizations()
        yield "meetings.csv", self.meetings()
        yield "rsvps.csv", self.rsvps()
        yield "meetings.ics", published_calendar(self._meetings())
        for form_request in db.session.scalars(select(FormRequest).where(
                FormRequest.community_id == self.community.id).order_by(FormRequest.id)):
            yield (f"forms/{form_request.id}-{csv_export.filename(form_request)}",
                   csv_export.export(form_request, self.community))
        for charter in db.session.scalars(select(Charter).where(
                Charter.community_id == self.community.id).order_by(Charter.version)):
            yield f"charter/version-{charter.version}.md", charters.markdown(self.community, charter)
        yield "practices.md", self.practices()
        for lesson in db.session.scalars(select(Lesson).where(Lesson.id == self.community.lesson_id)):
            yield f"lessons/{csv_export.slug(lesson.slug, 'lesson')}.md", lesson_markdown(lesson)
        yield "audit.csv", self.audit()
        yield "report.html", self.report()

    def manifest(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "schema_revision": schema_revision(),
                "export_id": uuid.uuid4().hex, "exported_at": now().isoformat(),
                "community": {"id": self.community.id, "name": self.community.name}}

    def _local(self, moment) -> str:
        """A moment in a CSV: the community's wall-clock time, which the column's heading names."""
        local = local_moment(moment, self.community.time_zone)
        return local.strftime("%Y-%m-%d %H:%M") if local else ""

    def _written(self, moment) -> str:
        """A moment in a document people read (the practices, the report), as the pages write it."""
        return moments.text(moment, self.community.time_zone, str(get_locale()))

    def readme(self) -> str:
        return render_template("exports/README.txt", community=self.community, zone=self.community.time_zone)

    def members(self) -> bytes:
        rows = db.session.execute(
            select(Membership, Member, Organization.name).join(Member, Membership.member_id == Member.id)
            .outerjoin(Organization, Membership.organization_id == Organization.id)
            .where(Membership.community_id == self.community.id).order_by(func.lower(Membership.name)))
        return csv_export.table(
            [_("Name"), _("Email"), _("Organization"), _("Role"), _("Language"), _("Status here"),
             _("Email status"), _("Willing to facilitate"), _("Joined (%(zone)s)", zone=self.community.time_zone)],
            ([membership.name, member.email, organization or "", membership.role, membership.language,
              membership.status, member.status, _("yes") if membership.willing_to_facilitate else _("no"),
              self._local(membership.created_at)] for membership, member, organization in rows))

    def organizations(self) -> bytes:
        rows = db.session.execute(
            select(Organization.name, Organization.contact_email, func.count(Membership.id))
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.community_id == self.community.id)
            .group_by(Organization.id, Organization.name, Organization.contact_email).order_by(Organization.name))
        return csv_export.table([_("Organization"), _("Contact email"), _("Members here")], rows)

    def _meetings(self) -> list[Meeting]:
        return list(db.session.scalars(select(Meeting).where(Meeting.community_id == self.community.id)
                                       .order_by(Meeting.starts_at, Meeting.id)))

    def meetings(self) -> bytes:
        tallies: dict[int, dict] = defaultdict(lambda: defaultdict(int))
        for meeting_id, answer, attended in db.session.execute(
                select(Invitation.meeting_id, Invitation.answer, Invitation.attended).join(Meeting)
                .where(Meeting.community_id == self.community.id)):
            tally = tallies[meeting_id]
            tally["invited"] += 1
            tally[answer or "none"] += 1
            tally["attended"] += attended is True
        return csv_export.table(
            [_("Meeting"), _("Starts (%(zone)s)", zone=self.community.time_zone), _("Minutes"), _("Place"),
             _("Video link"), _("Status"), _("Facilitator"), _("Invited"), _("Yes"), _("Maybe"), _("No"),
             _("No answer"), _("Attended"), _("Agenda")],
            ([meeting.title, self._local(meeting.starts_at), meeting.duration_minutes, meeting.location,
              meeting.video_url, meeting.status, meeting.facilitator.email if meeting.facilitator else "",
              *(tallies[meeting.id][key] for key in ("invited", "yes", "maybe", "no", "none", "attended")),
              meeting.agenda] for meeting in self._meetings()))

    def rsvps(self) -> bytes:
        meetings = {meeting.id: (meeting.title, self._local(meeting.starts_at)) for meeting in self._meetings()}
        rows = db.session.execute(  # columns, not entities: one invitation per member per meeting adds up
            select(Invitation.meeting_id, Member.email, Invitation.answer, Invitation.note, Invitation.answered_at,
                   Invitation.attended).join(Member, Invitation.member_id == Member.id)
            .where(Invitation.meeting_id.in_(list(meetings)))
            .order_by(Invitation.meeting_id, Member.email))
        attended = {True: _("yes"), False: _("no"), None: ""}
        order = {meeting_id: index for index, meeting_id in enumerate(meetings)}
        return csv_export.table(
            [_("Meeting"), _("Starts (%(zone)s)", zone=self.community.time_zone), _("Email"), _("Answer"),
             _("Note"), _("Answered at"), _("Attended")],
            ([*meetings[meeting_id], email, answer or "", note, self._local(answered_at), attended[came]]
             for meeting_id, email, answer, note, answered_at, came in
             sorted(rows, key=lambda row: (order[row[0]], row[1]))))

    def practices(self) -> str:
        items = db.session.scalars(select(Practice).where(Practice.community_id == self.community.id)
                                   .order_by(Practice.created_at, Practice.id))
        return render_template("exports/practices.md", practices=list(items), local=self._written,
                               community_name=escape_markdown(self.community.name), escape=escape_markdown)

    def audit(self) -> bytes:
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.community_id == self.community.id)
                                    .order_by(AuditEvent.created_at, AuditEvent.id))
        return csv_export.table(
            [_("When (%(zone)s)", zone=self.community.time_zone), _("Who"), _("Action"), _("Object"),
             _("Object id"), _("Details")],
            ([self._local(event.created_at), event.actor, event.action, event.object_type, event.object_id,
              json.dumps(event.details, ensure_ascii=False, default=str)] for event in events))

    def report(self) -> str:
        figures = community_report.monthly_figures(self.community)
        charts = {name: svg_charts.bar_chart(list(zip(figures.months, figures.series[name])),
                                             title=str(label), value_label=_short_month)
                  for name, label in community_report.FIGURES.items()}
        return render_template("exports/report.html", community=self.community, figures=figures, charts=charts,
                               labels=community_report.FIGURES, generated=self._written(now()))


def lesson_markdown(lesson: Lesson) -> str:
    """A lesson's modules in English and Spanish, as the Markdown their bodies were written in."""
    return render_template("exports/lesson.md", lesson=lesson, languages=("en", "es"), escape=escape_markdown)


def _short_month(month: str) -> str:
    """"2026-01" as "1/26": what fits under a bar of a two-year chart."""
    return f"{int(month[5:])}/{month[2:4]}"
