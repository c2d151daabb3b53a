"""Translated display names for the stored codes (stages, roles, statuses...)."""
from flask_babel import lazy_gettext as _l

STAGES = {"forming": _l("Forming"), "defining": _l("Defining its work"),
          "managing": _l("Managing"), "sustaining": _l("Sustaining")}
CADENCES = {"weekly": _l("Weekly"), "biweekly": _l("Every two weeks"), "monthly": _l("Monthly"),
            "never": _l("Never")}
ROLES = {"member": _l("Member"), "facilitator": _l("Facilitator"), "leader": _l("Leader")}
ACCOUNT_ROLES = {"admin": _l("Administrator"), "coordinator": _l("Coordinator"), "leader": _l("Leader"),
                 "observer": _l("Observer (read-only)")}
MEMBER_STATUSES = {"active": _l("active"), "unsubscribed": _l("unsubscribed"), "bounced": _l("bounced")}
OUTBOX_STATUSES = {"pending": _l("pending"), "sending": _l("sending"), "sent": _l("sent"),
                   "failed": _l("failed"), "suppressed": _l("suppressed")}

INBOUND_STATUSES = {"received": _l("waiting"), "done": _l("understood"), "held": _l("held"),
                    "unclear": _l("unclear"), "ignored": _l("ignored"), "failed": _l("failed")}

RSVP_ANSWERS = {"yes": _l("Yes"), "maybe": _l("Maybe"), "no": _l("No"), None: _l("No answer")}

DELIVERY_REASONS = {"unsubscribed": _l("unsubscribed themselves"), "bounced": _l("their address bounces"),
                    "paused": _l("paused all email"), "community archived": _l("the community is archived")}
ANSWERS = {"yes": _l("Yes, I will attend"), "maybe": _l("Maybe"), "no": _l("No, I cannot attend")}
ANSWER_BUTTONS = {"yes": _l("Yes"), "maybe": _l("Maybe"), "no": _l("No")}


def _lookup(table):
    return lambda code: table.get(code, code)


TEMPLATE_HELPERS = {
    "stage_label": _lookup(STAGES),
    "cadence_label": _lookup(CADENCES),
    "role_label": _lookup(ROLES),
    "account_role_label": _lookup(ACCOUNT_ROLES),
    "status_label": _lookup(MEMBER_STATUSES),
    "outbox_status_label": _lookup(OUTBOX_STATUSES),
    "inbound_status_label": _lookup(INBOUND_STATUSES),
    "delivery_reason_label": _lookup(DELIVERY_REASONS),
    "rsvp_label": _lookup(RSVP_ANSWERS),  # the dashboard's short form, with "No answer"
    "answer_label": _lookup(ANSWERS),
    "answer_button": _lookup(ANSWER_BUTTONS),
}
