"""Dashboard: adding, editing, deactivating and reactivating a community's members."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from forms import choices
from forms.member import FREQUENCY_CHOICES, LANGUAGE_CHOICES, ConfirmForm, MemberEditForm, NewMemberForm
from service import digests, facilitation, member_list, members
from service.extensions import db
from service.models.members import ROLES
from service.views import kept_pages
from service.views.helpers import community_or_404, membership_or_404, saved

# The person's own details on the edit form, read-only for a coordinator who may not change them.
PERSON_FIELDS = ("name", "email", "language", "digest_frequency")
SORT_LABELS = {"name": _l("Name"), "organization": _l("Organization"), "joined": _l("Newest first")}

bp = Blueprint("members", __name__, url_prefix="/communities/<int:community_id>/members")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def add(community_id: int):
    community = community_or_404(community_id)
    form = NewMemberForm()
    membership = saved(form, lambda: members.add_member(
        current_user, community, name=form.name.data, email=form.email.data, organization=form.organization.data,
        language=form.language.data, role=form.role.data, welcome=form.send_welcome.data))
    if membership is not None:
        flash(_("%(name)s was added.", name=membership.name))  # as saved, not as typed
        return redirect(url_for("communities.show", community_id=community.id))
    return render_template("members/form.html", form=form, community=community, membership=None), \
        400 if form.errors else 200


@bp.route("/<int:membership_id>/edit", methods=["GET", "POST"])
@login_required
def edit(community_id: int, membership_id: int):
    community = community_or_404(community_id)
    membership = membership_or_404(community, membership_id)
    member = membership.member
    form = MemberEditForm(data={
        "name": membership.name, "email": member.email, "language": membership.language, "role": membership.role,
        "organization": membership.organization.name if membership.organization else "",
        "digest_frequency": member.digest_frequency, "next_module": membership.next_module,
        "willing_to_facilitate": membership.willing_to_facilitate,
        "organization_contact": membership.organization is not None
        and membership.organization.contact_member_id == member.id})
    form.next_module.choices = choices(digests.module_choices(community))
    read_only = []  # (label, value) of the person's details this coordinator may not change
    if not members.may_change_person(current_user, member):
        shown = {"name": membership.name, "email": member.email,
                 "language": dict(LANGUAGE_CHOICES)[membership.language],
                 "digest_frequency": dict(FREQUENCY_CHOICES)[member.digest_frequency]}
        for name in PERSON_FIELDS:
            read_only.append((form[name].label.text, shown[name]))
            delattr(form, name)

    def change():
        person = {} if read_only else {name: form[name].data for name in PERSON_FIELDS}
        members.update_member(current_user, membership, organization=form.organization.data, role=form.role.data,
                              **person)
        digests.set_next_module(current_user, membership, form.next_module.data)
        facilitation.set_willing(current_user, membership, form.willing_to_facilitate.data)
        members.set_organization_contact(current_user, membership, form.organization_contact.data)
        return membership

    if saved(form, change) is not None:
        flash(_("Changes saved."))
        return redirect(url_for("communities.show", community_id=community.id))
    return render_template("members/form.html", form=form, community=community, membership=membership,
                           read_only=read_only, locked_explanation=members.LOCKED_EXPLANATION), \
        400 if form.errors else 200


@bp.route("/<int:membership_id>/<any(deactivate, reactivate):action>", methods=["POST"])
@login_required
def change_status(community_id: int, membership_id: int, action: str):
    community = community_or_404(community_id)
    membership = membership_or_404(community, membership_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    members.set_membership_status(current_user, membership, "inactive" if action == "deactivate" else "active")
    db.session.commit()
    flash(_("%(name)s was deactivated.", name=membership.name) if action == "deactivate"
          else _("%(name)s is active again.", name=membership.name))
    return redirect(url_for("communities.show", community_id=community.id))


@bp.route("/")
@login_required
def index(community_id: int):
    """The members list: searched, filtered, sorted and paginated in SQL (service/member_list.py)."""
    community = community_or_404(community_id)
    arguments = tuple(sorted(request.args.items(multi=True)))
    body = kept_pages.kept(community, "members list", arguments, lambda: _list_body(community))
    return render_template("members/index.html", community=community, body=body)


def _list_body(community) -> str:
    organizations = member_list.organizations_here(community)
    criteria = member_list.criteria_from(request.args, {org_id for org_id, _name in organizations})
    return render_template("members/_list_body.html", community=community, criteria=criteria,
                           result=member_list.page(community, criteria), organizations=organizations,
                           roles=ROLES, languages=LANGUAGE_CHOICES, statuses=member_list.STATUSES,
                           sorts=[(key, SORT_LABELS[key]) for key in member_list.SORTS], confirm_form=ConfirmForm())
