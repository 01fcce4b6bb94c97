"""Full projection rebuild (every read model, ``manage.py rebuild_projections``) against decoding the log alone.

    python -m benchmarks.rebuild --url URL --database bench_medium_20261123 [--rounds 2]

Each side runs in its own process, so its peak RSS is its own: (a) ours, the management command with its
defaults (empty the read models, then project the log in batches of 5,000 — on PostgreSQL in 2 worker processes
sharing out the hazards by school, see ``projections/rebuild.py``); its peak memory is the largest sum, sampled
every 0.2 s, of the proportional set sizes (PSS: pages shared after the fork counted once) of this process and
its workers; (b) baseline, the same pages of the event table read and decoded into domain events in one process,
nothing written, with its peak RSS.
Rounds alternate a, b, a, b; the figures are the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, figure, python, setup_django

BATCH = 5000  # the command's default
WORKERS = 2  # the command's default


def measure(args: dict[str, Any]) -> list[Figure]:
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "decode": []}
    for _ in range(int(args.get("rounds", 2))):
        for side in runs:
            runs[side].append(_child(side, args["url"], args["database"]))
    ours = statistics.median(r["events"] / r["seconds"] for r in runs["ours"])
    base = statistics.median(r["events"] / r["seconds"] for r in runs["decode"])
    rss = max(r["rss_mb"] for r in runs["ours"])
    base_rss = max(r["rss_mb"] for r in runs["decode"])
    events = runs["ours"][0]["events"]
    large = args.get("size") == "large"
    rounds = ", ".join(f"{r['events'] / r['seconds']:,.0f}" for r in runs["ours"])
    cpu = statistics.median(r["events"] / r["cpu_s"] for r in runs["ours"] if r.get("cpu_s"))
    base_cpu = statistics.median(r["events"] / r["cpu_s"] for r in runs["decode"] if r.get("cpu_s"))
    return [
        figure(
            "rebuild: all read models",
            ours,
            base,
            "events/s",
            "≥ 30,000/s, ratio ≥ 0.4",
            ours >= 30_000 and ours / base >= 0.4,
            detail=f"{events:,} events, batch {BATCH}, {WORKERS} workers, median of rounds ({rounds}); "
            "baseline decodes the log in one process; per CPU second of the Python processes (on a busy machine "
            f"steadier than wall time; the database server's CPU not counted): {cpu:,.0f} against {base_cpu:,.0f}",
        ),
        figure(
            "rebuild: peak RSS",
            rss,
            base_rss,
            "MB",
            "≤ 400 MB at large",
            rss <= 400 if large else None,
            detail=f"max over rounds; ours: this process + {WORKERS} workers (summed PSS, sampled every 0.2 s); "
            "the target applies at size large",
        ),
    ]


def _child(side: str, url: str, database: str) -> dict[str, Any]:
    command = [python(), "-m", "benchmarks.rebuild", "--child", side, "--url", url, "--database", database]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"rebuild {side} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours() -> int:
    from django.core.management import call_command

    from projections.eventstore import get_application

    total = get_application().recorder.max_notification_id() or 0
    call_command("rebuild_projections", batch_size=BATCH, workers=WORKERS, stdout=open("/dev/null", "w"))  # noqa: SIM115
    return total


def decode() -> int:
    from projections.eventstore import get_application

    app = get_application()
    start, events = 0, 0
    while notifications := app.recorder.select_notifications(start=start, limit=BATCH, inclusive_of_start=False):
        events += len([app.mapper.to_domain_event(n) for n in notifications])
        start = notifications[-1].id
    return events


def _cpu_seconds() -> float:
    """User and system CPU of this process and of its children that have ended (the rebuild's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class TreeMemory(threading.Thread):
    """The peak, over samples, of the summed PSS of this process and its descendants (the rebuild's workers)."""

    def __init__(self, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.every, self.kb, self.done = every, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.sample()

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.sample()

    def sample(self) -> None:
        self.kb = max(self.kb, sum(_pss_kb(pid) for pid in _tree(os.getpid())))


def _tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [pid]
    try:
        for child in children.read_text().split():
            found += _tree(int(child))
    except OSError:  # gone meanwhile
        pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=["ours", "decode"])
    args = parser.parse_args(argv)
    if args.child is None:
        print(json.dumps(measure(vars(args)), ensure_ascii=False, indent=2))
        return 0
    setup_django(args.url, args.database)
    peak = TreeMemory()
    if args.child == "ours":
        peak.start()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    events = ours() if args.child == "ours" else decode()
    seconds, cpu_s = time.perf_counter() - started, _cpu_seconds() - cpu_started
    if args.child == "ours":
        peak.stop()
        rss_mb = peak.kb / 1024
    else:
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"events": events, "seconds": seconds, "cpu_s": cpu_s, "rss_mb": round(rss_mb, 1)}))
    from projections.eventstore import set_application

    set_application(None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
