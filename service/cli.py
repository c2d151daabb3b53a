"""Command-line tools: `flask users create|password|list|disable|enable|reset-password`, `flask members
unsuppress`, `flask status`, `flask demo seed`, `flask mail receive|smtp-receiver|poll-imap|sweep`,
`flask lessons load` and `flask communities export|import`.

Each command only translates between the terminal and a function in service/.
"""
from pathlib import Path

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from service.demo import DEMO_LOGIN, seed_demo
from service.errors import DomainError
from service.extensions import db

users_cli = AppGroup("users", help="Coordinator accounts.")
demo_cli = AppGroup("demo", help="Demo data.")
mail_cli = AppGroup("mail", help="Email delivery.")
lessons_cli = AppGroup("lessons", help="Lessons kept in the repository.")
members_cli = AppGroup("members", help="Members' mail.")
communities_cli = AppGroup("communities", help="Whole communities: export and import.")


def _coordinator(email: str):
    from service.coordinators import find_coordinator
    coordinator = find_coordinator(email)
    if coordinator is None:
        raise click.ClickException(f"No coordinator has the address {email}.")
    return coordinator


@users_cli.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--admin", is_flag=True, help="May see and change every community.")
@click.option("--language", type=click.Choice(["en", "es"]), default="en")
@click.password_option(help="At least 10 characters; prompted for when omitted.")
def create_user(email, name, admin, language, password):
    """Create a coordinator account."""
    from service.coordinators import create_coordinator
    try:
        coordinator = create_coordinator(email, name, password, is_admin=admin, language=language)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created coordinator {coordinator.email}{' (admin)' if admin else ''}.")


@users_cli.command("password")
@click.argument("email")
@click.password_option(help="At least 10 characters; prompted for when omitted.")
def set_user_password(email, password):
    """Give a coordinator a new password; every session they have open ends."""
    from service.coordinators import set_password
    coordinator = _coordinator(email)
    try:
        set_password(coordinator, password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"New password set for {coordinator.email}; their open sessions have ended.")


@users_cli.command("list")
def list_users():
    """Every coordinator account: address, name, admin, disabled, and its communities (with a leader's or an
    observer's role)."""
    from service.coordinators import accounts
    rows = accounts()
    if not rows:
        click.echo("No coordinator accounts yet; create one with `flask users create`.")
        return
    for coordinator, communities in rows:
        flags = [flag for flag, on in (("admin", coordinator.is_admin), ("DISABLED", not coordinator.active)) if on]
        click.echo(f"{coordinator.email}  {coordinator.name}" + (f"  [{', '.join(flags)}]" if flags else ""))
        click.echo("    communities: " + ("; ".join(communities) if communities else "none"))


@users_cli.command("disable")
@click.argument("email")
def disable_user(email):
    """Stop a coordinator logging in and end every session they have open (their communities stay)."""
    from service.coordinators import disable
    coordinator = _coordinator(email)
    if not disable(coordinator):
        click.echo(f"{coordinator.email} was already disabled.")
        return
    db.session.commit()
    click.echo(f"Disabled {coordinator.email}; their open sessions have ended. `flask users enable` undoes it.")


@users_cli.command("enable")
@click.argument("email")
def enable_user(email):
    """Let a disabled coordinator log in again with their password."""
    from service.coordinators import enable
    coordinator = _coordinator(email)
    if not enable(coordinator):
        click.echo(f"{coordinator.email} is not disabled.")
        return
    db.session.commit()
    click.echo(f"Enabled {coordinator.email}.")


