"""Signed, scoped, expiring tokens for members' links.

A token names its purpose (a salt of its own), the member and, where there is
one, the object it acts on; a token made for one purpose or object never
reads as another's.
"""
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class TokenError(Exception):
    """The link is broken, tampered with, for something else, or expired (`expired` says which)."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"cop.{purpose}")


def make_token(purpose: str, member_id: int, object_id: int | None = None) -> str:
    claims = {"m": member_id} if object_id is None else {"m": member_id, "o": object_id}
    return _serializer(purpose).dumps(claims)


def read_token(purpose: str, token: str, object_id: int | None = None, max_age_days: int | None = None) -> int:
    """The member id a valid token carries; TokenError otherwise (also when the object differs)."""
    days = max_age_days or current_app.config["MEMBER_LINK_MAX_AGE_DAYS"]
    try:
        claims = _serializer(purpose).loads(token, max_age=days * 86400)
    except SignatureExpired:
        raise TokenError(expired=True) from None
    except BadSignature:
        raise TokenError() from None
    if not isinstance(claims, dict) or not isinstance(claims.get("m"), int) or claims.get("o") != object_id:
        raise TokenError()
    return claims["m"]
