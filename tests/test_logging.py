"""One log format everywhere, JSON lines on request, and a request id that follows a click into the jobs it caused."""
import io
import json
import logging
import re

import pytest
from flask import current_app

from service import create_app, logging_setup
from service.config import ConfigError, load_settings
from service.request_id import HEADER
from tests.conftest import csrf_from
from tests.worker_process import WorkerProcess, wait_until

ISO_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 (INFO|WARNING|ERROR|DEBUG) \S+ .*$")


@pytest.fixture
def log_lines():
    """Our handler on the root logger for this test, writing to a buffer; the lines it wrote."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    logging_setup.configure_logging("text", "INFO", stream=buffer)
    yield lambda: buffer.getvalue().splitlines()
    for handler in [h for h in root.handlers if getattr(h, "cop_handler", False)]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="module")
def logging_app(tmp_path_factory):
    """An app with one extra page that logs a line, as any view does when something goes wrong."""
    app = create_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path_factory.mktemp("logging"))})

    @app.route("/_log-a-line")
    def log_a_line():
        current_app.logger.warning("something worth a line")
        return "logged"
    return app


def test_a_text_line_has_an_iso_time_level_logger_and_message():
    record = logging.LogRecord("jobs.cron", logging.WARNING, __file__, 1, "Redis does not answer (%s)", ("refused",),
                               None)
    line = logging_setup.TextFormatter().format(record)
    assert ISO_LINE.match(line)
    assert line.endswith(" WARNING jobs.cron Redis does not answer (refused)")


def test_json_lines_parse_and_keep_the_traceback():
    buffer = io.StringIO()
    logger = logging.getLogger("test_logging.json")
    handler = logging_setup.make_handler("json", buffer)
    logger.addHandler(handler)
    try:
        try:
            1 / 0
        except ZeroDivisionError:
            logger.exception("sending outbox row %s failed", 7)
    finally:
        logger.removeHandler(handler)
    line, = buffer.getvalue().splitlines()  # the traceback stays inside the one JSON line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "test_logging.json"
    assert entry["message"] == "sending outbox row 7 failed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert "ZeroDivisionError" in entry["exc_info"]


@pytest.mark.parametrize("name, value", [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD")])
def test_an_unknown_log_setting_stops_start_up_naming_it(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_a_web_request_line_carries_the_proxy_request_id_which_the_response_echoes(logging_app, log_lines):
    response = logging_app.test_client().get("/_log-a-line", headers={HEADER: "nginx-4f1c9a0b7e"})
    assert response.headers[HEADER] == "nginx-4f1c9a0b7e"
    line, = [entry for entry in log_lines() if "something worth a line" in entry]
    assert ISO_LINE.match(line) and line.endswith("something worth a line request_id=nginx-4f1c9a0b7e")


@pytest.mark.parametrize("forged", ["short", "fake\" request_id=admin", "a b c d e f g h", "x" * 200, "ñandú-12345"])
def test_an_unsafe_request_id_is_replaced_by_a_new_one(logging_app, log_lines, forged):
    response = logging_app.test_client().get("/_log-a-line", headers={HEADER: forged})
    new_id = response.headers[HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", new_id)
    line, = [entry for entry in log_lines() if "something worth a line" in entry]
    assert line.endswith(f"request_id={new_id}") and forged not in line


def test_every_request_gets_its_own_id(logging_app):
    client = logging_app.test_client()
    ids = {client.get("/healthz").headers[HEADER] for _ in range(3)}
    assert len(ids) == 3


def test_the_job_a_request_enqueued_logs_the_same_request_id(app, personas, smtp, alice_client, tmp_path):
    """An announcement sent from the dashboard; the worker (JSON lines) logs its delivery with the click's id."""
    url = f"/communities/{personas['riverside']}/announcements/new"
    page = alice_client.get(url).get_data(as_text=True)
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)
    worker = WorkerProcess(app, app.config["MAIL_PORT"], tmp_path / "worker.log", LOG_FORMAT="json")
    try:
        worker.start().wait_ready()
        response = alice_client.post(url, data={"csrf_token": csrf_from(page), "nonce": nonce,
                                                "subject": "Potluck", "body": "Bring a dish."},
                                     headers={HEADER: "req-from-the-proxy-1"})
        assert response.status_code == 302 and response.headers[HEADER] == "req-from-the-proxy-1"

        def entries():
            return [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.strip()]

        def lines_of(logger, text):
            return [e for e in entries() if e["logger"] == logger and text in e["message"]]
        delivered, = wait_until(lambda: lines_of("jobs.delivery", "delivery"), 30, "the worker to log the delivery",
                                on_timeout=worker.log)
        assert delivered["request_id"] == "req-from-the-proxy-1"
        assert delivered["message"] == "delivery of 1 outbox rows: 1 sent"
        assert len(smtp.to("ana@example.org")) == 1
        job_ok, = wait_until(lambda: lines_of("rq.worker", "Job OK"), 30, "RQ's line for the job",
                             on_timeout=worker.log)
        assert job_ok["request_id"] == "req-from-the-proxy-1"
        # Every line the worker wrote is JSON with the same four fields; lines outside the job carry no id.
        assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries())
        started, = lines_of("rq.worker", "started with PID")
        assert "request_id" not in started
    finally:
        worker.stop()


def test_the_apps_own_processes_use_the_format_outside_tests(monkeypatch, tmp_path):
    """create_app (the worker, cron and `flask` commands build one) puts our handler on the root logger."""
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        create_app()
        ours = [h for h in root.handlers if getattr(h, "cop_handler", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, logging_setup.TextFormatter)
        create_app()  # a second app in the same process replaces it rather than doubling every line
        assert len([h for h in root.handlers if getattr(h, "cop_handler", False)]) == 1
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
