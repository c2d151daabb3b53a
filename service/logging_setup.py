"""One log format for every process (web, workers, cron, commands): time, level, logger, message.

Text by default, one line per record:
    2026-11-30T11:07:57.123+00:00 INFO service.views.auth coordinator logged in request_id=4f1c...
JSON lines when LOG_FORMAT=json, for a log collector: {"time", "level", "logger", "message", "request_id"?}.
Times are ISO 8601 in UTC. The request id (service/request_id.py) is added to
every line written while a web request, or a job one enqueued, is running;
gunicorn's access lines carry the id the response was given.

Each process installs the one root handler here (gunicorn through
deploy/gunicorn.conf.py, the others through create_app); RQ's loggers then
find it and add no handlers of their own.
"""
import logging
import sys
from datetime import datetime, timezone

from pythonjsonlogger.json import JsonFormatter

from service import request_id

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_ACCESS_LOG_ID = "{x-request-id}o"  # gunicorn's atom for the response header
# Libraries whose INFO lines say nothing an operator needs: alembic lists its plugins in every process,
# aiosmtpd (the embedded mail sink, an SMTP receiver) logs every SMTP command.
QUIET_LOGGERS = ("alembic.runtime.plugins", "mail.log")


def _iso_time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """FORMAT with an ISO timestamp, and ` request_id=…` at the end of the first line when there is one."""

    def __init__(self):
        super().__init__(FORMAT)

    def formatTime(self, record, datefmt=None):
        return _iso_time(record)

    def formatMessage(self, record):
        line = super().formatMessage(record)
        rid = getattr(record, "request_id", None)
        return f"{line} request_id={rid}" if rid else line


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, request_id when there is one, exc_info."""

    def __init__(self):
        super().__init__(FORMAT, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})

    def formatTime(self, record, datefmt=None):
        return _iso_time(record)


class RequestIdFilter(logging.Filter):
    """Put the current request id on each record (for gunicorn's access lines: the id its response carried)."""

    def filter(self, record):
        if getattr(record, "request_id", None) is None:
            rid = request_id.current()
            if rid is None and record.name == "gunicorn.access":
                rid = _access_log_id(record)
            if rid:
                record.request_id = rid
        return True


def _access_log_id(record: logging.LogRecord) -> str | None:
    try:
        value = record.args[_ACCESS_LOG_ID]  # gunicorn's atoms: '-' when the response had no id
    except (TypeError, KeyError, IndexError):
        return None
    return value if value and value != "-" else None


def make_formatter(log_format: str = "text") -> logging.Formatter:
    return JsonLineFormatter() if log_format == "json" else TextFormatter()


def make_handler(log_format: str = "text", stream=None) -> logging.Handler:
    """A handler writing our format to stderr (the service manager's journal), marked as ours."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(RequestIdFilter())
    handler.cop_handler = True
    return handler


def configure_logging(log_format: str = "text", level: str = "INFO", stream=None) -> None:
    """Make our handler the root's only one of ours (calling it again replaces it; others' handlers stay)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "cop_handler", False)]:
        root.removeHandler(handler)
    root.addHandler(make_handler(log_format, stream))
    root.setLevel(level)
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)


def gunicorn_logconfig(log_format: str, level: str) -> dict:
    """gunicorn's `logconfig_dict`: its error and access lines go to the root handler, in our format."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"cop": {"()": "service.logging_setup.make_handler", "log_format": log_format}},
        "root": {"level": level, "handlers": ["cop"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }
