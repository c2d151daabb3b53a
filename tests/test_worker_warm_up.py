"""The worker's warm-up is a speed-up only: it never keeps a worker from starting."""
import logging

from jobs.context import warm_up
from service import create_app
from service.email_render import _environment


def test_a_worker_starts_even_when_the_database_is_not_up_yet(tmp_path, caplog):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/not_there",
                      "INSTANCE_DIR": str(tmp_path)})
    with caplog.at_level(logging.WARNING):
        warm_up(app)  # no exception: jobs will report the database themselves once they run
    assert "worker warm-up could not reach the database" in caplog.text
    # The rest of the warm-up still happened: every email template is compiled, in every language.
    for language in app.config["LANGUAGES"]:
        compiled = {name for _loader, name in _environment(language).cache.keys()}
        assert {"layout.html", "digest.html", "meeting_invitation.txt"} <= compiled
