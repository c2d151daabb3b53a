"""Charters: the coordinator's draft editor, votes and versions (dashboard), and the member's ratify page.

Dashboard: /communities/<id>/charter shows the members' answers section by
section beside the Markdown draft, its preview, the proposed version's votes
and every version; each version downloads as Markdown. Members: /m/charters/<charter id>/<token> shows that
version; while it is proposed a button approves it or asks for a change (the
change happens on POST, so a mail scanner opening the link changes nothing).
"""
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import current_user, login_required

from forms.charter_draft import (CharterDeadlineForm, CharterDraftForm, CharterRulesForm, CharterVoteForm, ConfirmForm,
                                 RatifyForm)
from service import bilingual, charter_rules, charters, lifecycle, moments
from service.clock import aware
from service.errors import DomainError
from service.extensions import db, limiter
from service.labels import STAGES
from service.markdown_text import stored_html, to_html
from service.models import Charter, Community
from service.views.helpers import community_or_404, show_domain_error
from service.views.member_pages import bad_link, member_from_link, speak

bp = Blueprint("charters", __name__, url_prefix="/communities/<int:community_id>/charter")
member_bp = Blueprint("charter_links", __name__, url_prefix="/m/charters/<int:charter_id>")
limiter.limit("60 per minute")(member_bp)

_status = charters.status_label


def _charter_or_404(community: Community, charter_id: int) -> Charter:
    charter = charters.charter_in(community, charter_id)
    if charter is None:
        abort(404)
    return charter


# --- dashboard ------------------------------------------------------------------------------------

def _page(community: Community, draft: Charter | None, form: CharterDraftForm, preview_html,
          rules_form: CharterRulesForm | None = None, ratify_form: RatifyForm | None = None,
          deadline_form: CharterDeadlineForm | None = None):
    """The charter page; 400 when one of its forms comes back with errors."""
    proposal = charters.proposed(community)
    rules_form = rules_form or CharterRulesForm(data={
        "quorum": charter_rules.as_percent(community.charter_quorum),
        "approval": charter_rules.as_percent(community.charter_approval)})
    ratify_form = ratify_form or RatifyForm()
    deadline_form = deadline_form or CharterDeadlineForm(data={"deadline": _local_day(community, proposal)})
    failed = any(f.errors for f in (form, rules_form, ratify_form, deadline_form))
    return render_template(
        "charters/index.html", community=community, draft=draft, form=form, preview_html=preview_html,
        readers=bilingual.readers(community),
        sections=charters.answers_by_section(community), respondents=charters.respondents(community),
        proposal=proposal, proposal_votes=charters.votes(proposal) if proposal else None,
        tally=charter_rules.tally(proposal) if proposal else None,
        reminder_due=charter_rules.reminder_due(proposal) if proposal else None,
        rules_form=rules_form, ratify_form=ratify_form, deadline_form=deadline_form,
        as_percent=charter_rules.as_percent,
        in_force=charters.ratified(community), versions=charters.versions(community),
        confirm_form=ConfirmForm(), status_label=_status, local=moments.writer(community.time_zone, str(get_locale()))), \
        400 if failed else 200


def _local_day(community: Community, charter: Charter | None):
    """The day a proposal's voting closes, in the community's time zone (None without a deadline)."""
    if charter is None or charter.deadline_at is None:
        return None
    return aware(charter.deadline_at).astimezone(ZoneInfo(community.time_zone)).date()


def _page_with_draft(community: Community, **forms):
    """The charter page with the saved draft, when another of its forms (rules, ratify) shows an error."""
    draft = charters.current_draft(community)
    return _page(community, draft, _draft_form(community, draft), _saved_previews(draft), **forms)


def _draft_form(community: Community, draft: Charter | None) -> CharterDraftForm:
    """The editor with the saved text and, to propose, a deadline two weeks ahead."""
    return CharterDraftForm(data={"body": draft.body if draft else "", "body_es": draft.body_es if draft else "",
                                  "deadline": charter_rules.default_deadline_day(community)})


