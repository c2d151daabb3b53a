"""Every kind of scheduled work put back from the database: what the periodic sweeper job does, and
`flask mail sweep` by hand, with a summary a person can read."""


def sweep_all() -> dict[str, dict]:
    """Re-enqueue whatever the database says is due but Redis lost: reminders and feedback requests, form
    reminders, charter voting reminders, emails (and those a stopped worker left sending), received messages
    waiting to be processed, scheduled announcements whose time has come."""
    from service.announcements import send_due as send_due_announcements
    from service.charter_rules import sweep as sweep_charters
    from service.form_requests import sweep as sweep_forms
    from service.inbound.store import sweep as sweep_inbound
    from service.meetings import sweep as sweep_meetings
    from service.sweeper import sweep as sweep_outbox
    announcements = {"sent": send_due_announcements()}  # before the outbox, whose sweep then finds their rows
    return {"announcements": announcements, "meetings": sweep_meetings(), "forms": sweep_forms(), "charters": sweep_charters(),
            "outbox": sweep_outbox(), "inbound": sweep_inbound()}


def issue_due_digests() -> int:
    """Issue the lesson digests that are due (what the cron process's tick does every minute); emails queued."""
    from service.digests import tick
    return sum(tick().values())


def queue_due_conversation_digests() -> int:
    """Queue the daily conversations digests due now (what the cron process's tick does every minute)."""
    from service.conversations.digest import queue_due
    return queue_due()


def queue_due_health_summaries() -> int:
    """Queue the monthly health summaries due now (what the cron process does every minute); emails queued."""
    from service.health_summaries import queue_due
    return queue_due()


def summary(result: dict[str, dict], digest_emails: int | None = None, health_summaries: int | None = None,
            conversation_digests: int | None = None) -> list[str]:
    """One line per kind of work, in words."""
    meetings, forms, outbox, inbound = (result[name] for name in ("meetings", "forms", "outbox", "inbound"))
    lines = [
        f"Emails: {outbox['requeued']} queued again, of which {outbox['released']} taken back from a worker that "
        f"stopped while sending; {outbox['failed']} given up after too many attempts.",
        f"Meeting reminders: {meetings['reminders_sent']} overdue sent now, {meetings['rescheduled']} scheduled "
        f"again; feedback requests: {meetings['feedback']} sent.",
        f"Form reminders: {forms['form_reminders_sent']} overdue sent now, "
        f"{forms['form_reminders_rescheduled']} scheduled again.",
        f"Charter voting reminders: {result['charters']['charter_reminders_sent']} sent now.",
        f"Scheduled announcements: {result['announcements']['sent']} sent now.",
        f"Received mail: {inbound['requeued']} message(s) queued for processing again, {inbound['failed']} given up.",
    ]
    if digest_emails is not None:
        lines.append(f"Lesson digests: {digest_emails} email(s) queued for the issues due now.")
    if conversation_digests is not None:
        lines.append(f"Conversations digests: {conversation_digests} email(s) queued to members on the digest.")
    if health_summaries is not None:
        lines.append(f"Monthly health summaries: {health_summaries} email(s) queued to coordinators and leaders.")
    return lines
