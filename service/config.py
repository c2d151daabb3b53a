"""Settings read from the environment, strictly, with embedded defaults.

Every setting has one parser. A value that does not parse stops start-up
with a ConfigError naming the variable, so a typo in production fails
loudly instead of running with a surprising default.
"""
from __future__ import annotations

import ipaddress
import os
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rq import Queue

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "testing", "production")
SENDING_TIMEOUT_MARGIN = 60  # seconds
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


PLACEHOLDER_POSTAL_ADDRESS = "COP Coordination Service, 100 Main Street, Springfield"
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def _text(env, name, default=None):
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(env, name, default, minimum=None, maximum=None):
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env, name, default):
    raw = _text(env, name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _sending_timeout(env):
    """How long a row may stay `sending` before the sweeper takes it back: longer than any job may run.

    Shorter, the sweeper would take rows from a job still sending them, and another job would send them too.
    """
    minimum = Queue.DEFAULT_TIMEOUT + SENDING_TIMEOUT_MARGIN  # RQ's job timeout: no job of ours sets its own
    value = _int(env, "MAIL_SENDING_TIMEOUT", 300, 1)
    if value <= minimum:
        raise ConfigError(f"MAIL_SENDING_TIMEOUT must be above {minimum} seconds (the job timeout, "
                          f"{Queue.DEFAULT_TIMEOUT}, plus {SENDING_TIMEOUT_MARGIN}), got {value}")
    return value


def _choice(env, name, default, choices):
    raw = _text(env, name, default)
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _url(env, name, default, schemes):
    raw = _text(env, name, default)
    if raw is None:
        return None
    scheme = raw.split(":", 1)[0]
    if "://" not in raw or scheme not in schemes:
        raise ConfigError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, got {raw!r}")
    return raw


def _timezone(env, name, default):
    raw = _text(env, name, default)
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as America/Chicago, got {raw!r}") from None
    return raw


def _secret_keys(env, production):
    """SECRET_KEY, then the SECRET_KEY_FALLBACKS (comma-separated) still accepted while links signed with them live."""
    secret_key = _text(env, "SECRET_KEY", DEV_SECRET_KEY)
    fallbacks = [key.strip() for key in (_text(env, "SECRET_KEY_FALLBACKS") or "").split(",") if key.strip()]
    for name, key in [("SECRET_KEY", secret_key)] + [("SECRET_KEY_FALLBACKS", key) for key in fallbacks]:
        if production and (key == DEV_SECRET_KEY or len(key) < 32):
            raise ConfigError(f"{name} must be set to random values of at least 32 characters in production")
    return secret_key, fallbacks


def _is_local_host(host: str | None) -> bool:
    """localhost, a name under .localhost, or a loopback/unspecified address: nobody else can reach it."""
    host = (host or "").strip().strip("[]").rstrip(".").lower()
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _check_public_names(settings: dict) -> None:
    """Production mail must point at names the world reaches: an https site, a real sender and inbound domain."""
    base_url = urlsplit(settings["PUBLIC_BASE_URL"])
    if base_url.scheme != "https" or _is_local_host(base_url.hostname):
        raise ConfigError("PUBLIC_BASE_URL must be the public https:// address in production (one-click "
                          f"unsubscribe needs https), got {settings['PUBLIC_BASE_URL']!r}")
    _local, at, sender_domain = parseaddr(settings["MAIL_DEFAULT_SENDER"])[1].rpartition("@")
    if not at or _is_local_host(sender_domain):
        raise ConfigError("MAIL_DEFAULT_SENDER must be an address at a real domain in production, "
                          f"got {settings['MAIL_DEFAULT_SENDER']!r}")
    if _is_local_host(settings["INBOUND_DOMAIN"]):
        raise ConfigError("INBOUND_DOMAIN must be a real domain whose mail reaches us in production, "
                          f"got {settings['INBOUND_DOMAIN']!r}")
    if settings["POSTAL_ADDRESS"] == PLACEHOLDER_POSTAL_ADDRESS:
        raise ConfigError("POSTAL_ADDRESS must be your organization's postal address in production (every "
                          "community email shows it, as bulk-mail rules require); the placeholder is still set")
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL in production; SQLite is the embedded "
                          "default for trying the service on one machine")


def _webhook_secret(env, production):
    """The shared secret providers' inbound webhooks send; the endpoint answers 404 while it is unset."""
    secret = _text(env, "INBOUND_WEBHOOK_SECRET")
    if production and secret is not None and len(secret) < 32:
        raise ConfigError("INBOUND_WEBHOOK_SECRET must be a random value of at least 32 characters in production")
    return secret


