"""Small helpers the dashboard views share."""
from flask import abort, current_app, g
from flask_login import current_user
from wtforms import Form

from service.communities import community_and_role, role_in
from service.errors import DomainError
from service.extensions import db
from service.members import membership_in
from service.models import Community, Membership


def community_or_404(community_id: int) -> Community:
    """The community if the logged-in coordinator may see it; 404 otherwise, never 403. The account's role there
    is kept for the request (`role_here`): the page's layout asks it too."""
    community, role = community_and_role(current_user, community_id)
    if community is None:
        abort(404)
    g.role_here = (community_id, role)
    return community


def role_here(community_id: int) -> str | None:
    """The account's role in the community this request is about ("admin" for an admin), read once a request."""
    known = g.get("role_here")
    if known is None or known[0] != community_id:
        g.role_here = (community_id, role_in(current_user, community_id))
    return g.role_here[1]


def membership_or_404(community: Community, membership_id: int) -> Membership:
    """One of this community's memberships by id; 404 for an id of any other community."""
    membership = membership_in(community, membership_id)
    if membership is None:
        abort(404)
    return membership


def show_domain_error(form: Form, error: DomainError) -> None:
    """Put a domain error next to the field it concerns, or at the top of the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = list(field.errors) + [error.message]
    else:
        form.form_errors.append(error.message)


def saved(form: Form, change):
    """A submitted, valid form's change made and committed: what `change()` returns (the object it saved, never
    None). None when the form is not submitted or not valid, or when the domain refuses the change (the session
    rolled back, the error shown on the form): the view then shows the form again."""
    if not form.validate_on_submit():
        return None
    try:
        result = change()
    except DomainError as error:
        db.session.rollback()
        show_domain_error(form, error)
        return None
    db.session.commit()
    return result


# An email's HTML part shown to a coordinator (framed by a dashboard page): no script, no network,
# no forms, since members' text may be in it.
MESSAGE_PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"


def sandboxed_html(html: str):
    """A response showing an email's HTML part under the preview policy."""
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MESSAGE_PREVIEW_POLICY
    return response
