"""The members of bench/member_traffic.py: each a thread with its own connection and cookie jar, following the
links of its own emails over and over (form page, its POST, RSVP page, its POST, preferences page), every
request timed and filed under the phase the run was in when it started.

Nothing here knows about fan-outs or servers: `Crowd` runs until told to stop, `phase` is whatever label the
caller sets meanwhile, and `summary` turns the records into per-page, per-phase figures.
"""
import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
RSVP_ANSWERS = ("yes", "maybe", "no")
PAGES = ("form GET", "form POST", "RSVP GET", "RSVP POST", "preferences GET")
EXPECTED = {"form GET": 200, "form POST": 303, "RSVP GET": 200, "RSVP POST": 200, "preferences GET": 200}
TIMEOUT = 60  # gunicorn's own timeout: a request slower than this is an error, not a figure


@dataclass
class Links:
    """One member's links, as paths (with query) on the server: what their emails carry."""
    form: str
    rsvp: str
    preferences: str
    address: str  # the member's own client address, forwarded as nginx would


@dataclass
class Record:
    page: str
    phase: str
    ms: float
    error: str | None


class Member:
    """A member's browser, reduced to what matters here: one connection, one cookie jar."""

    def __init__(self, port: int, host: str, links: Links):
        self.port, self.host, self.links = port, host, links
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.cookies: dict[str, str] = {}
        self.page_path = links.form

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        """As nginx would pass it on: https, the member's address; a POST names the page it was sent from
        (as a browser does under the app's same-origin Referrer-Policy, and as CSRF checks over https need)."""
        headers = {"Host": self.host, "X-Forwarded-For": self.links.address, "X-Forwarded-Proto": "https"}
        if method == "POST":
            headers["Referer"] = f"https://{self.host}{self.page_path}"
        else:
            self.page_path = path
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            self.connection.close()  # the next request opens a new one
            raise
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            if "max-age=0" in header.lower().replace(" ", ""):
                self.cookies.pop(name.strip(), None)  # a cookie cleared, as a browser forgets it
            else:
                self.cookies[name.strip()] = value.strip()
        return response.status, text

    def close(self) -> None:
        self.connection.close()


def csrf_of(page: str) -> str:
    match = CSRF_RE.search(page)
    if not match:
        raise ValueError("no CSRF token on the page")
    return match.group(1) or match.group(2)


def journey(member: Member, turn: int):
    """One pass through the member's links: yields (page, method, path, form or a function of the last page)."""
    links = member.links
    answer = RSVP_ANSWERS[turn % len(RSVP_ANSWERS)]
    yield "form GET", "GET", links.form, None
    yield "form POST", "POST", links.form, lambda page: {
        "csrf_token": csrf_of(page), "usefulness": str(1 + turn % 5), "recommend": str(turn % 11),
        "what_worked": f"The breakout rooms, visit {turn}", "what_to_change": "Shorter introductions",
        "next_topics": "Volunteer retention", "submit": "Submit"}
    yield "RSVP GET", "GET", f"{links.rsvp}?answer={answer}", None
    yield "RSVP POST", "POST", links.rsvp, lambda page: {"csrf_token": csrf_of(page), "note": "",
                                                          "answer": answer}
    yield "preferences GET", "GET", links.preferences, None


class Crowd:
    """`links` members at once, each in its own thread, until stop(); `phase` labels what they record."""

    def __init__(self, port: int, host: str, links: list[Links], think_seconds: float = 0.0):
        self.phase = "warm-up"
        self.records: list[Record] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._think = think_seconds
        self._threads = [threading.Thread(target=self._run, args=(Member(port, host, member_links),), daemon=True)
                         for member_links in links]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(TIMEOUT + 10)

    def fewest(self, phase: str) -> int:
        """The number of requests started in `phase` of the page that has the fewest."""
        with self._lock:
            counts = {page: 0 for page in PAGES}
            for record in self.records:
                if record.phase == phase:
                    counts[record.page] += 1
        return min(counts.values())

    def _run(self, member: Member) -> None:
        turn, page = 0, ""
        while not self._stopping.is_set():
            for name, method, path, form in journey(member, turn):
                if self._stopping.is_set():
                    break
                phase, began = self.phase, time.perf_counter()
                error = None
                try:
                    status, body = member.request(method, path, form(page) if callable(form) else None)
                    if status != EXPECTED[name]:
                        error = f"HTTP {status}"
                    elif method == "GET":
                        page = body
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    error = repr(exc)
                record = Record(name, phase, (time.perf_counter() - began) * 1000, error)
                with self._lock:
                    self.records.append(record)
                if error:
                    break  # start the journey again from its first page
                if self._think:
                    self._stopping.wait(self._think)
            turn += 1
        member.close()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class PageFigures:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_errors: list[str] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 0.95)


def summary(records: list[Record], phase: str) -> dict[str, PageFigures]:
    """Per page: requests started in `phase`, errors, latencies (of the successful ones)."""
    figures = {page: PageFigures() for page in PAGES}
    for record in records:
        if record.phase != phase:
            continue
        page = figures[record.page]
        page.requests += 1
        if record.error:
            page.errors += 1
            if len(page.first_errors) < 3:
                page.first_errors.append(record.error)
        else:
            page.latencies.append(record.ms)
    return figures
