"""Coordinator login, throttling and logout."""
from tests.conftest import PASSWORD, csrf_from, login, post_form


def test_login_then_dashboard_then_logout(client, personas):
    assert client.get("/").status_code == 302  # anonymous: sent to login
    response = login(client, "Alice@Example.org", PASSWORD)
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Riverside COP" in page and "Lakeside COP" not in page
    response = post_form(client, "/", {}, post_url="/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_clear_message(client, personas):
    response = login(client, "alice@example.org", "wrong password!")
    assert response.status_code == 400
    assert "do not match an account" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_an_unknown_address_costs_a_password_check_like_an_account_s(app, ctx, personas):
    """A wrong address must take as long as a wrong password: its password is checked against a hash of the same
    method and cost as the accounts' (the one written in service/coordinators.py follows werkzeug's default)."""
    from werkzeug.security import check_password_hash, generate_password_hash  # werkzeug's own: the tests'
    from service import coordinators                                           # accounts use a cheaper one
    assert coordinators._DUMMY_HASH.split("$", 1)[0] == generate_password_hash("any password").split("$", 1)[0]
    assert check_password_hash(coordinators._DUMMY_HASH, "not-a-real-password")  # a whole hash, not a stub
    assert coordinators.authenticate("nobody@example.org", PASSWORD) is None


def test_login_is_throttled_per_address(app, client, personas):
    for _ in range(5):
        assert login(client, "alice@example.org", "nope-nope-nope").status_code == 400
    response = login(client, "alice@example.org", PASSWORD)
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_throttle_for_one_address_does_not_lock_out_another_from_a_new_ip(app, personas):
    attacker = app.test_client()
    for _ in range(5):
        login(attacker, "alice@example.org", "nope-nope-nope")
    other = app.test_client()
    page = other.get("/login", environ_base={"REMOTE_ADDR": "10.9.9.9"}).get_data(as_text=True)
    from tests.conftest import csrf_from
    response = other.post("/login", data={"csrf_token": csrf_from(page), "email": "bob@example.org",
                                          "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 302


def test_login_refuses_a_missing_csrf_token(client, personas):
    response = client.post("/login", data={"email": "alice@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_next_parameter_never_leaves_the_site(client, personas):
    page = client.get("/login?next=https://evil.example/").get_data(as_text=True)
    from tests.conftest import csrf_from
    response = client.post("/login?next=https://evil.example/", data={
        "csrf_token": csrf_from(page), "email": "alice@example.org", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_flask_users_create(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "dana@example.org", "--name", "Dana", "--admin",
                                 "--password", "long enough password"])
    assert result.exit_code == 0, result.output
    assert "Created coordinator dana@example.org (admin)" in result.output
    result = runner.invoke(args=["users", "create", "eve@example.org", "--password", "short"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    assert login(app.test_client(), "dana@example.org", "long enough password").status_code == 302


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def _replay(app, cookie: str):
    """A new browser that was handed a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/")


def test_a_copied_session_cookie_stops_working_at_logout(app, alice_client, personas):
    copied = _session_cookie(alice_client)
    assert _replay(app, copied).status_code == 200  # the copy works while alice is logged in
    assert post_form(alice_client, "/", {}, post_url="/logout").status_code == 302
    response = _replay(app, copied)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert login(alice_client, "alice@example.org", PASSWORD).status_code == 302  # alice can come back
    assert alice_client.get("/").status_code == 200
    assert _replay(app, copied).status_code == 302  # and the old copy stays dead


def test_a_new_password_ends_every_open_session(app, alice_client, personas):
    copied = _session_cookie(alice_client)
    result = app.test_cli_runner().invoke(args=["users", "password", "Alice@example.org",
                                                "--password", "a brand new password"])
    assert result.exit_code == 0, result.output
    assert "open sessions have ended" in result.output
    assert alice_client.get("/").status_code == 302
    assert _replay(app, copied).status_code == 302
    assert login(app.test_client(), "alice@example.org", PASSWORD).status_code == 400
    assert login(app.test_client(), "alice@example.org", "a brand new password").status_code == 302


def test_a_new_password_is_refused_when_too_short_or_for_nobody(app, alice_client, personas):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "password", "alice@example.org", "--password", "short"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = runner.invoke(args=["users", "password", "nobody@example.org", "--password", "long enough password"])
    assert result.exit_code != 0 and "No coordinator has the address nobody@example.org" in result.output
    assert alice_client.get("/").status_code == 200  # nothing changed: still logged in


def test_a_session_naming_an_old_version_or_garbage_is_anonymous(app, alice_client, personas):
    from flask.sessions import SecureCookieSessionInterface
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    session = serializer.loads(_session_cookie(alice_client))
    assert _replay(app, serializer.dumps(session)).status_code == 200  # re-signed as it was: still alice
    alice = personas["alice"]
    for login_id in (str(alice), f"{alice}.", f"{alice}.1", f"{alice}.-1", "x.0", "٣.0", f".{alice}"):
        forged = serializer.dumps({**session, "_user_id": login_id})  # signed with our key, like a stolen one
        assert _replay(app, forged).status_code == 302, login_id


PROXY = "10.0.0.1"


def _login_through(client, client_address: str, email: str, password: str):
    """A login as it reaches us through a proxy at PROXY that says whom it forwards."""
    request = {"environ_base": {"REMOTE_ADDR": PROXY}, "headers": {"X-Forwarded-For": client_address}}
    page = client.get("/login", **request).get_data(as_text=True)
    return client.post("/login", data={"csrf_token": csrf_from(page), "email": email, "password": password},
                       **request)


def _fail_five_logins(client, client_address: str):
    for attempt in range(5):  # five different addresses: only the per-client limit adds up
        response = _login_through(client, client_address, f"guess{attempt}@example.org", "nope-nope-nope")
        assert response.status_code == 400


def test_behind_one_trusted_proxy_each_client_has_its_own_login_limit(app, personas, monkeypatch):
    from service import trust_proxies
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)  # the unwrapped app comes back after the test
    monkeypatch.setitem(app.config, "PROXY_COUNT", 1)
    trust_proxies(app)
    attacker, colleague = app.test_client(), app.test_client()
    _fail_five_logins(attacker, "203.0.113.5")
    assert _login_through(attacker, "203.0.113.5", "alice@example.org", PASSWORD).status_code == 429
    assert _login_through(colleague, "198.51.100.7", "bob@example.org", PASSWORD).status_code == 302
    assert colleague.get("/", environ_base={"REMOTE_ADDR": PROXY},
                         headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 200


def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(app, personas):
    assert app.config["PROXY_COUNT"] == 0
    attacker = app.test_client()
    for attempt in range(5):
        response = _login_through(attacker, f"192.0.2.{attempt}", f"guess{attempt}@example.org", "nope-nope-nope")
        assert response.status_code == 400
    assert _login_through(attacker, "192.0.2.99", "bob@example.org", PASSWORD).status_code == 429


def test_login_still_answers_and_is_throttled_while_the_rate_limit_store_is_down(app, personas, monkeypatch):
    from limits.storage import MemoryStorage, storage_from_string
    from service.extensions import limiter
    strategy = type(limiter._limiter)
    down = storage_from_string("redis://127.0.0.1:1/0")  # nothing listens there
    memory = MemoryStorage()  # this test's own, so no count outlives it
    for name, value in (("_storage", down), ("_limiter", strategy(down)), ("_storage_dead", False),
                        ("_fallback_storage", memory), ("_fallback_limiter", strategy(memory))):
        monkeypatch.setattr(limiter, name, value, raising=False)
    attacker = app.test_client()
    for _ in range(5):
        assert login(attacker, "alice@example.org", "nope-nope-nope").status_code == 400
    assert login(attacker, "alice@example.org", PASSWORD).status_code == 429
    other = app.test_client()
    page = other.get("/login", environ_base={"REMOTE_ADDR": "10.9.9.9"}).get_data(as_text=True)
    response = other.post("/login", data={"csrf_token": csrf_from(page), "email": "bob@example.org",
                                          "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 302
