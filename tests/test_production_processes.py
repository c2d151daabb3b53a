"""The production process set, started with the operations guide's commands, sends an announcement end to end.

gunicorn with deploy/gunicorn.conf.py, two `python -m jobs.worker` and one `python -m jobs.cron`, all with
APP_ENV=production against the test's PostgreSQL and Redis and an SMTP server started here. A coordinator
made with `flask users create` logs in over HTTP as a browser behind nginx would (X-Forwarded-Proto https,
PROXY_COUNT=1: the session cookie is Secure), creates a community, adds a member and writes to it; the
member's email arrives, and the click's request id is on the web's and the worker's log lines.
"""
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from service.config import PROJECT_ROOT
from tests.services import require
from tests.smtp_server import SMTPServer, free_port
from tests.worker_process import wait_until

SITE = "cop.example.org"  # PUBLIC_BASE_URL's host, which nginx forwards
BIN = Path(sys.executable).parent  # the virtualenv's bin/: .venv/bin/ in the guide
PASSWORD = "a long enough password"


def production_environment(database_url: str, redis_url: str, mail_port: int, web_port: int) -> dict[str, str]:
    """What /etc/cop/cop.env holds in production, pointed at this test's servers."""
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update({
        "APP_ENV": "production",
        "SECRET_KEY": "production-test-secret-key-0123456789abcdefghijkl",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail_port),
        "MAIL_DEFAULT_SENDER": "Riverside COP <cop@example.org>",
        "POSTAL_ADDRESS": "Riverside Training Center, 12 Elm Street, Springfield",
        "PUBLIC_BASE_URL": f"https://{SITE}",
        "INBOUND_DOMAIN": "mail.cop.example.org",
        "PROXY_COUNT": "1",
        "BIND": f"127.0.0.1:{web_port}",
        "WEB_CONCURRENCY": "2",
        "FLASK_APP": "wsgi.py",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class Processes:
    """The long-running processes, each in a session of its own, with its output in a log file."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir = env, log_dir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *command: str) -> None:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.running[name] = subprocess.Popen(list(command), cwd=PROJECT_ROOT, env=self.env, stdout=log,
                                                  stderr=subprocess.STDOUT, start_new_session=True)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "".join(f"\n--- {name} ---\n" + "\n".join(self.log(name).splitlines()[-25:]) for name in self.running)

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}{self.logs()}")

    def stop(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM to each main process, as systemd stops them; their exit codes."""
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                codes[name] = None
        self.kill_leftovers()
        return codes

    def kill_leftovers(self) -> None:
        for process in self.running.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)  # its session's group: nothing of ours outlives the test
            except ProcessLookupError:
                pass
            if process.poll() is None:
                process.wait(timeout=10)