def _imap_settings(env, production) -> dict:
    """The mailbox `flask mail poll-imap` reads (INBOUND_IMAP_HOST unset: no polling)."""
    host = _text(env, "INBOUND_IMAP_HOST")
    use_ssl, starttls = _bool(env, "INBOUND_IMAP_SSL", True), _bool(env, "INBOUND_IMAP_STARTTLS", False)
    settings = {
        "INBOUND_IMAP_HOST": host,
        "INBOUND_IMAP_PORT": _int(env, "INBOUND_IMAP_PORT", 993 if use_ssl else 143, 1, 65535),
        "INBOUND_IMAP_USER": _text(env, "INBOUND_IMAP_USER"),
        "INBOUND_IMAP_PASSWORD": _text(env, "INBOUND_IMAP_PASSWORD"),
        "INBOUND_IMAP_FOLDER": _text(env, "INBOUND_IMAP_FOLDER", "INBOX"),
        "INBOUND_IMAP_SSL": use_ssl,
        "INBOUND_IMAP_STARTTLS": starttls,
        # Where stored messages go (a folder of that mailbox); unset, they stay where they are, marked read.
        "INBOUND_IMAP_MOVE_TO": _text(env, "INBOUND_IMAP_MOVE_TO"),
        "INBOUND_IMAP_INTERVAL": _int(env, "INBOUND_IMAP_INTERVAL", 60, 10, 3600),
        "INBOUND_IMAP_BATCH": _int(env, "INBOUND_IMAP_BATCH", 100, 1, 5000),
    }
    if host is None:
        return settings
    if not settings["INBOUND_IMAP_USER"] or not settings["INBOUND_IMAP_PASSWORD"]:
        raise ConfigError("INBOUND_IMAP_USER and INBOUND_IMAP_PASSWORD must be set with INBOUND_IMAP_HOST")
    if use_ssl and starttls:
        raise ConfigError("INBOUND_IMAP_SSL and INBOUND_IMAP_STARTTLS are two ways to encrypt: set one of them")
    if production and not (use_ssl or starttls) and not _is_local_host(host):
        raise ConfigError("INBOUND_IMAP_SSL or INBOUND_IMAP_STARTTLS must be true in production: the mailbox "
                          "password would cross the network in clear")
    return settings


def _mail_use_ssl(env) -> bool:
    """MAIL_USE_SSL (implicit TLS, port 465) and MAIL_USE_TLS (STARTTLS, port 587) exclude each other."""
    use_ssl = _bool(env, "MAIL_USE_SSL", False)
    if use_ssl and _bool(env, "MAIL_USE_TLS", False):
        raise ConfigError("MAIL_USE_TLS (STARTTLS, usually port 587) and MAIL_USE_SSL (TLS from the start, usually "
                          "port 465) are two ways to encrypt: set one of them")
    return use_ssl


def _rate_limit_storage(env, production, redis_url):
    """Where login attempts are counted: shared Redis in production, since each web process counts apart in memory."""
    uri = _text(env, "RATELIMIT_STORAGE_URI")
    if uri is not None and urlsplit(uri).scheme not in RATE_LIMIT_SCHEMES:
        raise ConfigError(f"RATELIMIT_STORAGE_URI must start with one of {', '.join(RATE_LIMIT_SCHEMES)}, "
                          f"got {uri!r}")
    if production and uri is not None and uri.startswith("memory:"):
        raise ConfigError("RATELIMIT_STORAGE_URI must not be memory:// in production: each web process would "
                          "count failed logins apart; leave it unset to use REDIS_URL")
    if uri is None and production:
        return "redis+unix://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") else redis_url
    return uri or "memory://"


