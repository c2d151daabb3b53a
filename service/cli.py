"""Command-line tools: `flask users create|password`, `flask demo seed`, `flask mail receive|smtp-receiver|
poll-imap|sweep` and `flask lessons load`."""
from pathlib import Path

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup

from service.demo import DEMO_LOGIN, seed_demo
from service.errors import DomainError
from service.extensions import db

users_cli = AppGroup("users", help="Coordinator accounts.")
demo_cli = AppGroup("demo", help="Demo data.")
mail_cli = AppGroup("mail", help="Email delivery.")
lessons_cli = AppGroup("lessons", help="Lessons kept in the repository.")


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
    from service.coordinators import find_coordinator, set_password
    coordinator = find_coordinator(email)
    if coordinator is None:
        raise click.ClickException(f"No coordinator has the address {email}.")
    try:
        set_password(coordinator, password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"New password set for {coordinator.email}; their open sessions have ended.")


@demo_cli.command("seed")
def seed():
    """Create the demo community and coordinator if they do not exist."""
    created = seed_demo()
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
    raw = sys.stdin.buffer.read(current_app.config["INBOUND_MAX_BYTES"] + 1)
    try:
        row, new = store(raw, recipient, "mta", sender)
    except TooLarge as error:
        click.echo(f"refused: {error}", err=True)
        sys.exit(EX_DATAERR)
    except OperationalError:
        click.echo("the database is unavailable; try again later", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(f"stored as message {row.id}; processing queued" if new
               else f"already received as message {row.id}")


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
    """Re-enqueue whatever the database says is due (what the periodic sweeper does)."""
    from service.sweeper import sweep as sweep_outbox
    from service.meetings import sweep as sweep_meetings
    from service.inbound.store import sweep as sweep_inbound
    click.echo({"meetings": sweep_meetings(), "outbox": sweep_outbox(), "inbound": sweep_inbound()})


@lessons_cli.command("load")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
def load_lessons(paths):
    """Load or update lessons from folders (default: every folder under lessons/); see lessons/README.md."""
    from service.lessons import LESSONS_DIR, LessonFileError, lesson_dirs, load_lesson_dir
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
