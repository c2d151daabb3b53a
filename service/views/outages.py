"""What people see while a backing service is down.

The database down: a styled "we'll be back" page with status 503 and a
Retry-After, rendered without the database, the session's user or the
dashboard layout (each of which would need the database again), in the
browser's language.

A connection the database dropped after the page was made (a restart in
between) is let go quietly at the end of the request, instead of failing it.

Redis down: work that was committed could not be put on the queue
(service.queue logs it); the sweeper sends it within minutes. The page the
action leads to says so, so nobody does it a second time.
"""
from contextlib import suppress

from flask import Blueprint, current_app, flash, g, request
from flask_babel import gettext as _
from flask_babel import refresh
from sqlalchemy.exc import DBAPIError, OperationalError

from service.extensions import db
from service.queue import enqueue_deferred

bp = Blueprint("outages", __name__)

RETRY_AFTER_SECONDS = 30


@bp.app_errorhandler(OperationalError)
def database_unavailable(error):
    current_app.logger.error("the database is unavailable: %s", str(error).splitlines()[0])
    return unavailable_page()


@bp.app_errorhandler(DBAPIError)
def database_connection_lost(error):
    """A connection dropped mid-request (the server restarted): the same page; other database errors are bugs."""
    if not error.connection_invalidated:
        raise error
    return database_unavailable(error)


def unavailable_page():
    with suppress(Exception):  # a session whose connection is gone may fail to roll back too
        db.session.rollback()
    g.locale = request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en"
    refresh()
    # Straight from the Jinja environment: render_template would run the context processors, and
    # Flask-Login's loads the session's user from the database.
    page = current_app.jinja_env.get_template("errors/unavailable.html").render()
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


def end_the_session_even_without_the_database(_error):
    """End the request's database session here, discarding a connection the server dropped meanwhile.

    Flask-SQLAlchemy ends it later, at the app context's teardown, with a
    ROLLBACK that raises on such a connection, past every error handler:
    gunicorn's bare 500 for a page already made, perhaps after an answer was
    saved. (After this, its own teardown finds no session to end.)
    """
    try:
        db.session.remove()
    except DBAPIError as error:
        current_app.logger.warning("the database connection was lost at the end of a request: %s",
                                   str(error).splitlines()[0])
        with suppress(Exception):
            db.session().invalidate()  # drops the connection without speaking to the server again
        with suppress(Exception):
            db.session.remove()


# At the app context's end, where Flask-SQLAlchemy ends the session too (this runs first, being registered
# later): a test that shares its app context with the requests it makes keeps its session between them.
bp.record_once(lambda state: state.app.teardown_appcontext(end_the_session_even_without_the_database))


@bp.after_app_request
def say_work_waits_for_the_sweeper(response):
    if enqueue_deferred():
        g.cop_enqueue_deferred = False  # once per request
        flash(_("Saved. Sending is delayed by a moment: it will go out by itself within a few minutes, "
                "so there is no need to do it again."))
    return response
