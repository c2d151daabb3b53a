"""A member's page for one conversation, from the "Stop receiving this conversation" link of its emails: it
names the conversation and, on POST only (mail scanners open links), mutes it or lets it through again."""
from flask import Blueprint, abort, render_template

from forms.preferences import MuteForm
from service.conversations.choices import conversation_of, is_muted, mute, unmute
from service.extensions import db, limiter
from service.models import Community
from service.views.member_pages import bad_link, member_from_link

bp = Blueprint("conversation_links", __name__, url_prefix="/m")
limiter.limit("60 per minute")(bp)


@bp.route("/preferences/<token>/conversations/<int:conversation_id>", methods=["GET", "POST"])
def mute_page(token: str, conversation_id: int):
    member = member_from_link("preferences", token)
    if member is None:
        return bad_link()
    conversation = conversation_of(member, conversation_id)
    if conversation is None:
        abort(404)  # not a conversation of the member's communities: nothing about it is shown
    form, changed = MuteForm(), None
    if form.validate_on_submit():
        changed = form.action.data
        (mute if changed == "mute" else unmute)(member, conversation, via="page")
        db.session.commit()
    community = db.session.get(Community, conversation.community_id)
    return render_template("member/conversation_mute.html", member=member, conversation=conversation,
                           community=community,
                           muted=is_muted(member, conversation), changed=changed, form=form, token=token)


def mute_box(member, conversation_id) -> dict | None:
    """What the preferences page shows when its link names a conversation (`?mute=`): None for none, or for
    one the member may not see."""
    conversation = conversation_of(member, conversation_id) if conversation_id else None
    if conversation is None:
        return None
    return {"conversation": conversation, "muted": is_muted(member, conversation), "form": MuteForm()}
