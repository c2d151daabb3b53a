"""Muting one conversation, from the "Stop receiving this conversation" link of its emails.

That link opens the member's preferences page naming the conversation
(`?mute=<id>`), which changes nothing; its one button posts here (CSRF
checked), and the answer offers the opposite button, to undo.
"""
from flask import Blueprint, abort, render_template

from forms.preferences import MuteForm
from service.conversations.choices import conversation_of, is_muted, mute, unmute
from service.extensions import db, limiter
from service.models import Community
from service.views.member_pages import bad_link, member_from_link

bp = Blueprint("conversation_links", __name__, url_prefix="/m")
limiter.limit("60 per minute")(bp)


@bp.route("/preferences/<token>/mute", methods=["POST"])
def mute_page(token: str):
    member = member_from_link("preferences", token)
    if member is None:
        return bad_link()
    form = MuteForm()
    conversation = conversation_of(member, form.conversation.data)
    if conversation is None:
        abort(404)  # not a conversation of the member's communities: nothing about it is shown
    if not form.validate_on_submit():
        abort(400)
    (mute if form.action.data == "mute" else unmute)(member, conversation, via="page")
    db.session.commit()
    return render_template("member/conversation_mute.html", member=member, conversation=conversation,
                           community=db.session.get(Community, conversation.community_id),
                           muted=is_muted(member, conversation), changed=form.action.data, form=MuteForm(),
                           token=token)


def mute_box(member, conversation_id) -> dict | None:
    """What the preferences page shows when its link names a conversation (`?mute=`): None for none, or for
    one the member may not see."""
    conversation = conversation_of(member, conversation_id) if conversation_id else None
    if conversation is None:
        return None
    return {"conversation": conversation, "muted": is_muted(member, conversation), "form": MuteForm()}
