"""Absolute links for emails, built from PUBLIC_BASE_URL (works outside a request, in workers)."""
from urllib.parse import urlsplit

from flask import current_app


def public_url(endpoint: str, **values) -> str:
    adapter = current_app.extensions.get("cop_url_adapter")
    if adapter is None:
        base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
        adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
        current_app.extensions["cop_url_adapter"] = adapter
    return adapter.build(endpoint, values, force_external=True)
