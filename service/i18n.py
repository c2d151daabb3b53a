"""Which language a page is shown in."""
from flask import current_app, g, has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user

LOGIN_MESSAGE = _l("Please log in to see this page.")


def select_locale() -> str:
    """A member's language on member pages (views set g.locale); otherwise the coordinator's or browser's."""
    languages = current_app.config["LANGUAGES"]
    forced = g.get("locale")
    if forced in languages:
        return forced
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.language if current_user.language in languages else "en"
    return request.accept_languages.best_match(languages) or "en"


def reset_locale() -> None:
    """Start every request from no choice (g can outlive a request when an app context is shared)."""
    g.pop("locale", None)
    g.pop("token_error", None)
    refresh()
