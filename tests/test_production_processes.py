"""The production process set, started with the operations guide's commands, sends an announcement end to end.

gunicorn with deploy/gunicorn.conf.py, two `python -m jobs.worker` and one `python -m jobs.cron`, all with
APP_ENV=production against the test's PostgreSQL and Redis and an SMTP server started here. A coordinator
made with `flask users create` logs in over HTTP as a browser behind nginx would (X-Forwarded-Proto https,
PROXY_COUNT=1: the session cookie is Secure), creates a community, adds a member and writes to it; the
member's email arrives, and the click's request id is on the web's and the worker's log lines.
"""
import re
import sys

import pytest

from tests.production_stack import BIN, PASSWORD, SITE, Browser, Processes, production_environment, run
from tests.services import require
from tests.smtp_server import SMTPServer, free_port
from tests.worker_process import wait_until


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
