"""One `progress` report per command on the one-transaction path: the read-model rows after the insert (the
product's ``execute_inline``) against before it (``rows_before_lock=True``, measured only, not safe yet).

    PG_DURABLE=1 bash scripts/pg.sh start /tmp/pgspike && source <(sed 's/^/export /' /tmp/pgspike/env)
    python -m benchmarks.spike_tx [--commands 200 --hazards 40 --clients 4]

Both on Django's connection, one commit per command; same database (a fresh one, ``spike_tx``, on DATABASE_URL's
server), same hazards, the two variants alternate command by command (each first in turn); one client, then
``--clients`` at once. Before issue 15 landed this also measured the old two-transaction path; it is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import psycopg

from benchmarks.common import RESULTS, machine, on_database, percentile, setup_django


def fresh_database(url: str, name: str) -> None:
    parsed = urlparse(url)
    admin = {
        "host": parsed.hostname,
        "port": parsed.port or 5432,
        "dbname": parsed.path.lstrip("/"),
        "user": "postgres",
    }
    with psycopg.connect(**admin, autocommit=True) as c:  # type: ignore[arg-type]
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name} OWNER {parsed.username}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--hazards", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4, help="then the same number of commands by this many at once")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    fresh_database(url, "spike_tx")
    setup_django(on_database(url, "spike_tx"))
    from django.core.management import call_command
    from django.utils import timezone

    from api import demo
    from domain.hazard.aggregate import Severity
    from projections import integrity
    from projections.djangorecorder import execute_inline, new_inline_application
    from projections.eventstore import get_application
    from projections.runner import catch_up, position

    call_command("migrate", verbosity=0)
    app = get_application()
    now = timezone.now()
    world = demo.load(app, now - timedelta(days=1), with_hazards=False)
    school, principal, staff = world.units["hongmei_school"], world.actor("hm_principal"), world.actor("hm_staff")
    hazards = []
    for i in range(args.hazards):
        h = app.discover_hazard(
            actor=staff,
            campaign=world.campaign,
            school=school,
            description=f"消防通道堆放杂物 {i}",
            item="CZ-01",
            severity=Severity.GENERAL,
            occurred_at=now - timedelta(hours=20),
        ).id
        app.assign_hazard(
            h,
            actor=principal,
            owner="hm_staff",
            owner_unit=school,
            deadline=(now + timedelta(days=30)).date(),
            occurred_at=now - timedelta(hours=19),
        )
        hazards.append(h)
    catch_up(app)
    inline = new_inline_application()  # its own instance: its insert is timed

    # How long each variant holds the events table's lock: taken by the insert (LOCK TABLE … IN EXCLUSIVE MODE),
    # released at Django's commit at the end of ``execute_inline``.
    insert_started = threading.local()  # per client thread: when its insert (and so the lock) began
    locked: dict[str, list[float]] = {"rows after the insert (product)": [], "rows first": []}
    original = inline.recorder.insert_events

    def timed(*a: Any, **k: Any) -> Any:
        insert_started.at = time.perf_counter()
        return original(*a, **k)

    inline.recorder.insert_events = timed  # type: ignore[method-assign]

    def product(h: object, percent: int) -> None:
        execute_inline(inline, lambda a: a.report_progress(h, actor=staff, note="进展", percent=percent))
        locked["rows after the insert (product)"].append(time.perf_counter() - insert_started.at)

    def rows_first(h: object, percent: int) -> None:
        execute_inline(
            inline,
            lambda a: a.report_progress(h, actor=staff, note="进展", percent=percent),
            rows_before_lock=True,
        )
        locked["rows first"].append(time.perf_counter() - insert_started.at)

    paths = {"rows after the insert (product)": product, "rows first": rows_first}
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for i in range(5):  # warm both paths
        product(hazards[i], 1)
        rows_first(hazards[i], 2)
    for values in locked.values():
        values.clear()
    for i in range(args.commands):
        order = list(paths)[i % 2 :] + list(paths)[: i % 2]  # each variant first in turn
        for name in order:
            h = hazards[(i * 2 + order.index(name)) % len(hazards)]
            started = time.perf_counter()
            paths[name](h, i % 100)
            timings[name].append(time.perf_counter() - started)
    figures = {
        name: {
            "commands": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 2),
            "p99_ms": round(percentile(values, 99) * 1000, 2),
            "commands_per_s": round(len(values) / sum(values), 1),
            "table_lock_held_p50_ms": round(statistics.median(locked[name]) * 1000, 2),
            "table_lock_held_p99_ms": round(percentile(locked[name], 99) * 1000, 2),
        }
        for name, values in timings.items()
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    after, first = figures["rows after the insert (product)"], figures["rows first"]
    print(f"rows first / product commands/s: {first['commands_per_s'] / after['commands_per_s']:.2f}")
    together = {name: clients(fn, hazards, args.clients, args.commands) for name, fn in paths.items()}
    print(json.dumps(together, ensure_ascii=False, indent=2))
    report = integrity.verify(integrity.stored_events(app.recorder))
    caught_up = position() == app.recorder.max_notification_id()
    print(
        f"after all: chain verifies {report.ok} ({report.events_checked} events), "
        f"read models at the log's head {caught_up}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "spike_tx.json").write_text(
        json.dumps({"machine": machine(), "one_client": figures, "clients": together}, indent=2) + "\n"
    )


def clients(path: Any, hazards: list[Any], n: int, commands: int) -> dict[str, Any]:
    """``commands`` commands by ``n`` clients at once, each on hazards of its own (no version conflicts)."""
    from django.db import connection

    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(n + 1)

    def client(k: int) -> None:
        mine = hazards[k::n]
        barrier.wait()
        try:
            for j in range(commands // n):
                started = time.perf_counter()
                path(mine[j % len(mine)], j % 100)
                latencies.append(time.perf_counter() - started)
        except Exception as e:  # noqa: BLE001 - counted and shown
            errors.append(repr(e))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "clients": n,
        "commands": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "commands_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 2) if latencies else None,
    }


if __name__ == "__main__":
    main()
