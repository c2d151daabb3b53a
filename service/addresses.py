"""Signed email addresses we receive mail on: per-member reply, VERP bounce and mailto unsubscribe.

The local part is `purpose+id.id.signature`, all lower case, so mail servers
that fold case cannot break it, and nobody can forge one for another member.
"""
import hmac

from flask import current_app

from service.tokens import keyed_hmac

SIGNATURE_LENGTH = 16


def _signature(purpose: str, ids: tuple[int, ...]) -> str:
    message = f"{purpose}:{'.'.join(map(str, ids))}".encode()
    return keyed_hmac(current_app.config["SECRET_KEY"], message).hex()[:SIGNATURE_LENGTH]


def make_address(purpose: str, *ids: int) -> str:
    local = f"{purpose}+{'.'.join(map(str, ids))}.{_signature(purpose, ids)}"
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
    if not hmac.compare_digest(signature.encode(), _signature(purpose, ids).encode()):
        return None
    return purpose, ids
