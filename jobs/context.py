"""One Flask app per worker, built and warmed once, inherited by every work-horse RQ forks.

RQ's default worker forks a work-horse per job. Building the app in each
horse (about 80 ms), importing the job's modules (45 ms), configuring the ORM
mappers (150 ms), initialising the database dialect on its first connection
and compiling the email templates (40 ms) cost more than delivering a batch of
100 messages. So the worker builds and warms the app
before it forks; a horse starts with all of that and opens only its own
database connection (the parent's pooled connections are dropped in the child,
never shared).
"""
import gc
import os
from contextlib import contextmanager

_app = None


def worker_app():
    """The app for this process (and for the work-horses it forks)."""
    global _app
    if _app is None:
        from service import create_app
        _app = create_app()
        _forget_connections_after_fork(_app)
    return _app


# The jobs, and the service modules their functions import when they run.
JOB_MODULES = ("jobs.delivery", "jobs.digests", "jobs.forms", "jobs.imports", "jobs.inbound", "jobs.meetings",
               "jobs.sweeper", "service.delivery", "service.digests", "service.form_requests", "service.meetings",
               "service.member_import", "service.inbound.process", "service.inbound.posts")


def warm_up(app) -> None:
    """Do once in the worker what every job would otherwise pay for in its work-horse."""
    from importlib import import_module
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import configure_mappers
    from service.delivery import compile_statements
    from service.email_render import compile_templates
    from service.extensions import db
    for name in JOB_MODULES:
        import_module(name)
    configure_mappers()  # done lazily, by the first ORM query: about 150 ms
    with app.app_context():
        for engine in db.engines.values():
            try:
                with engine.connect():
                    pass  # the first connection initialises the dialect: server version, types
            except OperationalError as error:  # a speed-up only: the database may come up later
                app.logger.warning("worker warm-up could not reach the database: %s", error)
            engine.dispose()
        compile_templates()
        try:
            compile_statements()
        except OperationalError as error:
            app.logger.warning("worker warm-up could not reach the database: %s", error)
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    # Objects made so far live as long as the worker: out of the collector's sight, a
    # work-horse's collections no longer write to (and so copy) every page it inherited.
    gc.freeze()


def _forget_connections_after_fork(app) -> None:
    from service.extensions import db
    with app.app_context():
        engines = list(db.engines.values())

    def drop_inherited():
        for engine in engines:
            engine.dispose(close=False)  # the parent keeps using its sockets; the child opens its own

    os.register_at_fork(after_in_child=drop_inherited)


@contextmanager
def job_context():
    """Run a job body inside an app context, reusing the current app when there is one (tests)."""
    from flask import current_app, has_app_context
    if has_app_context():
        yield current_app
        return
    app = worker_app()
    with app.app_context():
        yield app
