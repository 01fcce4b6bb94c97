"""Subprocess side of the spike's crash test: one `progress` report through ``execute_inline``, the process
killed (``os._exit``) right after the N-th SQL statement of the command.

    python tests/integration/spike_crash.py setup          migrate, load the demo district, print HAZARD,SCHOOL
    python tests/integration/spike_crash.py run N H,S      report progress, dying after statement N (0: never);
                                                           prints how many statements the command made
    python tests/integration/spike_crash.py state H,S      print the log, ledger, chain and tracking as JSON

The database is the one the environment names (SAFETY_VAR_DIR for SQLite, or DATABASE_URL). The command goes
through the product's path (``execute_inline``: the events, the read models, the chain and the position in one
transaction); with SPIKE_CRASH_PATH=rows_first through ``execute_inline(…, rows_before_lock=True)``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any
from uuid import UUID

import django

COUNTED: list[int] = []  # statements so far; counting starts when the command starts


def crash_after(n: int) -> None:
    """Every SQL statement, the library's and Django's alike, goes through these cursor classes."""
    from django.db import connection

    if connection.vendor == "postgresql":
        import psycopg

        cls: Any = psycopg.Cursor
    else:
        from django.db.backends.sqlite3.base import SQLiteCursorWrapper

        cls = SQLiteCursorWrapper
    for name in ("execute", "executemany"):
        original = getattr(cls, name)

        def counted(self: Any, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            result = _original(self, *args, **kwargs)
            if COUNTED:
                COUNTED[0] += 1
                if COUNTED[0] == n:
                    os._exit(1)
            return result

        setattr(cls, name, counted)


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from api import demo
    from projections.djangorecorder import execute_inline
    from projections.eventstore import new_application as new_app
    from projections.runner import catch_up

    if argv[0] == "setup":
        call_command("migrate", verbosity=0)
        app = new_app()
        world = demo.load(app, timezone.now())
        catch_up(app)
        print(f"{world.hazards['assigned']},{world.units['hongmei_school']}")
        return
    hazard = UUID(argv[-1].split(",")[0])
    app = new_app()
    if argv[0] == "state":
        print(json.dumps(state(app, hazard)))
        return
    n = int(argv[1])
    crash_after(n)
    actor = demo.World(units={"hongmei_school": UUID(argv[-1].split(",")[1])}).actor("hm_staff")
    COUNTED.append(0)
    command = lambda a: a.report_progress(hazard, actor=actor, note="已安装一组", percent=70)  # noqa: E731
    execute_inline(app, command, rows_before_lock=os.environ.get("SPIKE_CRASH_PATH") == "rows_first")
    statements = COUNTED[0]
    if n == statements + 1:  # "after the last statement": after the commit
        os._exit(1)
    print(statements)


def state(app: Any, hazard: UUID) -> dict[str, Any]:
    from projections.hazard.rows import HazardLedger
    from projections.integrity import head
    from projections.runner import position

    row = HazardLedger.objects.get(id=hazard)
    return {
        "events": len(app.recorder.select_notifications(start=None, limit=1_000_000)),
        "log_head": app.recorder.max_notification_id() or 0,
        "log_version": app.repository.get(hazard).version,
        "ledger_version": row.version,
        "ledger_percent": row.progress,
        "chain_head": head()[0],
        "tracking": position(),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
