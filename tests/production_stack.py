"""The service as an organization runs it, started by a test: the deployment samples' processes, all real.

- nginx with deploy/nginx/cop.conf (TLS with a throw-away certificate, the forwarded headers PROXY_COUNT=1
  believes) in front of gunicorn with deploy/gunicorn.conf.py;
- two `python -m jobs.worker` processes (RQ with its scheduler) and one `python -m jobs.cron`;
- `flask mail smtp-receiver`, the MX for INBOUND_DOMAIN, where members' replies arrive;
- an SMTP server catching what we send (tests/smtp_server.py);
- a PostgreSQL database of its own, created empty and migrated from nothing by `flask db upgrade`, and the
  test's Redis db.

Everything runs with APP_ENV=production and the settings of deploy/cop.env.example. A browser reaches the site
at PUBLIC_BASE_URL (https://cop.example.org) through `chromium_args()`, which points that name at nginx; the
links in our emails are followed as a member's browser would follow them.
"""
import contextlib
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.config import PROJECT_ROOT
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.services import require
from tests.smtp_server import SMTPServer, free_port
from tests.worker_process import wait_until

SITE = "cop.example.org"  # PUBLIC_BASE_URL's host, which nginx serves
PUBLIC_BASE_URL = f"https://{SITE}"
INBOUND_DOMAIN = "mail.cop.example.org"
SENDER = "Riverside COP <cop@example.org>"
BIN = Path(sys.executable).parent  # the virtualenv's bin/: .venv/bin/ in the guide
PASSWORD = "a long enough password"
DEPLOY = PROJECT_ROOT / "deploy"
URL = re.compile(r"https?://[^\s<>\"')\]]+")


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
        "MAIL_DEFAULT_SENDER": SENDER,
        "POSTAL_ADDRESS": "Riverside Training Center, 12 Elm Street, Springfield",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "INBOUND_DOMAIN": INBOUND_DOMAIN,
        "PROXY_COUNT": "1",
        "BIND": f"127.0.0.1:{web_port}",
        "WEB_CONCURRENCY": "2",
        "FLASK_APP": "wsgi.py",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def run(env: dict[str, str], *command: str, stdin: str | bytes | None = None) -> str:
    """Run a command as the operations guide does; its standard output, or fail with what it printed."""
    done = subprocess.run(list(command), cwd=PROJECT_ROOT, env=env, input=stdin, capture_output=True,
                          text=not isinstance(stdin, bytes), timeout=120)
    out = done.stdout if isinstance(done.stdout, str) else done.stdout.decode(errors="replace")
    err = done.stderr if isinstance(done.stderr, str) else done.stderr.decode(errors="replace")
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{out}\n{err}"
    return out


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


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A coordinator's browser reaching gunicorn as nginx forwards it: https as far as the app can tell.

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


