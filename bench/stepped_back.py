"""What a community's step back costs its mail: delivery with the leaders' names on From and Reply-To.

Once the TTA coordinator steps back (service.roles), every email of the
community is assembled with the leaders' names (service.senders), looked up
as it is rendered. This delivers `--messages` announcement rows (default
1,000) of the same community in one process with `service.delivery.
deliver_batch`, into fanout.py's local SMTP sink, alternately before and
after a step back, five times each, and prints the median CPU milliseconds
per message of each and their ratio. The target: the stepped-back
community's mail costs at most 1.15 times its mail before (the same run,
the same machine).

The database (`cop_bench`) and Redis db (9) are fanout.py's, and reset the same way.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

import delivery_steps  # noqa: E402  (the app and its sink, queueing and delivering the rows)
import fanout  # noqa: E402  (guard rails, sink, schema reset, members, the email's context)
import report  # noqa: E402

TARGET_RATIO = 1.15
ROUNDS = 5  # the medians of 3 moved by 15 % on a shared 2-core machine


def set_stepped_back(app, community_id: int, stepped_back: bool) -> None:
    """The community in its leaders' hands (two leader accounts) or not."""
    from sqlalchemy import select
    from service import clock
    from service.coordinators import create_coordinator
    from service.extensions import db
    from service.models import Community, CommunityCoordinator, Coordinator
    with app.app_context():
        community = db.session.get(Community, community_id)
        if not db.session.scalar(select(Coordinator.id).limit(1)):
            for email, name in (("ana.ruiz@example.org", "Ana Ruiz"), ("ben.ortiz@example.org", "Ben Ortiz")):
                leader = create_coordinator(email, name, None)
                db.session.flush()
                db.session.add(CommunityCoordinator(community_id=community_id, coordinator_id=leader.id,
                                                    role="leader"))
        community.stepped_back_at = clock.now() if stepped_back else None
        db.session.commit()
        db.session.remove()


def deliver_ms(app, community_id: int, size: int, context: dict) -> float:
    """CPU ms per message to deliver `size` announcements of the community."""
    ids = delivery_steps.queue(app, community_id, size, context)
    started = time.process_time()
    delivery_steps.deliver_all(app, ids)
    return (time.process_time() - started) * 1000 / size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="300 messages")
    fanout.add_target_arguments(parser)
    args, _unknown = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    size = 300 if args.quick else args.messages
    with delivery_steps.one_process_delivery(args, size, "cop-bench-stepped-back-") as (
            app, community_id, context, _sink):
        deliver_ms(app, community_id, min(size, 100), context)  # a warm-up run, not counted
        times = {False: [], True: []}
        for _round in range(ROUNDS):
            for stepped_back in (False, True):
                set_stepped_back(app, community_id, stepped_back)
                times[stepped_back].append(deliver_ms(app, community_id, size, context))
    before, after = statistics.median(times[False]), statistics.median(times[True])
    print(f"\n{size} {fanout.KIND} emails of one community delivered in one process, {ROUNDS} rounds; "
          f"median CPU ms per message")
    print(f"  before the step back (our sender)       {before:7.3f}")
    print(f"  after it (the leaders' names)           {after:7.3f}")
    fanout.print_verdicts([report.figure("CPU per message after the step back / before", after / before, "<=",
                                         TARGET_RATIO, baseline=f"before it, {before:.3f} ms",
                                         text=f"after / before = {after / before:.2f} (at most {TARGET_RATIO})")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
