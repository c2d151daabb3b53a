"""Absolute links for emails, built from PUBLIC_BASE_URL (works outside a request, in workers)."""
import re
from urllib.parse import urlsplit

from flask import current_app

_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")  # unreserved characters: a URL carries them as they are
_TOKEN_PLACEHOLDER = "0token0"


def public_url(endpoint: str, **values) -> str:
    adapter = current_app.extensions.get("cop_url_adapter")
    if adapter is None:
        base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
        adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
        current_app.extensions["cop_url_adapter"] = adapter
    return adapter.build(endpoint, values, force_external=True)


def token_url(endpoint: str, token: str) -> str:
    """public_url(endpoint, token=token), with the URL around the token built once per endpoint.

    Every email's footer carries two such links; building each through the
    URL map took longer than signing its token. A token of anything but
    unreserved characters (never one of ours) goes the long way.
    """
    if not _URL_SAFE.fullmatch(token):
        return public_url(endpoint, token=token)
    around = current_app.extensions.setdefault("cop_token_urls", {})
    if endpoint not in around:
        before, _, after = public_url(endpoint, token=_TOKEN_PLACEHOLDER).rpartition(_TOKEN_PLACEHOLDER)
        around[endpoint] = before, after
    before, after = around[endpoint]
    return before + token + after