def fresh_database(base_url: str, name: str) -> str:
    """An empty PostgreSQL database `name` on base_url's server (dropped first if a past run left it)."""
    url = make_url(base_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def nginx_site(tmp: Path, https_port: int, http_port: int, web_port: int) -> Path:
    """deploy/nginx/cop.conf with a throw-away certificate, local ports and logs under `tmp`; the nginx.conf."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    f"/CN={SITE}", "-addext", f"subjectAltName=DNS:{SITE}", "-keyout", str(tmp / "key.pem"),
                    "-out", str(tmp / "cert.pem")], check=True, capture_output=True)
    site = ((DEPLOY / "nginx" / "cop.conf").read_text()
            .replace("/etc/letsencrypt/live/cop.example.org/fullchain.pem", str(tmp / "cert.pem"))
            .replace("/etc/letsencrypt/live/cop.example.org/privkey.pem", str(tmp / "key.pem"))
            .replace("/var/log/nginx/", f"{tmp}/")
            .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{web_port};")
            .replace("listen [::]:80;\n", "").replace("listen [::]:443 ssl http2;\n", "")
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"))
    assert str(web_port) in site and str(https_port) in site, "deploy/nginx/cop.conf changed shape"
    (tmp / "cop.conf").write_text(site)
    user = "user root;\n" if os.geteuid() == 0 else ""  # its workers read the key and write temp files in tmp
    conf = tmp / "nginx.conf"
    conf.write_text(f"{user}daemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
                    f"http {{\n  access_log off;\n  include {tmp}/cop.conf;\n}}\n")
    return conf


class ProductionStack:
    """Start with `with ProductionStack(database_url, redis_url, tmp_path) as stack:`; everything stops on exit.

    `stack.flask(...)` runs an administration command, `stack.create_account(...)` the first account,
    `stack.wait_for_mail(...)` reads what reached our SMTP server, `stack.send_mail(...)` delivers a member's
    message to our MX, and `stack.chromium_args()` lets a browser open PUBLIC_BASE_URL.
    """

    def __init__(self, database_url: str, redis_url: str, tmp_path: Path, database_name: str = "cop_stack"):
        require(database_url.startswith("postgresql"), "PostgreSQL (TEST_DATABASE_URL)")
        require(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"), "nginx (Debian's nginx-light)")
        # Named after the test database it is given (test_gw1 -> test_gw1_cop_stack), which is this worker's own:
        # a fixed name was dropped and made again by another run of the suite on the same server.
        self.database_url = fresh_database(database_url, f"{make_url(database_url).database}_{database_name}")
        self.redis_url, self.tmp = redis_url, tmp_path
        self.web_port, self.https_port, self.http_port, self.mx_port = (free_port() for _ in range(4))
        self.smtp = SMTPServer()
        self.env: dict[str, str] = {}
        self.processes: Processes | None = None

    # --- starting and stopping -------------------------------------------------------------------------------

    def __enter__(self) -> "ProductionStack":
        self.smtp.__enter__()
        try:
            self.env = production_environment(self.database_url, self.redis_url, self.smtp.port, self.web_port)
            self.flask("db", "upgrade")
            self.flask("lessons", "load")
            self.processes = Processes(self.env, self.tmp)
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            self.processes.start("nginx", nginx, "-p", str(self.tmp), "-e", str(self.tmp / "error.log"),
                                 "-c", str(nginx_site(self.tmp, self.https_port, self.http_port, self.web_port)))
            self.processes.start("web", str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py")
            self.processes.start("worker1", sys.executable, "-m", "jobs.worker")
            self.processes.start("worker2", sys.executable, "-m", "jobs.worker")
            self.processes.start("cron", sys.executable, "-m", "jobs.cron")
            self.processes.start("mx", str(BIN / "flask"), "mail", "smtp-receiver", "--port", str(self.mx_port))
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        def web_answers():
            self.processes.check_alive()
            try:
                return self.get("/healthz")[0] == 200
            except OSError:
                return False
        wait_until(web_answers, 60, "nginx and gunicorn to answer", interval=0.2, on_timeout=self.processes.logs)
        for name in ("worker1", "worker2"):
            wait_until(lambda: self.processes.check_alive() or "Listening on" in self.processes.log(name), 60,
                       f"{name} to listen", interval=0.2, on_timeout=self.processes.logs)
        wait_until(lambda: self.processes.check_alive() or "Receiving mail" in self.processes.log("mx"), 60,
                   "the SMTP receiver to listen", interval=0.2, on_timeout=self.processes.logs)

    def __exit__(self, *exc) -> None:
        codes = self.processes.stop() if self.processes else {}
        self.smtp.__exit__(None, None, None)
        if exc[0] is None and codes:
            assert all(code == 0 for name, code in codes.items() if name != "nginx"), (codes, self.processes.logs())

    def check_alive(self) -> None:
        self.processes.check_alive()

    # --- commands and plain HTTP -----------------------------------------------------------------------------

    def flask(self, *args: str, stdin: str | bytes | None = None) -> str:
        return run(self.env, str(BIN / "flask"), *args, stdin=stdin)

    def create_account(self, email: str, name: str, password: str = PASSWORD, admin: bool = False) -> None:
        self.flask("users", "create", email, "--name", name, "--password", password, *(["--admin"] if admin else []))

    def get(self, path: str) -> tuple[int, str]:
        """GET through nginx over TLS (certificate not checked: it is the throw-away one)."""
        import ssl
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        request = urllib.request.Request(f"https://127.0.0.1:{self.https_port}{path}", headers={"Host": SITE})
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def chromium_args(self) -> list[str]:
        """Chromium flags that send https://cop.example.org to this stack's nginx (open the context with
        ignore_https_errors=True: the certificate is the throw-away one)."""
        return [f"--host-resolver-rules=MAP {SITE}:443 127.0.0.1:{self.https_port}, MAP {SITE}:80 "
                f"127.0.0.1:{self.http_port}"]

    # --- mail ------------------------------------------------------------------------------------------------

    def mail_to(self, address: str) -> list[EmailMessage]:
        """Every message our SMTP server received for `address`, oldest first."""
        return [received.message for received in self.smtp.handler.to(address)]

    def wait_for_mail(self, address: str, subject: str | re.Pattern | None = None, count: int = 1,
                      timeout: float = 90) -> EmailMessage:
        """The `count`-th message to `address` (whose Subject contains `subject`, or matches it), waiting for it."""
        def matching():
            self.check_alive()
            found = [m for m in self.mail_to(address) if subject is None
                     or (subject.search(str(m["Subject"])) if isinstance(subject, re.Pattern)
                         else subject in str(m["Subject"]))]
            return found[count - 1] if len(found) >= count else None
        return wait_until(matching, timeout, f"email #{count} to {address} ({subject})", interval=0.2,
                          on_timeout=lambda: self._mail_summary(address) + self.processes.logs())

    def _mail_summary(self, address: str) -> str:
        return "\nreceived for that address: " + repr([str(m["Subject"]) for m in self.mail_to(address)])

    def send_mail(self, message: EmailMessage | bytes, to: str | None = None, mail_from: str | None = None) -> None:
        """Deliver a message to our MX as the member's provider would (envelope from its From, to its To)."""
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        parsed = message_from_bytes(raw, policy=policy.default)
        recipients = [to] if to else [a.addr_spec for a in parsed["To"].addresses]
        sender = mail_from or parsed["From"].addresses[0].addr_spec
        with smtplib.SMTP("127.0.0.1", self.mx_port, timeout=30) as client:
            client.sendmail(sender, recipients, raw)


