"""Signed, scoped, expiring tokens for members' links.

A token names its purpose, the member and, where there is one, the object it
acts on; a token made for one purpose or object never reads as another's.

It reads `member.object.issued.signature`: the ids (object 0 when it acts on
none; ids start at 1) and the issue time in Unix seconds, in plain digits,
then HMAC-SHA256 of the purpose and those three under SECRET_KEY, cut to 128
bits, URL-safe base64. A token signed with a key in SECRET_KEY_FALLBACKS
still reads, so rotating the key breaks no link before it expires; new
tokens are signed with SECRET_KEY only. Written by hand rather
than with itsdangerous because every email carries two (footer links): its
serializer took 40 microseconds a token, a tenth of a worker's time per
announcement, and this takes a few. The signature covers everything the
token says, so changing any digit breaks it.
"""
import base64
import hashlib
import hmac
import time
from functools import lru_cache

from flask import current_app

SIGNATURE_BYTES = 16
CLOCK_SKEW_SECONDS = 300  # a token "issued" further in the future than this is not ours


class TokenError(Exception):
    """The link is broken, tampered with, for something else, or expired (`expired` says which)."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def secret_keys() -> list[str]:
    """The keys a signature of ours may be made with: SECRET_KEY (the only one we sign with), then the fallbacks."""
    return [current_app.config["SECRET_KEY"], *current_app.config.get("SECRET_KEY_FALLBACKS", ())]


def signed_with_one_of_our_keys(signature: str, sign) -> bool:
    """Whether `signature` is `sign(key)` for SECRET_KEY or one of SECRET_KEY_FALLBACKS (compared in constant time)."""
    return any(hmac.compare_digest(signature.encode(), sign(key).encode()) for key in secret_keys())


def _signature(purpose: str, body: str, secret: str) -> str:
    digest = keyed_hmac(secret, f"link:{purpose}:{body}".encode())
    return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).rstrip(b"=").decode()


@lru_cache(maxsize=8)  # SECRET_KEY and its fallbacks
def _keyed(secret: str):
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def keyed_hmac(secret: str, message: bytes) -> bytes:
    """HMAC-SHA256 of `message` under `secret`, the key's set-up done once per secret (a copy per message)."""
    mac = _keyed(secret).copy()
    mac.update(message)
    return mac.digest()


def make_token(purpose: str, member_id: int, object_id: int | None = None) -> str:
    body = f"{member_id}.{object_id or 0}.{int(time.time())}"
    return f"{body}.{_signature(purpose, body, current_app.config['SECRET_KEY'])}"


def read_token(purpose: str, token: str, object_id: int | None = None, max_age_days: int | None = None) -> int:
    """The member id a valid token carries; TokenError otherwise (also when the object differs)."""
    parts = token.split(".") if isinstance(token, str) and token.isascii() else []
    if len(parts) != 4:
        raise TokenError()
    member, obj, issued, signature = parts
    body = f"{member}.{obj}.{issued}"
    if not signed_with_one_of_our_keys(signature, lambda key: _signature(purpose, body, key)):
        raise TokenError()
    if not (member.isdigit() and obj.isdigit() and issued.isdigit()) or int(obj) != (object_id or 0):
        raise TokenError()  # (only a token signed with our key gets this far)
    age = time.time() - int(issued)
    if age < -CLOCK_SKEW_SECONDS:
        raise TokenError()
    if age > (max_age_days or current_app.config["MEMBER_LINK_MAX_AGE_DAYS"]) * 86400:
        raise TokenError(expired=True)
    return int(member)
