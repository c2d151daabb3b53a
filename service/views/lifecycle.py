"""The lifecycle checklist's one action: confirming the stage the community's data suggests."""
from flask import Blueprint, abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.community import StageForm
from service import lifecycle
from service.errors import DomainError
from service.extensions import db
from service.labels import STAGES
from service.views.helpers import community_or_404

bp = Blueprint("lifecycle", __name__, url_prefix="/communities/<int:community_id>/lifecycle")


@bp.route("/stage", methods=["POST"])
@login_required
def confirm_stage(community_id: int):
    community = community_or_404(community_id)
    form = StageForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        lifecycle.confirm_stage(current_user, community, form.stage.data)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The community is now at the stage %(stage)s.", stage=STAGES[community.stage]))
    return redirect(url_for("communities.show", community_id=community_id, _anchor="lifecycle"))
