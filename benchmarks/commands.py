"""Commands through the application layer (load → decide → save, one command per transaction) against the
eventsourcing library's bare ``Application.save`` of one event per transaction, in the same PostgreSQL.

    python -m benchmarks.commands --url URL --database bench_medium_20261123 [--rounds 5 --per-round 200]

Ours: ``report_progress`` on open (assigned) hazards of the generated history, by the school's 校长, through
``SafetyApplication`` — the hazard is loaded from its events, the rules decide (a passed deadline is recorded
first), the new events are saved. Baseline: an aggregate kept in memory records one event and the library saves
it, in a table of its own in the same database. One client, rounds alternate ours / baseline.

Before the rounds, the deadlines that passed in the generated history are recorded as missed on the target
hazards, as the deadline watcher (off while measuring) records them the moment they pass: otherwise the first
command on each overdue hazard would also do the watcher's work (two events instead of one).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from benchmarks.common import Figure, figure, percentile, setup_django


class Tally(Aggregate):
    """The smallest aggregate: one event per call."""

    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class BareApplication(Application[UUID]):
    name = "BareBench"


def principals() -> dict[UUID, Any]:
    """The 校长 of every school, as the actor of the commands."""
    from domain.policy import Actor, Role
    from projections.directory import StaffView

    rows = StaffView.objects.filter(role=Role.SCHOOL_PRINCIPAL.value).values_list("username", "unit")
    return {unit: Actor(username, Role.SCHOOL_PRINCIPAL, unit) for username, unit in rows}


def open_hazards(limit: int, seed: int = 8) -> list[tuple[UUID, UUID]]:
    """(hazard, school) of assigned hazards, shuffled: commands spread over the log like real ones."""
    from projections.hazard.rows import HazardLedger

    rows = list(HazardLedger.objects.filter(status="assigned").values_list("id", "school")[: limit * 4])
    random.Random(seed).shuffle(rows)
    return rows[:limit]


def record_missed_deadlines(app: Any, hazards: list[UUID]) -> int:
    """The deadline watcher's pass over ``hazards`` (then the read models caught up); how many it recorded."""
    from projections.runner import catch_up

    recorded = sum(app.record_due_deadline_miss(hazard) is not None for hazard in hazards)
    catch_up(app, batch_size=5000)
    return recorded


def measure(args: dict[str, Any]) -> list[Figure]:
    setup_django(args["url"], args["database"])
    from projections.eventstore import application_env, get_application

    rounds, per_round = int(args.get("rounds", 5)), int(args.get("per_round", 200))
    app = get_application()
    # the baseline: the library as it comes, on its own connection pool
    bare = BareApplication(env={**application_env(create_table=True), "PERSISTENCE_MODULE": "eventsourcing.postgres"})
    from projections.runner import catch_up

    catch_up(app, batch_size=5000)  # a restored dataset holds the log alone unless a rebuild ran before
    actors = principals()
    targets = open_hazards(rounds * per_round)
    if not targets:
        raise RuntimeError("no assigned hazards in the dataset")
    missed = record_missed_deadlines(app, [h for h, _ in targets])
    tally = Tally()
    bare.save(tally)
    ours_rates: list[float] = []
    base_rates: list[float] = []
    ours_ms: list[float] = []
    base_ms: list[float] = []
    refused = 0
    for r in range(rounds):
        started = time.perf_counter()
        for i in range(per_round):
            hazard, school = targets[(r * per_round + i) % len(targets)]
            t = time.perf_counter()
            try:
                app.report_progress(hazard, actor=actors[school], note="进行中", percent=(i % 9 + 1) * 10)
            except Exception:  # a hazard the log has moved on (e.g. rectified meanwhile): counted, not hidden
                refused += 1
            ours_ms.append((time.perf_counter() - t) * 1000)
        ours_rates.append(per_round / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(per_round):
            t = time.perf_counter()
            tally.count_one()
            bare.save(tally)
            base_ms.append((time.perf_counter() - t) * 1000)
        base_rates.append(per_round / (time.perf_counter() - started))
    bare.close()
    ours, base = statistics.median(ours_rates), statistics.median(base_rates)
    detail = (
        f"{rounds}×{per_round} commands each, alternating; p50/p99 ours {percentile(ours_ms, 50):.1f}/"
        f"{percentile(ours_ms, 99):.1f} ms, bare {percentile(base_ms, 50):.1f}/{percentile(base_ms, 99):.1f} ms"
        f"; refused {refused}; {missed} passed deadlines recorded first, as the watcher does"
    )
    return [
        figure(
            "commands: application layer (PostgreSQL)",
            ours,
            base,
            "commands/s",
            "ratio ≥ 0.8 vs bare Application.save",
            ours / base >= 0.8,
            detail=detail,
        )
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args(argv)
    print(json.dumps(measure(vars(args)), ensure_ascii=False, indent=2))
    from projections.eventstore import set_application

    set_application(None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
