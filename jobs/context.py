"""One Flask app per worker process, so jobs can reach the database and config."""
import os
from contextlib import contextmanager

_app = None
_app_pid = None


def worker_app():
    """The app for this process; a forked child builds its own rather than share connections."""
    global _app, _app_pid
    if _app is None or _app_pid != os.getpid():
        from service import create_app
        _app, _app_pid = create_app(), os.getpid()
    return _app


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
