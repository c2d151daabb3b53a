"""Schedule for `rq cron jobs/cron.py` (one such process per deployment)."""
import os

from rq import cron

from jobs.digests import tick
from jobs.sweeper import sweep

QUEUE = os.environ.get("RQ_QUEUE", "cop")

cron.register(sweep, queue_name=QUEUE, interval=60)
cron.register(tick, queue_name=QUEUE, interval=60)
