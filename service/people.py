"""Small rules about people's details shared by members and coordinators."""
from email_validator import EmailNotValidError, validate_email

from flask_babel import gettext as _

from service.errors import DomainError


def normalize_email(raw: str) -> str:
    """A syntactically valid, lower-cased address, or DomainError naming what is wrong."""
    raw = (raw or "").strip()
    if not raw:
        raise DomainError(_("An email address is required."), "email")
    if any(ch in raw for ch in "\r\n"):
        raise DomainError(_("An email address cannot contain line breaks."), "email")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        raise DomainError(_("%(address)s is not a valid email address.", address=raw), "email") from None
    return result.normalized.lower()
