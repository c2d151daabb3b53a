"""Signed email addresses we receive mail on: per-member reply, VERP bounce and mailto unsubscribe.

The local part is `purpose+id.id.signature`, all lower case, so mail servers
that fold case cannot break it, and nobody can forge one for another member.
An address signed with a key in SECRET_KEY_FALLBACKS still reads, so replies
and bounces to mail sent before a key rotation still arrive.
"""
from flask import current_app

from service.tokens import keyed_hmac, signed_with_one_of_our_keys

SIGNATURE_LENGTH = 16


def _signature(purpose: str, ids: tuple[int, ...], secret: str) -> str:
    message = f"{purpose}:{'.'.join(map(str, ids))}".encode()
    return keyed_hmac(secret, message).hex()[:SIGNATURE_LENGTH]


def make_address(purpose: str, *ids: int) -> str:
    local = f"{purpose}+{'.'.join(map(str, ids))}.{_signature(purpose, ids, current_app.config['SECRET_KEY'])}"
    return f"{local}@{current_app.config['INBOUND_DOMAIN']}"


def read_address(address: str) -> tuple[str, tuple[int, ...]] | None:
    """(purpose, ids) of a genuine signed address of ours, else None."""
    local, _, domain = (address or "").strip().strip("<>").lower().rpartition("@")
    if domain != current_app.config["INBOUND_DOMAIN"].lower() or "+" not in local:
        return None
    purpose, _, rest = local.partition("+")
    *raw_ids, signature = rest.split(".")
    if not raw_ids or not all(part.isascii() and part.isdigit() for part in raw_ids):
        return None
    ids = tuple(int(part) for part in raw_ids)
    if not signed_with_one_of_our_keys(signature, lambda key: _signature(purpose, ids, key)):
        return None
    return purpose, ids
