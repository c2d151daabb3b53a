"""Pages members reach from links in emails: unsubscribe and preferences (and a test copy's stand-in for them).

GET and HEAD never change anything (mail scanners open every link); the change
happens on POST. The unsubscribe POST is RFC 8058's one-click: it needs no
cookie or CSRF token (the signed token is the authority), answers 200 and
never redirects.
"""
from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from forms.preferences import conversations_field_name, preferences_form
from forms import choices
from service import facilitation, preferences, test_copies
from service.conversations.choices import set_choice
from service.views.conversation_links import mute_box
from service.errors import DomainError
from service.extensions import csrf, db, limiter
from service.tokens import make_token
from service.views.helpers import show_domain_error
from service.views.member_pages import bad_link, member_from_link, speak

bp = Blueprint("member_links", __name__, url_prefix="/m")
limiter.limit("60 per minute")(bp)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    member = member_from_link("unsubscribe", token)
    if member is None:
        return bad_link()
    if request.method == "POST":
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        preferences.unsubscribe(member, via="one-click" if one_click else "page")
        db.session.commit()
        return render_template("member/unsubscribed.html", member=member, token=token), 200
    return render_template("member/unsubscribe.html", member=member, token=token,
                           communities=[m.community.name for m in facilitation.memberships_of(member)],
                           preferences_token=make_token("preferences", member.id))


@bp.route("/unsubscribe/<token>/undo", methods=["POST"])
@csrf.exempt
def resubscribe(token: str):
    member = member_from_link("unsubscribe", token)
    if member is None:
        return bad_link()
    preferences.resubscribe(member)
    db.session.commit()
    return render_template("member/resubscribed.html", member=member)


@bp.route("/preferences/<token>", methods=["GET", "POST"], endpoint="preferences")
def preferences_page(token: str):
    member = member_from_link("preferences", token)
    if member is None:
        return bad_link()
    memberships = facilitation.memberships_of(member)
    form = preferences_form(memberships, {"name": member.name, "digest_frequency": member.digest_frequency,
                                          "language": member.language, "paused": member.paused,
                                          "facilitate": [m.id for m in memberships if m.willing_to_facilitate]})
    form.facilitate.choices = form.leave.choices = choices((m.id, m.community.name) for m in memberships)
    saved = False
    if form.validate_on_submit():
        try:
            preferences.update_preferences(member, name=form.name.data, digest_frequency=form.digest_frequency.data,
                                           language=form.language.data, paused=form.paused.data)
            left = preferences.leave_communities(member, form.leave.data)
            facilitation.set_willing_as_member(member, form.facilitate.data)
            for membership in memberships:
                set_choice(membership, form[conversations_field_name(membership)].data, via="page")
        except DomainError as error:
            show_domain_error(form, error)
        else:
            db.session.commit()
            speak(member.language)
            saved = True
            if left:  # the page lists only the communities still writing
                form.leave.data = []
                memberships = facilitation.memberships_of(member)
                form.facilitate.choices = form.leave.choices = choices((m.id, m.community.name) for m in memberships)
    return render_template("member/preferences.html", form=form, member=member, saved=saved, memberships=memberships,
                           conversations_field=conversations_field_name, token=token,
                           muting=mute_box(member, request.args.get("mute")),
                           unsubscribe_token=make_token("unsubscribe", member.id)), 400 if form.errors else 200



@bp.route("/test-copy/<action>")
@login_required  # test copies go to coordinators only
def test_copy(action: str):
    """Where a link in a coordinator's test copy leads: what it would let the member do. Changes nothing."""
    described = test_copies.action_of(action)
    if described is None:
        abort(404)
    return render_template("member/test_copy.html", action=described)