@users_cli.command("reset-password")
@click.argument("email")
def reset_user_password(email):
    """Email a coordinator a link to set a new password (works once, for 24 hours)."""
    from service.password_reset import MAX_AGE, request_reset
    coordinator = _coordinator(email)
    try:
        request_reset(coordinator)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    hours = int(MAX_AGE.total_seconds() // 3600)
    click.echo(f"A link to set a new password is on its way to {coordinator.email} (see the outbox); "
               f"it works once, for {hours} hours. Their current password works until they use it.")


@members_cli.command("unsuppress")
@click.argument("email")
def unsuppress(email):
    """Let mail reach an address suppressed for bouncing again (audited); never undoes an unsubscribe."""
    from service.bounces import unsuppress as lift
    try:
        address = lift(email)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Mail will reach {address} again.")


@click.command("status")
@with_appcontext
def status():
    """Whether the service can do its work: database, Redis, workers, cron, stuck mail (exit 1 if not ready)."""
    from service.readiness import report
    result = report()
    for name, check in result.checks.items():
        click.echo(f"{name:<12} {'ok' if check.ok else 'FAILED':<7} {check.detail}"
                   + (f" ({_seen(check.values)})" if "last_seen_seconds_ago" in check.values else ""))
        if check.error:
            click.echo(f"{'':<20} {check.error}")
    click.echo("Ready." if result.ready else f"Not ready: {', '.join(result.failed)}.")
    sys.exit(0 if result.ready else 1)


def _seen(values: dict) -> str:
    return f"last seen {values['last_seen_seconds_ago']} s ago, {values['host']} pid {values['pid']}"


@demo_cli.command("seed")
def seed():
    """Create the demo community and coordinator if they do not exist (never in production)."""
    try:
        created = seed_demo()
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo("Demo data created." if created else "Demo data already present.")
    click.echo(f"Log in as {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]}")


EX_DATAERR, EX_TEMPFAIL = 65, 75  # sysexits: an MTA pipe bounces the first, keeps and retries the second


@mail_cli.command("receive")
@click.option("--to", "recipient", required=True,
              help="The address the message was delivered to (the MTA's recipient, e.g. Postfix's ${recipient}).")
@click.option("--sender", default="", help="The envelope sender (Postfix's ${sender}), kept with the message.")
def receive(recipient, sender):
    """Store one message read from standard input and queue its processing (an MTA pipe transport for every
    address of INBOUND_DOMAIN: replies, unsubscribes, calendar answers, bounces)."""
    from sqlalchemy.exc import OperationalError
    from service.inbound.store import TooLarge, receive as store
    from service.queue import enqueue_deferred
    raw = sys.stdin.buffer.read(current_app.config["INBOUND_MAX_BYTES"] + 1)
    try:
        row, new = store(raw, recipient, "mta", sender)
    except TooLarge as error:
        click.echo(f"refused: {error}", err=True)
        sys.exit(EX_DATAERR)
    except OperationalError:
        click.echo("the database is unavailable; try again later", err=True)
        sys.exit(EX_TEMPFAIL)
    if not new:
        click.echo(f"already received as message {row.id}")
    elif enqueue_deferred():
        click.echo(f"stored as message {row.id}; Redis is unavailable, the sweeper will queue its processing")
    else:
        click.echo(f"stored as message {row.id}; processing queued")


# The MTA entry of earlier versions: the same door, kept so existing transports go on working.
mail_cli.add_command(receive, "bounce")


@mail_cli.command("smtp-receiver")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535))
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate chain: offer STARTTLS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert.")
def smtp_receiver(host, port, tls_cert, tls_key):
    """Receive mail for INBOUND_DOMAIN over SMTP (from a relay or as the MX) until stopped."""
    from service.inbound.smtp_receiver import serve, tls_context
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together.")
    tls = tls_context(tls_cert, tls_key) if tls_cert else None
    click.echo(f"Receiving mail for {current_app.config['INBOUND_DOMAIN']} on {host}:{port}"
               f"{' (STARTTLS offered)' if tls else ''}; Ctrl-C stops.")
    serve(current_app._get_current_object(), host, port, tls)


@mail_cli.command("poll-imap")
@click.option("--every", type=click.IntRange(10, 3600), default=None,
              help="Poll again every this many seconds until stopped (default: one pass).")
def poll_imap(every):
    """Store the new messages of the INBOUND_IMAP_* mailbox and queue their processing."""
    from sqlalchemy.exc import DBAPIError
    from service.inbound.imap_poll import poll_exclusively
    if not current_app.config["INBOUND_IMAP_HOST"]:
        raise click.ClickException("INBOUND_IMAP_HOST is not set: there is no mailbox to poll.")
    while True:
        try:
            result = poll_exclusively()
        except DBAPIError:
            db.session.rollback()
            result = "the database is unavailable; the messages stay in the mailbox for the next pass"
        click.echo("another pass is running" if result is None else str(result))
        if every is None:
            failed = result is not None and (isinstance(result, str) or result.error)
            sys.exit(EX_TEMPFAIL if failed else 0)
        time.sleep(every)


@mail_cli.command("sweep")
def sweep():
    """Re-enqueue every kind of scheduled work the database says is due (what the cron process does every
    minute): emails, meeting and form reminders, feedback requests, received mail, lesson and conversations
    digests and monthly health summaries."""
    from service.scheduled_work import (issue_due_digests, queue_due_conversation_digests,
                                        queue_due_health_summaries, summary, sweep_all)
    for line in summary(sweep_all(), issue_due_digests(), queue_due_health_summaries(),
                        queue_due_conversation_digests()):
        click.echo(line)


@lessons_cli.command("load")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
def load_lessons(paths):
    """Load or update lessons from folders (default: every folder under lessons/); see lessons/README.md."""
    from service.lesson_files import LESSONS_DIR, LessonFileError, lesson_dirs, load_lesson_dir
    folders = [folder for path in (paths or (LESSONS_DIR,))
               for folder in ([path] if (path / "lesson.toml").is_file() else lesson_dirs(path))]
    if not folders:
        raise click.ClickException("No lesson folders (folders with a lesson.toml) found.")
    try:
        loaded = [load_lesson_dir(folder) for folder in folders]
    except LessonFileError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    for lesson in loaded:
        click.echo(f"Loaded {lesson.slug}: {lesson.title_en} ({len(lesson.modules)} modules).")


@communities_cli.command("import")
@click.argument("zip_file", type=click.File("rb"))
def import_community(zip_file):
    """Load a community exported from the community page (or `flask communities export`) into this instance."""
    from service.community_import import import_community as load
    try:
        community = load(None, zip_file)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(f"{error.message} Nothing was imported.") from None
    db.session.commit()
    click.echo(f"Imported {community.name} as community {community.id}.")


@communities_cli.command("export")
@click.argument("community_id", type=int)
@click.argument("zip_file", type=click.Path(dir_okay=False, writable=True))
def export_community(community_id, zip_file):
    """Write the whole community as a zip (what its page's download gives)."""
    from service.community_export import export_zip
    from service.models import Community
    community = db.session.get(Community, community_id)
    if community is None:
        raise click.ClickException(f"No community has the id {community_id}.")
    _name, data = export_zip(None, community)
    Path(zip_file).write_bytes(data)
    db.session.commit()
    click.echo(f"Wrote {community.name} to {zip_file} ({len(data)} bytes).")
