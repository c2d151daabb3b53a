"""The public interest form (/join/<token>) and the coordinator's intake queue: accept or decline each entry.

The public page needs no login: the signed link names the community. GET
shows the form; POST stores a pending entry and thanks the person. Bots are
kept out by a rate limit per address, a honeypot field and a signed
"form shown at" stamp; a bot that trips one gets the same thank-you page and
nothing is stored.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required

from forms.intake import AcceptForm, DeclineForm, IntakeForm
from service import intake, moments
from service.errors import DomainError
from service.extensions import db, limiter
from service.models import Community, IntakeEntry
from service.views.helpers import community_or_404, show_domain_error
from service.views.member_pages import speak

public_bp = Blueprint("intake_public", __name__, url_prefix="/join")

bp = Blueprint("intake", __name__, url_prefix="/communities/<int:community_id>/intake")


# --- public ---------------------------------------------------------------------------------------

def _post_limit() -> str:
    return current_app.config.get("INTAKE_POST_RATE_LIMIT", "5 per hour")


def _page_language() -> str:
    """?lang=es or ?lang=en wins; otherwise the browser's preference."""
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang")
    if asked in languages:
        return asked
    return request.accept_languages.best_match(languages) or "en"


def _thanks(community: Community, token: str, language: str):
    return render_template("intake/thanks.html", community=community, token=token, language=language)


@public_bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit("60 per minute")  # on the route: a route's own limit replaces its blueprint's
@limiter.limit(_post_limit, methods=["POST"])
def join(token: str):
    community = intake.community_from_token(token)
    if community is None:
        abort(404)
    language = _page_language()
    speak(language)
    form = IntakeForm()
    if request.method == "GET":
        form.language.data = language
    elif form.website.data:  # the honeypot: only bots fill it (CSRF was already checked)
        return _thanks(community, token, language)
    elif form.validate_on_submit():
        if intake.filled_too_fast(form.rendered.data):
            form.form_errors.append(_("That was quicker than we expected. Please check your answers and send "
                                      "the form again."))
        else:
            try:
                intake.submit(community, **{name: getattr(form, name).data for name in (
                    "organization", "name", "email", "role", "hopes", "topics", "availability", "language")})
            except DomainError as error:
                db.session.rollback()
                show_domain_error(form, error)
            else:
                db.session.commit()
                return _thanks(community, token, language)
    form.rendered.data = intake.rendered_stamp()
    other = "es" if language == "en" else "en"
    return render_template("intake/join.html", form=form, community=community, token=token,
                           language=language, other_language=other), 400 if form.errors else 200


# --- dashboard ------------------------------------------------------------------------------------

def _entry_or_404(community: Community, intake_entry_id: int) -> IntakeEntry:
    entry = intake.entry_in(community, intake_entry_id)
    if entry is None:
        abort(404)
    return entry


def _back(community: Community):
    return redirect(url_for("intake.index", community_id=community.id))


@bp.app_template_global("intake_waiting")
def intake_waiting(community: Community) -> int:
    """How many interest-form entries wait for review (for the community page's link)."""
    return intake.pending_count(community)


@bp.route("/")
@login_required
def index(community_id: int):
    community = community_or_404(community_id)
    return render_template("intake/index.html", community=community, link=intake.public_link(community),
                           pending=intake.pending_for(community),
                           accepted=intake.reviewed(community, "accepted"),
                           declined=intake.reviewed(community, "declined"),
                           accept_form=AcceptForm(), decline_form=DeclineForm(), local=moments.writer(community.time_zone, str(get_locale())))


@bp.route("/<int:intake_entry_id>/accept", methods=["POST"])
@login_required
def accept(community_id: int, intake_entry_id: int):
    community = community_or_404(community_id)
    entry = _entry_or_404(community, intake_entry_id)
    if not AcceptForm().validate_on_submit():
        abort(400)
    if entry.status == "accepted":
        flash(_("%(name)s was already accepted.", name=entry.name))
        return _back(community)
    try:
        _entry, already = intake.accept(current_user, community, entry)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(community)
    db.session.commit()
    if already:
        flash(_("%(email)s is already a member of this community, so nobody was added. The entry is marked "
                "accepted.", email=entry.email))
    else:
        flash(_("%(name)s is now a member. A welcome email is on its way.", name=entry.name))
    return _back(community)


@bp.route("/<int:intake_entry_id>/decline", methods=["POST"])
@login_required
def decline(community_id: int, intake_entry_id: int):
    community = community_or_404(community_id)
    entry = _entry_or_404(community, intake_entry_id)
    if not DeclineForm().validate_on_submit():
        abort(400)
    if entry.status == "declined":
        flash(_("%(name)s was already declined.", name=entry.name))
        return _back(community)
    try:
        intake.decline(current_user, community, entry)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(community)
    db.session.commit()
    flash(_("Declined %(name)s. Nobody was emailed.", name=entry.name))
    return _back(community)
