"""Translated display names for the stored codes (stages, roles, statuses...)."""
from flask import g
from flask_babel import get_locale, lazy_gettext as _l

STAGES = {"forming": _l("Forming"), "defining": _l("Defining its work"),
          "managing": _l("Managing"), "sustaining": _l("Sustaining")}
CADENCES = {"weekly": _l("Weekly"), "biweekly": _l("Every two weeks"), "monthly": _l("Monthly"),
            "never": _l("Never")}
ROLES = {"member": _l("Member"), "facilitator": _l("Facilitator"), "leader": _l("Leader")}
ACCOUNT_ROLES = {"admin": _l("Administrator"), "coordinator": _l("Coordinator"), "leader": _l("Leader"),
                 "observer": _l("Observer (read-only)")}
MEMBER_STATUSES = {"active": _l("active"), "unsubscribed": _l("unsubscribed"), "bounced": _l("bounced"),
                   "paused": _l("paused"), "inactive": _l("inactive")}  # the last two: the members list's
OUTBOX_STATUSES = {"pending": _l("pending"), "sending": _l("sending"), "sent": _l("sent"),
                   "failed": _l("failed"), "suppressed": _l("suppressed")}
EMAIL_KINDS = {
    "welcome": _l("Welcome"), "announcement": _l("Announcement"), "announcement_test": _l("Announcement test copy"),
    "test_message": _l("Test message"),
    "check_in": _l("Personal check-in"),
    "meeting_invitation": _l("Meeting invitation"), "meeting_update": _l("Meeting changed"),
    "meeting_cancelled": _l("Meeting cancelled"), "meeting_reminder": _l("Meeting reminder"),
    "series_invitation": _l("Meeting series invitation"), "series_update": _l("Meeting series changed"),
    "series_cancelled": _l("Meeting series cancelled"),
    "feedback_request": _l("Feedback request"), "facilitator_assigned": _l("Facilitator assigned"),
    "reply_facilitation": _l("Reply: facilitation handed on"), "health_summary": _l("Monthly health summary"),
    "form_request": _l("Form request"),
    "form_reminder": _l("Form reminder"), "charter_proposal": _l("Charter proposal"),
    "charter_reminder": _l("Charter vote reminder"), "charter_ratified": _l("Charter ratified"),
    "coordinator_invitation": _l("Invitation to help run a community"), "role_granted": _l("Role granted"),
    "community_handed_over": _l("Community handed over"), "digest": _l("Lesson digest"),
    "digest_organization": _l("Organization's digest"), "digest_test": _l("Digest test copy"),
    "reply_rsvp": _l("Reply: answer saved"), "reply_charter": _l("Reply: charter answer saved"),
    "reply_practice": _l("Reply: practice received"), "reply_comment": _l("Reply: message received"),
    "reply_unclear": _l("Reply: a person will read it"), "password_reset": _l("Password reset"),
    "post_waiting": _l("Post waiting for a moderator"), "post_declined": _l("Post declined"),
    "post_moderation": _l("Post to moderate"),
    "conversation_digest": _l("Conversations digest"),
    "reply_conversations": _l("Reply: conversations choice saved"),
    "post_not_member": _l("Post refused: not a member"),
    "post_attachment_refused": _l("Post refused: an attachment"),
}

INBOUND_STATUSES = {"received": _l("waiting"), "done": _l("understood"), "held": _l("held"),
                    "unclear": _l("unclear"), "ignored": _l("ignored"), "failed": _l("failed")}

RSVP_ANSWERS = {"yes": _l("Yes"), "maybe": _l("Maybe"), "no": _l("No"), None: _l("No answer")}

DELIVERY_REASONS = {"unsubscribed": _l("unsubscribed themselves"), "bounced": _l("their address bounces"),
                    "paused": _l("paused all email"), "community archived": _l("the community is archived")}
ANSWERS = {"yes": _l("Yes, I will attend"), "maybe": _l("Maybe"), "no": _l("No, I cannot attend")}
ANSWER_BUTTONS = {"yes": _l("Yes"), "maybe": _l("Maybe"), "no": _l("No")}


def _lookup(table):
    """A template helper: the code's label, translated once per request (a list of 50 members asks for its roles
    and statuses a hundred times, and each translation of a lazy string looks the locale up again)."""
    def label(code):
        found = table.get(code)
        if found is None:
            return code
        translated = g.setdefault("translated_labels", {})  # per app context; emails force other locales in it
        key = (id(table), code, str(get_locale()))
        if key not in translated:
            translated[key] = str(found)
        return translated[key]
    return label


TEMPLATE_HELPERS = {
    "stage_label": _lookup(STAGES),
    "cadence_label": _lookup(CADENCES),
    "role_label": _lookup(ROLES),
    "account_role_label": _lookup(ACCOUNT_ROLES),
    "status_label": _lookup(MEMBER_STATUSES),
    "outbox_status_label": _lookup(OUTBOX_STATUSES),
    "email_kind_label": _lookup(EMAIL_KINDS),
    "inbound_status_label": _lookup(INBOUND_STATUSES),
    "delivery_reason_label": _lookup(DELIVERY_REASONS),
    "rsvp_label": _lookup(RSVP_ANSWERS),  # the dashboard's short form, with "No answer"
    "answer_label": _lookup(ANSWERS),
    "answer_button": _lookup(ANSWER_BUTTONS),
}
