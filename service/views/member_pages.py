"""What every page a member reaches from an email link shares: reading its token, their language, bad links."""
from flask import g, render_template
from flask_babel import refresh

from service.extensions import db
from service.models import Member
from service.tokens import TokenError, read_token


def member_id_from_link(purpose: str, token: str, object_id: int | None = None) -> int | None:
    """The member id a valid link carries, without a query (for a page that loads the member with the rest of
    what it shows); None for a bad or expired link."""
    try:
        return read_token(purpose, token, object_id=object_id)
    except TokenError as error:
        g.token_error = "expired" if error.expired else "invalid"
        return None


def member_from_link(purpose: str, token: str, object_id: int | None = None) -> Member | None:
    """The member a valid link names (pages then speak their language); None for a bad or expired link."""
    member_id = member_id_from_link(purpose, token, object_id=object_id)
    if member_id is None:
        return None
    member = db.session.get(Member, member_id)
    if member is None:
        g.token_error = "invalid"
        return None
    speak(member.language)
    return member


def speak(language: str) -> None:
    """Show this page in the member's language (Flask-Babel caches the choice per request)."""
    g.locale = language
    refresh()


def bad_link(member_id: int | None = None):
    """The page for a link that is broken, tampered with, for something else, or expired (in the language of the
    member it names, when it names one)."""
    member = db.session.get(Member, member_id) if member_id else None
    if member is not None:
        speak(member.language)
    return render_template("member/bad_link.html", reason=g.get("token_error", "invalid")), 400


def archived_link():
    """The answer to a member's POST in an archived community: it takes no answers (the page names nothing it
    need not, not even the community)."""
    return render_template("exports/archived.html", community=None), 409
