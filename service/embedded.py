"""`make run`: the whole service on one machine with nothing but Python.

Starts what is not configured (Redis on a unix socket, an SMTP sink), applies
migrations, seeds the demo on first start, then runs an RQ worker with its
scheduler and the web app. Ctrl-C stops everything it started.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

from werkzeug.serving import run_simple

from service import create_app
from service.demo import DEMO_LOGIN, seed_demo
from service.embedded_redis import start_redis
from service.mailsink import start_sink


def main() -> int:
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    # Links in the mail it sends lead to this server, on whatever port it was given; the worker inherits it.
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")
    app = create_app()
    config = app.config
    Path(config["INSTANCE_DIR"]).mkdir(parents=True, exist_ok=True)
    started = []  # things to stop, in reverse order
    try:
        if config["EMBEDDED_REDIS"]:
            started.append(start_redis(config["REDIS_URL"].removeprefix("unix://")))
        if config["EMBEDDED_MAIL"]:
            try:
                started.append(start_sink(config["MAIL_SINK_DIR"], config["MAIL_SERVER"], config["MAIL_PORT"], app))
            except OSError as error:
                print(f"Cannot start the mail sink on port {config['MAIL_PORT']} ({error.strerror}): is another "
                      "`make run` still running? Stop it, or set MAIL_PORT to a free port.", file=sys.stderr)
                return 1
        with app.app_context():
            from flask_migrate import upgrade
            upgrade()
            seeded = seed_demo()
        started.append(subprocess.Popen([sys.executable, "-m", "jobs.worker"]))
        started.append(subprocess.Popen([sys.executable, "-m", "jobs.cron", "--logging-level", "warning"]))
        _announce(config, host, port, seeded)
        run_simple(host, port, app, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        for thing in reversed(started):
            _stop(thing)
    return 0


def _announce(config, host, port, seeded) -> None:
    lines = [
        "",
        f"  Community of practice service: http://{host}:{port}/",
        f"  Log in as {DEMO_LOGIN[0]}  password: {DEMO_LOGIN[1]}",
        f"  Database: {config['SQLALCHEMY_DATABASE_URI']}",
        f"  Redis: {config['REDIS_URL']}" + (" (embedded)" if config["EMBEDDED_REDIS"] else ""),
        ("  Mail: caught by the local sink; read it on the Outbox page" if config["EMBEDDED_MAIL"]
         else f"  Mail: {config['MAIL_SERVER']}:{config['MAIL_PORT']}"),
        "  Demo community created." if seeded else "  Demo data was already there.",
        "  Press Ctrl-C to stop everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _stop(thing) -> None:
    if isinstance(thing, subprocess.Popen):
        if thing.poll() is None:
            thing.send_signal(signal.SIGTERM)
            try:
                thing.wait(timeout=10)
            except subprocess.TimeoutExpired:
                thing.kill()
    else:
        thing.stop()


if __name__ == "__main__":
    sys.exit(main())