def text_of(message: EmailMessage) -> str:
    """The plain-text part a member reads."""
    return message.get_body(("plain",)).get_content()


def links_in(message: EmailMessage) -> list[str]:
    """Every link of the plain-text part, in order."""
    return URL.findall(text_of(message))


def reply_to(original: EmailMessage, body: str, sender: str, subject: str | None = None) -> EmailMessage:
    """A member's reply as a mail client writes it: to the Reply-To, threaded, with the original quoted."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(original["Reply-To"] or original["From"])
    reply["Subject"] = subject or f"Re: {original['Subject']}"
    reply["Message-ID"] = f"<{time.monotonic_ns()}.{os.getpid()}@member.example.net>"
    reply["In-Reply-To"] = original["Message-ID"]
    reply["References"] = " ".join(filter(None, [str(original["References"] or ""), str(original["Message-ID"])]))
    reply["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    quoted = "\n".join("> " + line for line in text_of(original).splitlines())
    reply.set_content(f"{body}\n\nOn a weekday, {original['From']} wrote:\n{quoted}\n")
    return reply


@contextlib.contextmanager
def chromium_for(stack: ProductionStack):
    """Debian's Chromium, with https://cop.example.org pointed at the stack's nginx (open its contexts with
    ignore_https_errors=True: the certificate is the throw-away one)."""
    require(os.access(CHROMIUM, os.X_OK), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + stack.chromium_args())
        try:
            yield browser
        finally:
            browser.close()
