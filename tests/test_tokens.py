"""Members' link tokens: read back only for their purpose, member, object and key, and only while fresh."""
import time

import pytest

from service.links import public_url, token_url
from service.tokens import TokenError, make_token, read_token


def test_a_token_reads_back_as_its_member_for_its_purpose_and_object(ctx):
    assert read_token("unsubscribe", make_token("unsubscribe", 42)) == 42
    assert read_token("form", make_token("form", 42, 7), object_id=7) == 42


@pytest.mark.parametrize("case", ["other purpose", "other object", "no object", "object missing",
                                  "member changed", "object changed", "time changed", "signature changed",
                                  "other key"])
def test_a_token_for_anything_else_or_changed_anywhere_is_invalid(app, ctx, case):
    token = make_token("form", 42, 7)
    member, obj, issued, signature = token.split(".")
    attempts = {
        "other purpose": lambda: read_token("rsvp", token, object_id=7),
        "other object": lambda: read_token("form", token, object_id=8),
        "no object": lambda: read_token("form", make_token("form", 42), object_id=7),
        "object missing": lambda: read_token("form", token),
        "member changed": lambda: read_token("form", f"43.{obj}.{issued}.{signature}", object_id=7),
        "object changed": lambda: read_token("form", f"{member}.8.{issued}.{signature}", object_id=8),
        "time changed": lambda: read_token("form", f"{member}.{obj}.{int(issued) + 1}.{signature}", object_id=7),
        "signature changed": lambda: read_token("form", token[:-1] + ("B" if token.endswith("A") else "A"),
                                                object_id=7),
    }
    if case == "other key":
        app.config["SECRET_KEY"] = "another key entirely"
        attempts[case] = lambda: read_token("form", token, object_id=7)
    with pytest.raises(TokenError) as raised:
        attempts[case]()
    assert not raised.value.expired


@pytest.mark.parametrize("garbage", ["", "abc", "1.2.3", "1.2.3.4.5", "1.0.x.sig", "١٢.0.1.sig", "1..2.sig",
                                     "../../etc/passwd", None])
def test_garbage_is_an_invalid_link_not_an_error(ctx, garbage):
    with pytest.raises(TokenError):
        read_token("unsubscribe", garbage)


def test_a_token_expires_after_the_configured_days_and_is_not_valid_before_it_was_made(app, ctx, monkeypatch):
    now = time.time()
    days = app.config["MEMBER_LINK_MAX_AGE_DAYS"]
    monkeypatch.setattr(time, "time", lambda: now - (days - 1) * 86400)
    fresh_enough = make_token("preferences", 42)
    monkeypatch.setattr(time, "time", lambda: now - (days + 1) * 86400)
    too_old = make_token("preferences", 42)
    monkeypatch.setattr(time, "time", lambda: now + 3600)
    from_the_future = make_token("preferences", 42)
    monkeypatch.undo()
    assert read_token("preferences", fresh_enough) == 42
    with pytest.raises(TokenError) as raised:
        read_token("preferences", too_old)
    assert raised.value.expired
    assert read_token("preferences", too_old, max_age_days=days + 2) == 42
    with pytest.raises(TokenError) as raised:
        read_token("preferences", from_the_future)
    assert not raised.value.expired


def test_a_token_link_is_the_url_the_url_map_builds(ctx):
    token = make_token("unsubscribe", 42)
    for endpoint in ("member_links.unsubscribe", "member_links.preferences"):
        assert token_url(endpoint, token) == public_url(endpoint, token=token)
        assert token_url(endpoint, token).endswith(f"/{token}")
        # Anything a URL would have to escape is built by the URL map itself.
        assert token_url(endpoint, "a/b c%") == public_url(endpoint, token="a/b c%")