def _saved_previews(draft: Charter | None) -> dict:
    """The draft as members will read it, in each language (as stored when saved)."""
    return {"en": stored_html(draft.body_html if draft else ""), "es": stored_html(draft.body_html_es if draft else "")}


def _typed_previews(form: CharterDraftForm) -> dict:
    return {"en": to_html(form.body.data or ""), "es": to_html(form.body_es.data or "")}


@bp.route("", methods=["GET", "POST"])
@login_required
def index(community_id: int):
    """The draft editor (Save, Preview, Propose), the proposed version's votes, and the version history."""
    community = community_or_404(community_id)
    draft = charters.current_draft(community)
    db.session.commit()  # keeps version 1 if it was just created
    form = _draft_form(community, draft)
    preview_html = _saved_previews(draft)
    if request.method == "POST":
        if draft is None:
            flash(_("This version was already proposed, so it can no longer change. "
                    "Start a new version to edit it."), "error")
            return redirect(url_for("charters.index", community_id=community.id))
        action = request.form.get("action", "save")
        if form.validate_on_submit():
            if action == "preview":
                preview_html = _typed_previews(form)  # shown below, not saved
            else:
                try:
                    queued = None
                    if action == "propose":  # the deadline is checked before anything is saved
                        deadline_at = charter_rules.deadline_from_date(community, form.deadline.data)
                    charters.save_draft(current_user, draft, form.body.data, form.body_es.data)
                    if action == "propose":
                        queued = charters.propose(current_user, draft, deadline_at)
                except DomainError as error:
                    db.session.rollback()
                    show_domain_error(form, error)
                    preview_html = _typed_previews(form)  # what was typed, not saved
                else:
                    db.session.commit()
                    if queued is None:
                        flash(_("Draft saved."))
                    else:
                        flash(ngettext("Version %(version)d proposed. %(num)d member gets it by email.",
                                       "Version %(version)d proposed. %(num)d members get it by email.",
                                       queued, version=draft.version))
                    return redirect(url_for("charters.index", community_id=community.id))
    return _page(community, draft, form, preview_html)


@bp.route("/rules", methods=["POST"])
@login_required
def rules(community_id: int):
    """The community's voting rules: quorum and approval threshold, in percent."""
    community = community_or_404(community_id)
    rules_form = CharterRulesForm()
    if rules_form.validate_on_submit():
        try:
            changed = charter_rules.set_rules(current_user, community, rules_form.quorum.data,
                                              rules_form.approval.data)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(rules_form, error)
        else:
            db.session.commit()
            flash(_("Voting rules saved.") if changed else _("The voting rules are unchanged."))
            return redirect(url_for("charters.index", community_id=community.id, _anchor="rules"))
    return _page_with_draft(community, rules_form=rules_form)


@bp.route("/new-version", methods=["POST"])
@login_required
def new_version(community_id: int):
    """Start a new draft from the latest text (withdrawing a version still being voted on)."""
    community = community_or_404(community_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        charter = charters.new_version(current_user, community)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("Version %(version)d is a new draft. Edit it, then propose it.", version=charter.version))
    return redirect(url_for("charters.index", community_id=community.id))


@bp.route("/versions/<int:charter_id>")
@login_required
def version(community_id: int, charter_id: int):
    """One version as it was proposed or ratified, with its votes."""
    community = community_or_404(community_id)
    charter = _charter_or_404(community, charter_id)
    return render_template("charters/version.html", community=community, charter=charter,
                           charter_html=stored_html(charter.body_html), charter_votes=charters.votes(charter),
                           charter_html_es=stored_html(charter.body_html_es),
                           confirm_form=ConfirmForm(), status_label=_status,
                           local=moments.writer(community.time_zone, str(get_locale())))


