"""Where a worker's time goes per message: each step of delivery timed in one process.

A diagnostic beside fanout.py (which measures the real workers end to end):
`--messages` announcement rows (default 2,000) are queued through the outbox
and delivered by `service.delivery.deliver_batch` in this process, into the
same kind of local SMTP sink, with each step wrapped in a CPU-time counter:
rendering (with its signed footer links and CSS inlining shown inside it),
writing the MIME bytes, the SMTP client, recording the outcome, and the rest
(claiming, loading rows, the loop). In the same run, the baseline: the same
messages pre-built and sent with plain smtplib over one connection. It prints
CPU milliseconds per message for each step and each step's cost as a multiple
of the baseline's. It wraps the delivery module's own functions, so it follows
their names; it exits 0 whatever it finds.

The database (`cop_bench`) and Redis db (9) are fanout.py's, and reset the same way.
"""
import argparse
import contextlib
import functools
import os
import smtplib
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

import fanout  # noqa: E402  (guard rails, sink, schema reset, members, the email's context)
import report  # noqa: E402

# (label, module, attribute): the steps timed, in the order printed. Indented labels are
# parts of the step above them (already counted in it).
STEPS = [("render", "service.batch_render", "BatchRenderer.render"),
         ("  signed footer links", "service.batch_render", "member_links"),
         ("  CSS inlining", "service.email_render", "inline_css"),
         ("MIME bytes", "service.delivery", "to_bytes"),
         ("SMTP client", "service.delivery", "send_message"),
         ("outcome committed", "service.delivery", "Batch._finish"),
         ("claim", "service.claims", "claim"),
         ("load rows", "service.claims", "load"),
         ("suppression lookup", "service.delivery", "suppressed_addresses")]


_OPEN: list[list[float]] = []  # per timed step running: the CPU and wall time of top-level steps inside it


def timed(spent: dict, label: str, function):
    """`function`, adding its CPU time to spent[label] and its wall-clock time to spent[(label, "wall")].

    A top-level step that runs inside another (the next message rendered
    while the SMTP client waits for the server) counts as itself only.
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started, wall = time.thread_time(), time.perf_counter()
        _OPEN.append([0.0, 0.0])
        try:
            return function(*args, **kwargs)
        finally:
            inner_cpu, inner_wall = _OPEN.pop()
            cpu, elapsed = time.thread_time() - started, time.perf_counter() - wall
            spent[label] += cpu - inner_cpu
            spent[(label, "wall")] += elapsed - inner_wall
            if _OPEN and not label.startswith(" "):
                _OPEN[-1][0] += cpu
                _OPEN[-1][1] += elapsed
    return wrapper


def instrument(spent: dict) -> None:
    import importlib
    for label, module_name, path in STEPS:
        owner = importlib.import_module(module_name)
        *parents, attribute = path.split(".")
        for parent in parents:  # a method: wrap it on its class
            owner = getattr(owner, parent)
        setattr(owner, attribute, timed(spent, label, getattr(owner, attribute)))


def baseline_ms(port: int, messages: list) -> tuple[float, float]:
    """CPU and wall-clock ms per message for plain smtplib sending pre-built messages over one connection."""
    started, wall = time.process_time(), time.perf_counter()
    connection = smtplib.SMTP("127.0.0.1", port)
    for envelope_from, recipient, raw in messages:
        connection.sendmail(envelope_from, [recipient], raw)
    connection.quit()
    return ((time.process_time() - started) * 1000 / len(messages),
            (time.perf_counter() - wall) * 1000 / len(messages))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="500 messages")
    fanout.add_target_arguments(parser)
    args, _unknown = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    size = 500 if args.quick else args.messages
    with one_process_delivery(args, size, "cop-bench-steps-") as (app, community_id, context, sink):
        messages = fanout.prebuild_messages(app, community_id, size, context)
        baseline = baseline_ms(sink.port, messages)
        ids = queue(app, community_id, size, context)
        spent: dict[str, float] = defaultdict(float)
        instrument(spent)
        started, wall = time.process_time(), time.perf_counter()
        deliver_all(app, ids)
        total = (time.process_time() - started) * 1000 / size, (time.perf_counter() - wall) * 1000 / size
    print_report(spent, total, baseline, size)
    return 0


@contextlib.contextmanager
def one_process_delivery(args, size: int, instance_prefix: str):
    """(app, community id, the email's context, sink): a warmed worker's app on the target database and Redis
    db, reset, with one community of `size` members, whose mail goes to a local SMTP sink (stopped after)."""
    fanout.prepare_targets(args)
    sink = fanout.Sink()
    try:
        os.environ.update({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "RQ_QUEUE": "cop",
                           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink.port),
                           "INSTANCE_DIR": tempfile.mkdtemp(prefix=instance_prefix)})
        from jobs.context import warm_up, worker_app
        app = worker_app()
        fanout.reset_schema(app)
        community_id = fanout.create_members(app, size)
        warm_up(app)  # as a worker does before its first job
        yield app, community_id, fanout.digest_context(), sink
    finally:
        sink.stop()


def deliver_all(app, ids: list[int]) -> None:
    """The rows delivered in this process, MAIL_BATCH_SIZE at a time, as the delivery jobs would."""
    from service.delivery import deliver_batch
    batch = app.config["MAIL_BATCH_SIZE"]
    for start in range(0, len(ids), batch):
        with app.app_context():
            outcome = deliver_batch(ids[start:start + batch])
            if outcome["sent"] != len(ids[start:start + batch]):
                raise RuntimeError(f"not every message was sent: {outcome}")


def queue(app, community_id: int, size: int, context: dict) -> list[int]:
    from sqlalchemy import select
    from service import mailer
    from service.extensions import db
    from service.models import Community, Member, OutboundEmail
    fanout.clear_outbox(app)
    with app.app_context():
        community = db.session.get(Community, community_id)
        members = db.session.scalars(select(Member).order_by(Member.id).limit(size)).all()
        run = time.time_ns()
        mailer.queue_bulk(fanout.KIND, members, lambda m: f"steps:{run}:{m.id}", lambda m: context, community)
        db.session.commit()
        ids = db.session.scalars(select(OutboundEmail.id).order_by(OutboundEmail.id)).all()
        db.session.remove()
    return ids


def print_report(spent: dict, total: tuple[float, float], baseline: tuple[float, float], size: int) -> None:
    print(f"\n{size} {fanout.KIND} emails delivered in one process; ms per message, CPU and wall-clock "
          f"(baseline: plain smtplib, pre-built, {baseline[0]:.3f} CPU, {baseline[1]:.3f} wall)")
    print(f"  {'step':<24} {'CPU':>7} {'x baseline':>11} {'wall':>7}")
    counted = 0.0
    for label, _module, _attribute in STEPS:
        value, wall = spent[label] * 1000 / size, spent[(label, "wall")] * 1000 / size
        if not label.startswith(" "):
            counted += value
        print(f"  {label:<24} {value:>7.3f} {value / baseline[0]:>11.2f} {wall:>7.3f}")
    rest = total[0] - counted
    print(f"  {'the loop':<24} {rest:>7.3f} {rest / baseline[0]:>11.2f}")
    print(f"  {'total':<24} {total[0]:>7.3f} {total[0] / baseline[0]:>11.2f} {total[1]:>7.3f}"
          f"   (wall-clock {total[1] / baseline[1]:.2f} x the baseline's)")
    report.figure("CPU per message / smtplib's (a diagnostic: no target)", total[0] / baseline[0],
                  baseline=f"plain smtplib, pre-built, {baseline[0]:.3f} ms")


if __name__ == "__main__":
    sys.exit(main())
