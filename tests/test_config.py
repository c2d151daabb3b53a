"""Settings are strict: a bad value stops start-up naming the variable."""
import re

import pytest

from service import create_app
from service.config import DEV_SECRET_KEY, ConfigError, load_settings

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://db/cop",
              "REDIS_URL": "redis://cache:6379/0", "MAIL_SERVER": "smtp.example.org",
              "PUBLIC_BASE_URL": "https://cop.example.org", "MAIL_DEFAULT_SENDER": "COP <cop@example.org>",
              "INBOUND_DOMAIN": "in.cop.example.org", "POSTAL_ADDRESS": "Riverside Center, 12 Elm Street, Springfield"}


def test_embedded_defaults_need_nothing_but_python():
    settings = load_settings({})
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["EMBEDDED_REDIS"] and settings["REDIS_URL"].startswith("unix://")
    assert settings["EMBEDDED_MAIL"] and settings["MAIL_PORT"] == 8025


@pytest.mark.parametrize("name, value", [
    ("MAIL_PORT", "twenty-five"), ("MAIL_PORT", "70000"), ("MAIL_USE_TLS", "maybe"),
    ("APP_ENV", "staging"), ("DATABASE_URL", "mysql://x/y"), ("REDIS_URL", "localhost:6379"),
    ("DEFAULT_TIME_ZONE", "Mars/Olympus"), ("IMPORT_INLINE_MAX_ROWS", "-1"),
    ("PROXY_COUNT", "-1"), ("PROXY_COUNT", "one"),
])
def test_bad_value_names_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_production_refuses_the_development_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**PRODUCTION, "SECRET_KEY": DEV_SECRET_KEY})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({key: value for key, value in PRODUCTION.items() if key != "SECRET_KEY"})


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL", "MAIL_SERVER"])
def test_production_needs_real_services(missing):
    with pytest.raises(ConfigError, match=missing):
        load_settings({key: value for key, value in PRODUCTION.items() if key != missing})


def test_production_settings_are_secure():
    settings = load_settings(PRODUCTION)
    assert settings["SESSION_COOKIE_SECURE"] and settings["SESSION_COOKIE_HTTPONLY"]
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db/cop"


def test_production_counts_login_attempts_in_redis_shared_by_every_web_process():
    assert load_settings(PRODUCTION)["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert load_settings({**PRODUCTION, "REDIS_URL": "unix:///run/redis/redis.sock?db=2"})[
        "RATELIMIT_STORAGE_URI"] == "redis+unix:///run/redis/redis.sock?db=2"
    assert load_settings({**PRODUCTION, "RATELIMIT_STORAGE_URI": "redis://limits:6379/3"})[
        "RATELIMIT_STORAGE_URI"] == "redis://limits:6379/3"
    assert load_settings({})["RATELIMIT_STORAGE_URI"] == "memory://"  # one embedded process: memory is right


@pytest.mark.parametrize("uri", ["memory://", "memory:// "])
def test_production_refuses_rate_limits_counted_in_each_process_memory(uri):
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI must not be memory:// in production"):
        load_settings({**PRODUCTION, "RATELIMIT_STORAGE_URI": uri})


@pytest.mark.parametrize("name, value, message", [
    ("PUBLIC_BASE_URL", "http://cop.example.org", "public https:// address"),
    ("PUBLIC_BASE_URL", None, "public https:// address"),  # the development default
    ("PUBLIC_BASE_URL", "https://localhost:8443", "public https:// address"),
    ("PUBLIC_BASE_URL", "https://127.0.0.1", "public https:// address"),
    ("PUBLIC_BASE_URL", "https://[::1]/cop", "public https:// address"),
    ("MAIL_DEFAULT_SENDER", None, "address at a real domain"),  # cop@localhost
    ("MAIL_DEFAULT_SENDER", "cop@localhost", "address at a real domain"),
    ("MAIL_DEFAULT_SENDER", "COP <cop@mail.LOCALHOST.>", "address at a real domain"),
    ("MAIL_DEFAULT_SENDER", "cop@[127.0.0.1]", "address at a real domain"),
    ("MAIL_DEFAULT_SENDER", "COP Coordinator", "address at a real domain"),
    ("INBOUND_DOMAIN", None, "real domain whose mail reaches us"),  # cop.localhost
    ("INBOUND_DOMAIN", "localhost", "real domain whose mail reaches us"),
    ("INBOUND_DOMAIN", "127.0.0.2", "real domain whose mail reaches us"),
])
def test_production_refuses_names_nobody_else_can_reach(name, value, message):
    env = {key: val for key, val in PRODUCTION.items() if key != name}
    if value is not None:
        env[name] = value
    with pytest.raises(ConfigError, match=f"{name} must .*{message}"):
        load_settings(env)
    load_settings({**env, "APP_ENV": "development"})  # fine on a laptop


def test_secret_key_fallbacks_are_a_list_checked_like_the_key():
    assert load_settings({})["SECRET_KEY_FALLBACKS"] == []
    settings = load_settings({**PRODUCTION, "SECRET_KEY_FALLBACKS": f" {'o' * 32} , ,{'p' * 40}"})
    assert settings["SECRET_KEY_FALLBACKS"] == ["o" * 32, "p" * 40]
    for weak in (DEV_SECRET_KEY, "short-old-key"):
        with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS"):
            load_settings({**PRODUCTION, "SECRET_KEY_FALLBACKS": f"{'o' * 32},{weak}"})


def test_create_app_refuses_to_start_with_bad_environment(monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "abc")
    with pytest.raises(ConfigError, match="MAIL_PORT"):
        create_app()


@pytest.mark.parametrize("changed, message", [
    ({"POSTAL_ADDRESS": None}, "POSTAL_ADDRESS must be your organization's postal address"),
    ({"DATABASE_URL": "sqlite:////srv/cop/cop.sqlite3"}, "DATABASE_URL must be a postgresql:// URL in production"),
    ({"MAIL_USE_TLS": "true", "MAIL_USE_SSL": "true"}, "MAIL_USE_TLS (STARTTLS, usually port 587) and MAIL_USE_SSL"),
    ({"RATELIMIT_STORAGE_URI": "memcache://cache:11211"}, "RATELIMIT_STORAGE_URI must start with one of"),
])
def test_production_refuses_settings_that_would_fail_later_naming_the_variable(changed, message):
    env = {**PRODUCTION, **{key: value for key, value in changed.items() if value is not None}}
    for key in [key for key, value in changed.items() if value is None]:
        del env[key]
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(env)


def test_tls_and_ssl_together_are_refused_in_development_too():
    with pytest.raises(ConfigError, match="set one of them"):
        load_settings({"MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"})
