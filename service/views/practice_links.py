"""The page members reach from a digest's "share a practice" link: a short form, then a thank-you.

The signed token names the member and the community; a token for another
community, a changed one or an expired one shows the bad-link page and saves
nothing. GET only shows the form; the practice is saved (pending review) on POST.
"""
from flask import Blueprint, render_template

from forms.practice import PracticeForm
from service import practices
from service.extensions import db, limiter
from service.models import Community
from service.views.helpers import saved
from service.views.member_pages import bad_link, member_from_link

bp = Blueprint("practice_links", __name__, url_prefix="/m/communities/<int:community_id>/practices")
limiter.limit("60 per minute")(bp)


def _member_and_community(community_id: int, token: str):
    member = member_from_link(practices.TOKEN_PURPOSE, token, object_id=community_id)
    community = db.session.get(Community, community_id) if member else None
    return (member, community) if community else (None, None)


@bp.route("/share/<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"], override_defaults=False)  # and the blueprint's 60/min
def share(community_id: int, token: str):
    member, community = _member_and_community(community_id, token)
    if member is None:
        return bad_link()
    if practices.active_membership(community, member) is None:
        return render_template("member/practice_closed.html", community=community), 403
    form = PracticeForm()
    practice = saved(form, lambda: practices.submit_practice(community, member, form.title.data, form.what_we_did.data,
                                                             form.what_happened.data, form.contact_ok.data,
                                                             source="web"))
    if practice is not None:
        return render_template("member/practice_thanks.html", community=community, member=member, practice=practice,
                               token=token)
    return render_template("member/practice_share.html", form=form, community=community, member=member), \
        400 if form.errors else 200
