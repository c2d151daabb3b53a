"""What every page a member reaches from an email link shares: reading its token, their language, bad links."""
from flask import g, render_template
from flask_babel import refresh

from service.extensions import db
from service.models import Member
from service.tokens import TokenError, read_token


def member_from_link(purpose: str, token: str, object_id: int | None = None) -> Member | None:
    """The member a valid link names (pages then speak their language); None for a bad or expired link."""
    try:
        member = db.session.get(Member, read_token(purpose, token, object_id=object_id))
    except TokenError as error:
        g.token_error = "expired" if error.expired else "invalid"
        return None
    if member is None:
        g.token_error = "invalid"
        return None
    speak(member.language)
    return member


def speak(language: str) -> None:
    """Show this page in the member's language (Flask-Babel caches the choice per request)."""
    g.locale = language
    refresh()


def bad_link():
    """The page for a link that is broken, tampered with, for something else, or expired."""
    return render_template("member/bad_link.html", reason=g.get("token_error", "invalid")), 400
