"""Security basics a user or attacker would notice: CSRF, headers, error pages, cookies, escaping."""
import io

from sqlalchemy import func, select

from service.extensions import db
from service.models import Member
from tests.conftest import PASSWORD, csrf_from, login, post_form
from tests.test_authorization import (HOSTILE_CSV, HOSTILE_FORM, community_objects, fill, is_member_link,
                                      snapshot)

XSS = "<script>alert(1)</script>"


# Called by machines, not browsers: no cookie counts there, a shared secret does (tests/test_inbound_ways_in.py).
SECRET_AUTHENTICATED_ENDPOINTS = ("inbound_webhook.receive_mail",)


def _post_rules(app):
    """Every POST route except members' email links (one-click unsubscribe must work without a cookie) and the
    secret-authenticated webhook."""
    return [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods and not is_member_link(rule)
            and rule.endpoint not in SECRET_AUTHENTICATED_ENDPOINTS]


def test_every_post_route_refuses_a_missing_csrf_token_and_changes_nothing(app, alice_client, personas):
    objects = community_objects(app, personas["riverside"], "alice@example.org")
    with app.app_context():
        before = snapshot()
        urls = [url for rule in _post_rules(app) for url in fill(app, rule, objects, strict=False)]
    assert {"/login", "/logout", "/communities/new", f"/communities/{personas['riverside']}/imports/new",
            f"/communities/{personas['riverside']}/imports/{objects['import_id']}/confirm"} <= set(urls)
    for url in urls:
        for data in ({}, {"csrf_token": "forged-token"}):
            response = alice_client.post(url, data={**data, **HOSTILE_FORM, "password": PASSWORD,
                                                    "file": (io.BytesIO(HOSTILE_CSV), "x.csv")},
                                         content_type="multipart/form-data")
            assert response.status_code == 400, f"POST {url} answered {response.status_code}"
            html = response.get_data(as_text=True)
            assert "This form has expired" in html and "reload the page" in html, url
    with app.app_context():
        assert snapshot() == before
    # The refused logout did not log alice out.
    assert alice_client.get("/").status_code == 200


def test_a_token_from_another_session_is_refused(app, alice_client, personas):
    other = app.test_client()
    login(other, "bob@example.org", PASSWORD)
    bobs_token = csrf_from(other.get("/").get_data(as_text=True))
    response = alice_client.post("/communities/new", data={"csrf_token": bobs_token, "name": "Stolen COP",
                                                           "time_zone": "UTC", "stage": "forming",
                                                           "digest_cadence": "weekly"})
    assert response.status_code == 400
    assert "Stolen COP" not in alice_client.get("/").get_data(as_text=True)


def test_responses_carry_the_security_headers(app, alice_client, personas):
    for url in ("/", f"/communities/{personas['riverside']}", "/outbox/", "/no/such/page",
                "/static/style.css"):
        response = alice_client.get(url)
        policy = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'none'" in policy, url
        assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy, url
        assert response.headers.get("Referrer-Policy") == "same-origin", url
        assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    anonymous = app.test_client().get("/login")
    assert "script-src 'none'" in anonymous.headers["Content-Security-Policy"]


def test_unknown_page_is_the_friendly_404(alice_client, personas):
    response = alice_client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page not found" in html and "Back to your communities" in html
    assert "Not Found" not in html  # not Werkzeug's bare page
    assert alice_client.get("/communities/999999").status_code == 404


def test_a_crash_shows_the_friendly_500_page_without_a_traceback(app, alice_client, personas, monkeypatch):
    from service import communities

    def explode(community):
        raise RuntimeError("secret internal detail: password=hunter2")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(app, "testing", False)
    monkeypatch.setattr(communities, "organizations", explode)
    response = alice_client.get(f"/communities/{personas['riverside']}")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html and "Back to your communities" in html
    assert "Traceback" not in html and "hunter2" not in html and "RuntimeError" not in html
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_crash_half_way_through_a_change_saves_none_of_it(app, alice_client, personas, monkeypatch):
    from service import members

    def fail_audit(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(members.audit, "record", fail_audit)  # after the member rows are flushed
    response = post_form(alice_client, f"/communities/{personas['riverside']}/members/new", {
        "name": "Half Done", "email": "half@example.org", "language": "en", "role": "member"})
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    monkeypatch.undo()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)
                                 .where(Member.email == "half@example.org")) == 0
    assert "Half Done" not in alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(app, client, personas):
    response = login(client, "alice@example.org", PASSWORD)
    assert response.status_code == 302
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, response.headers
    attributes = {part.strip().split("=")[0].lower(): part for part in cookies[-1].split(";")}
    assert "httponly" in attributes
    assert attributes.get("samesite", "").strip().lower() == "samesite=lax"


def test_script_in_a_member_name_is_shown_as_text(app, alice_client, personas):
    riverside = personas["riverside"]
    response = post_form(alice_client, f"/communities/{riverside}/members/new", {
        "name": XSS, "email": "xss@example.org", "organization": '"><img src=x onerror=alert(2)>',
        "language": "en", "role": "member"})
    assert response.status_code == 302
    page = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, in the table and the flash
    assert XSS not in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_script_in_an_imported_file_is_shown_as_text_in_the_preview(app, alice_client, personas):
    riverside = personas["riverside"]
    content = f"name,email,organization\n{XSS},xss@example.org,Casa\n<b>Bold</b>,<b>@x,Org\n".encode()
    response = post_form(alice_client, f"/communities/{riverside}/imports/new",
                         {"file": (io.BytesIO(content), f"{XSS}.csv")}, content_type="multipart/form-data")
    assert response.status_code == 302
    page = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and XSS not in page
    assert "<b>" not in page and "&lt;b&gt;@x" in page