def _database_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (the driver we install)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def load_settings(env=None) -> dict:
    """Build the Flask config mapping from an environment mapping."""
    env = os.environ if env is None else env
    app_env = _choice(env, "APP_ENV", "development", ENVIRONMENTS)
    production = app_env == "production"
    instance_dir = Path(_text(env, "INSTANCE_DIR", str(PROJECT_ROOT / "instance")))

    secret_key, secret_key_fallbacks = _secret_keys(env, production)

    database_url = _url(env, "DATABASE_URL", f"sqlite:///{instance_dir / 'cop.sqlite3'}",
                        ("sqlite", "postgresql", "postgres", "postgresql+psycopg"))
    redis_url = _url(env, "REDIS_URL", None, ("redis", "rediss", "unix"))
    mail_server = _text(env, "MAIL_SERVER")
    if production:
        for name, value in (("REDIS_URL", redis_url), ("MAIL_SERVER", mail_server),
                            ("DATABASE_URL", _text(env, "DATABASE_URL"))):
            if value is None:
                raise ConfigError(f"{name} must be set in production")

    settings = {
        "APP_ENV": app_env,
        "SECRET_KEY": secret_key,
        "SECRET_KEY_FALLBACKS": secret_key_fallbacks,
        "INSTANCE_DIR": str(instance_dir),
        "SQLALCHEMY_DATABASE_URI": _database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Embedded mode: Redis on a unix socket under instance/, started by `make run`.
        "EMBEDDED_REDIS": redis_url is None,
        "REDIS_URL": redis_url or f"unix://{instance_dir / 'redis.sock'}",
        "RQ_QUEUE": _text(env, "RQ_QUEUE", "cop"),
        "EMBEDDED_MAIL": mail_server is None,
        "MAIL_SINK_DIR": str(instance_dir / "mailsink"),
        "MAIL_SERVER": mail_server or "127.0.0.1",
        "MAIL_PORT": _int(env, "MAIL_PORT", 8025 if mail_server is None else 25, 1, 65535),
        "MAIL_USE_TLS": _bool(env, "MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _mail_use_ssl(env),
        "MAIL_USERNAME": _text(env, "MAIL_USERNAME"),
        "MAIL_PASSWORD": _text(env, "MAIL_PASSWORD"),
        "MAIL_DEFAULT_SENDER": _text(env, "MAIL_DEFAULT_SENDER", "COP Coordinator <cop@localhost>"),
        "MAIL_SUPPRESS_SEND": False,
        # Domain of the reply, bounce (VERP) and mailto-unsubscribe addresses we receive mail on.
        "INBOUND_DOMAIN": _text(env, "INBOUND_DOMAIN", "cop.localhost"),
        # Limits on what we accept by mail: a reply larger than this is refused at the door (the MTA or the
        # webhook's caller tells the sender); parts and nesting beyond these are not read.
        "INBOUND_MAX_BYTES": _int(env, "INBOUND_MAX_BYTES", 10 * 1024 * 1024, 10 * 1024),
        "INBOUND_MAX_PARTS": _int(env, "INBOUND_MAX_PARTS", 100, 2, 10000),
        "INBOUND_MAX_DEPTH": _int(env, "INBOUND_MAX_DEPTH", 8, 1, 100),
        "INBOUND_WEBHOOK_SECRET": _webhook_secret(env, production),
        "INBOUND_WEBHOOK_RATE_LIMIT": _text(env, "INBOUND_WEBHOOK_RATE_LIMIT", "300 per minute"),
        **_imap_settings(env, production),
        "MAIL_TIMEOUT": _int(env, "MAIL_TIMEOUT", 30, 1, 600),
        "MAIL_BATCH_SIZE": _int(env, "MAIL_BATCH_SIZE", 500, 1, 5000),
        "MAIL_MAX_ATTEMPTS": _int(env, "MAIL_MAX_ATTEMPTS", 8, 1, 50),
        "MAIL_RETRY_BASE_SECONDS": _int(env, "MAIL_RETRY_BASE_SECONDS", 60, 1),
        "MAIL_SENDING_TIMEOUT": _sending_timeout(env),
        "MAIL_SWEEP_GRACE": _int(env, "MAIL_SWEEP_GRACE", 120, 0),
        "BOUNCE_THRESHOLD": float(_int(env, "BOUNCE_THRESHOLD", 5, 1, 100)),
        "BOUNCE_HALF_LIFE_DAYS": _int(env, "BOUNCE_HALF_LIFE_DAYS", 14, 1, 365),
        "MEMBER_LINK_MAX_AGE_DAYS": _int(env, "MEMBER_LINK_MAX_AGE_DAYS", 90, 60, 3650),
        "PUBLIC_BASE_URL": _url(env, "PUBLIC_BASE_URL", "http://127.0.0.1:5000", ("http", "https")).rstrip("/"),
        "POSTAL_ADDRESS": _text(env, "POSTAL_ADDRESS", PLACEHOLDER_POSTAL_ADDRESS),
        "DEFAULT_TIME_ZONE": _timezone(env, "DEFAULT_TIME_ZONE", "America/Chicago"),
        "LOGIN_RATE_LIMIT": _text(env, "LOGIN_RATE_LIMIT", "5 per minute"),
        "RATELIMIT_STORAGE_URI": _rate_limit_storage(env, production, redis_url or ""),
        # Proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed (0: none, headers ignored).
        "PROXY_COUNT": _int(env, "PROXY_COUNT", 0, 0, 5),
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
        # While the limits' Redis is down, each process counts in memory rather than answering 500 to every
        # login, unsubscribe and join page; it goes back to Redis when Redis answers again.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "IMPORT_INLINE_MAX_ROWS": _int(env, "IMPORT_INLINE_MAX_ROWS", 200, 0),
        # The lifecycle checklist's first item: members from at least this many organizations.
        "CHECKLIST_MIN_ORGANIZATIONS": _int(env, "CHECKLIST_MIN_ORGANIZATIONS", 3, 1, 1000),
        "IMPORT_MAX_BYTES": _int(env, "IMPORT_MAX_BYTES", 5 * 1024 * 1024, 1024),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 8 * 1024 * 1024, 1024),
        "SESSION_COOKIE_SECURE": _bool(env, "SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env, "SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": _int(env, "WTF_CSRF_TIME_LIMIT", 8 * 3600, 60),
        # One line per record for every process: text (time level logger message) or JSON lines.
        "LOG_FORMAT": _choice(env, "LOG_FORMAT", "text", LOG_FORMATS),
        "LOG_LEVEL": _choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        "LANGUAGES": ("en", "es"),
    }
    if production:
        _check_public_names(settings)
    return settings