@bp.route("/versions/<int:charter_id>/charter.md")
@login_required
def export(community_id: int, charter_id: int):
    """One version as a Markdown file to keep or share elsewhere: its text, status, dates and who approved."""
    community = community_or_404(community_id)
    charter = _charter_or_404(community, charter_id)
    text = charters.markdown(community, charter)
    filename = f"charter-{community.id}-v{charter.version}.md"
    return Response(text, mimetype="text/markdown",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/versions/<int:charter_id>/deadline", methods=["POST"])
@login_required
def deadline(community_id: int, charter_id: int):
    """Move a proposal's voting deadline (answers reopen if it had passed)."""
    community = community_or_404(community_id)
    charter = _charter_or_404(community, charter_id)
    deadline_form = CharterDeadlineForm()
    if deadline_form.validate_on_submit():
        try:
            charter_rules.change_deadline(current_user, charter, deadline_form.deadline.data)
        except DomainError as error:
            db.session.rollback()
            show_domain_error(deadline_form, error)
        else:
            db.session.commit()
            flash(_("Voting now closes %(when)s.", when=charter_rules.deadline_text(charter, community, str(get_locale()))))
            return redirect(url_for("charters.index", community_id=community.id))
    return _page_with_draft(community, deadline_form=deadline_form)


@bp.route("/versions/<int:charter_id>/ratify", methods=["POST"])
@login_required
def ratify(community_id: int, charter_id: int):
    """Ratify a proposed version; below the rules only with the coordinator's reason (shown beside the field)."""
    community = community_or_404(community_id)
    charter = _charter_or_404(community, charter_id)
    ratify_form = RatifyForm()
    if not ratify_form.validate_on_submit():
        if ratify_form.csrf_token.errors:
            abort(400)
    else:
        try:
            charters.ratify(current_user, charter, ratify_form.reason.data or "")
        except DomainError as error:
            db.session.rollback()
            if charter.status != "proposed":
                flash(error.message, "error")
                return redirect(url_for("charters.index", community_id=community.id))
            show_domain_error(ratify_form, error)
        else:
            db.session.commit()
            flash(_("Version %(version)d is ratified: it is the community's charter now. Members get it by email.",
                    version=charter.version))
            suggestion = lifecycle.checklist(community).suggestion
            if suggestion is not None:
                flash(_("The community's data now suggests the stage %(stage)s: confirm it on the community page.",
                        stage=STAGES[suggestion.stage]))
            return redirect(url_for("charters.index", community_id=community.id))
    return _page_with_draft(community, ratify_form=ratify_form)


# --- member page ----------------------------------------------------------------------------------

@member_bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def show(charter_id: int, token: str):
    """A charter version for a member: while proposed, approve it or ask for a change; afterwards read it."""
    member = member_from_link("charter", token, object_id=charter_id)
    if member is None:
        return bad_link()
    charter = db.session.get(Charter, charter_id)
    if charter is None:
        abort(404)
    community = db.session.get(Community, charter.community_id)
    belongs = charters.is_member(community.id, member)
    existing = charters.vote_of(charter, member)
    form = CharterVoteForm(data={"comment": existing.comment if existing else ""})
    error, saved = None, False
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                existing = charters.vote(charter, member, request.form.get("decision", ""), form.comment.data)
            except DomainError as problem:
                db.session.rollback()
                if problem.field == "comment":
                    form.comment.errors = list(form.comment.errors) + [problem.message]
                else:
                    error = problem.message
            else:
                db.session.commit()
                saved = True
    newer = None
    if charter.status != "proposed" and belongs:
        current = charters.proposed(community) or charters.ratified(community)
        if current is not None and current.id != charter.id:
            newer = {"charter": current, "url": charters.member_url(current, member)}
    status = 400 if (form.errors or error) else 200
    closed = charter_rules.is_closed(charter)
    shown = bilingual.for_member(charter, member, community)  # the text in the member's language
    speak(shown.language)
    return render_template("member/charter_show.html", community=community, charter=shown, member=member,
                           charter_html=stored_html(shown.body_html), written_in=shown.written_in,
                           form=form, vote=existing, saved=saved, error=error,
                           can_vote=charter.status == "proposed" and belongs and not closed, belongs=belongs,
                           closed=closed, newer=newer,
                           status_label=_status), status