class FormFields(HTMLParser):
    """The fields of a page's forms with the values a browser would submit untouched."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "checkbox", "radio", "file"):
            self.fields[name] = attrs.get("value") or ""
        elif tag == "input" and name and attrs.get("type") in ("checkbox", "radio") and "checked" in attrs:
            self.fields[name] = attrs.get("value") or "y"
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            if self._select not in self.fields or "selected" in attrs:
                self.fields[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


class Browser:
    """A coordinator's browser reaching gunicorn through nginx: https as far as the app can tell.

    Cookies are kept by hand because they are Secure (a cookie jar would not send them to http://127.0.0.1).
    """

    def __init__(self, port: int, forwarded_for: str = "203.0.113.7"):
        self.base = f"http://127.0.0.1:{port}"
        self.forwarded_for = forwarded_for  # the visitor's address nginx passes on (rate limits count by it)
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(NoRedirects)

    def request(self, method: str, path: str, data: dict | None = None, request_id: str | None = None):
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": SITE, "X-Forwarded-For": self.forwarded_for,
                   "Referer": f"https://{SITE}{path}"}  # Flask-WTF checks the Referer of an https POST
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if request_id:
            headers["X-Request-ID"] = request_id
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            response = self.opener.open(urllib.request.Request(self.base + path, body, headers, method=method),
                                        timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)  # a cookie being cleared
                else:
                    assert morsel["secure"], header  # behind https, every cookie we are given is Secure
                    self.cookies[name] = morsel.value
        return response.status, response.headers, response.read().decode()

    def submit(self, path: str, request_id: str | None = None, **values) -> tuple[int, str]:
        """Open the page and submit its form with `values` changed; (status, Location)."""
        status, _headers, page = self.request("GET", path)
        assert status == 200, (path, status, page[:500])
        parser = FormFields()
        parser.feed(page)
        status, headers, body = self.request("POST", path, {**parser.fields, **values}, request_id)
        assert status == 302, (path, status, body[:2000])
        return status, headers["Location"]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def run(env: dict[str, str], *command: str, stdin: str | None = None) -> str:
    done = subprocess.run(list(command), cwd=PROJECT_ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.timeout(180)
def test_the_documented_process_set_sends_an_announcement_end_to_end(app, database_url, redis_url, tmp_path):
    require(database_url.startswith("postgresql"), "PostgreSQL (TEST_DATABASE_URL)")
    web_port = free_port()
    with SMTPServer() as smtp:
        env = production_environment(database_url, redis_url, smtp.port, web_port)
        flask = str(BIN / "flask")
        # First start, as the guide gives it (the schema is already there: the upgrade finds nothing to do).
        run(env, flask, "db", "upgrade")
        run(env, flask, "lessons", "load")
        run(env, flask, "users", "create", "alice@example.org", "--name", "Alice", "--password", PASSWORD)

        processes = Processes(env, tmp_path)
        try:
            processes.start("web", str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py")
            processes.start("worker1", sys.executable, "-m", "jobs.worker")
            processes.start("worker2", sys.executable, "-m", "jobs.worker")
            processes.start("cron", sys.executable, "-m", "jobs.cron")
            browser = Browser(web_port)

            def web_answers():
                processes.check_alive()
                try:
                    return browser.request("GET", "/healthz")[0] == 200
                except OSError:
                    return False
            wait_until(web_answers, 60, "gunicorn to answer", interval=0.2, on_timeout=processes.logs)
            for name in ("worker1", "worker2"):
                wait_until(lambda: processes.check_alive() or "Listening on" in processes.log(name), 60,
                           f"{name} to listen", interval=0.2, on_timeout=processes.logs)

            _status, location = browser.submit("/login", email="alice@example.org", password=PASSWORD)
            assert "/login" not in location
            _status, location = browser.submit("/communities/new", name="Riverside COP")
            community = re.search(r"/communities/(\d+)$", location).group(1)
            browser.submit(f"/communities/{community}/members/new", name="Ana Torres", email="ana@example.net",
                           organization="Casa Verde", send_welcome="")
            browser.submit(f"/communities/{community}/announcements/new", request_id="announce-click-0001",
                           subject="Potluck on Friday", body="Bring a dish to share.")

            def announcement():
                processes.check_alive()
                return [m for m in smtp.handler.to("ana@example.net")
                        if m.message["Subject"] == "Potluck on Friday"]
            received, = wait_until(announcement, 60, "the announcement to reach the SMTP server", interval=0.2,
                                   on_timeout=processes.logs)
            message = received.message
            assert message["From"] == "Riverside COP <cop@example.org>"
            text = message.get_body(("plain",)).get_content()
            assert "Bring a dish to share." in text and f"https://{SITE}/" in text
            assert "Riverside Training Center" in text

            # One request id from the proxy's header to gunicorn's access line and the worker that delivered it.
            access = [line for line in processes.log("web").splitlines()
                      if "gunicorn.access" in line and "announcements/new" in line and '"POST ' in line]
            assert len(access) == 1 and access[0].endswith("request_id=announce-click-0001")

            def delivered_lines():  # the job logs its line once it has recorded the outcome, after the server's 250
                return [line for name in ("worker1", "worker2") for line in processes.log(name).splitlines()
                        if " INFO jobs.delivery " in line and line.endswith("request_id=announce-click-0001")]
            delivered = wait_until(delivered_lines, 30, "the worker's delivery line", interval=0.1,
                                   on_timeout=processes.logs)
            assert delivered == [delivered[0]] and "1 sent" in delivered[0]
            processes.check_alive()
        finally:
            codes = processes.stop()
        assert codes == {"web": 0, "worker1": 0, "worker2": 0, "cron": 0}, processes.logs()
