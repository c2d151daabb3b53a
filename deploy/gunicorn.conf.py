"""gunicorn's settings for the web processes: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Read from the same environment as the app (/etc/cop/cop.env under systemd):
BIND (default 127.0.0.1:8000, for a proxy on the same host) and
WEB_CONCURRENCY (worker processes; default 2 per CPU core plus one).
The app's settings are checked here first, so a bad one stops the master
with its message instead of every worker failing in turn.
Logs go to stderr in the app's format (LOG_FORMAT), access lines included,
each with the request id its response carried.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, wherever gunicorn was started

from service.config import ConfigError, load_settings  # noqa: E402
from service.logging_setup import gunicorn_logconfig  # noqa: E402

try:
    _settings = load_settings()
except ConfigError as error:
    sys.exit(f"Cannot start: {error}")  # one line naming the setting, before any worker is forked

wsgi_app = "wsgi:app"
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
timeout = 60             # a request still running after this is killed (and logged)
graceful_timeout = 30    # on SIGTERM, requests in flight get this long to finish
max_requests = 2000      # a worker is replaced now and then, so slow leaks stay small
max_requests_jitter = 200
control_socket_disable = True  # systemd starts, stops and reloads it; no socket under the service user's home

accesslog = "-"
access_log_format = '%(h)s %({x-forwarded-for}i)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
logconfig_dict = gunicorn_logconfig(_settings["LOG_FORMAT"], _settings["LOG_LEVEL"])
