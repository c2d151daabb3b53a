"""Command-line tools: `flask users create|password`, `flask demo seed`, `flask mail ...` and `flask lessons load`."""
from pathlib import Path

import sys

import click
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


@mail_cli.command("bounce")
@click.option("--to", "recipient", required=True, help="The address the report was sent to (our VERP address).")
def bounce(recipient):
    """Process a bounce report read from standard input (for an MTA pipe transport)."""
    from service.bounces import handle_bounce_message
    click.echo(handle_bounce_message(sys.stdin.buffer.read(), recipient))


@mail_cli.command("sweep")
def sweep():
    """Re-enqueue whatever the database says is due (what the periodic sweeper does)."""
    from service.sweeper import sweep as sweep_outbox
    from service.meetings import sweep as sweep_meetings
    click.echo({"meetings": sweep_meetings(), "outbox": sweep_outbox()})


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
