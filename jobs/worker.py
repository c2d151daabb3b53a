"""Starts an RQ worker (with its scheduler) on this app's queue: `python -m jobs.worker`."""
import sys

from rq import Worker

from jobs.context import warm_up, worker_app
from service.queue import get_queue, redis_connection


def main() -> int:
    app = worker_app()
    warm_up(app)
    with app.app_context():
        queue, connection = get_queue(), redis_connection()
    Worker([queue], connection=connection).work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
