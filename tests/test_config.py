"""Settings are strict: a bad value stops start-up naming the variable."""
import pytest

from service import create_app
from service.config import DEV_SECRET_KEY, ConfigError, load_settings

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://db/cop",
              "REDIS_URL": "redis://cache:6379/0", "MAIL_SERVER": "smtp.example.org"}


def test_embedded_defaults_need_nothing_but_python():
    settings = load_settings({})
    assert settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert settings["EMBEDDED_REDIS"] and settings["REDIS_URL"].startswith("unix://")
    assert settings["EMBEDDED_MAIL"] and settings["MAIL_PORT"] == 8025


@pytest.mark.parametrize("name, value", [
    ("MAIL_PORT", "twenty-five"), ("MAIL_PORT", "70000"), ("MAIL_USE_TLS", "maybe"),
    ("APP_ENV", "staging"), ("DATABASE_URL", "mysql://x/y"), ("REDIS_URL", "localhost:6379"),
    ("DEFAULT_TIME_ZONE", "Mars/Olympus"), ("IMPORT_INLINE_MAX_ROWS", "-1"),
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


def test_create_app_refuses_to_start_with_bad_environment(monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "abc")
    with pytest.raises(ConfigError, match="MAIL_PORT"):
        create_app()
