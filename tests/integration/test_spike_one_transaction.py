"""Spike (issue 15, point 0): a `progress` report, its event, ledger row, chain link and tracking position
commit in one transaction of Django's — on SQLite (one file) and on PostgreSQL — or not at all.

The crash test runs the command in a subprocess (``spike_crash.py``) that dies (``os._exit``) right after each
SQL statement of the command in turn, every one of them, and after the commit; after each crash the parent
finds either the whole command recorded or nothing of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.utils import timezone

from api import demo
from domain.errors import VersionConflict
from domain.hazard.aggregate import Hazard
from projections import djangorecorder, integrity
from projections.djangorecorder import InlineApplication, execute_inline
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up, position

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("spike_crash.py")


class Boom(Exception):
    pass


@pytest.fixture
def inline(app: InlineApplication) -> Iterator[tuple[InlineApplication, demo.World]]:
    """The demo district, its log in Django's database (the `app` fixture empties it)."""
    world = demo.load(app, timezone.now())
    catch_up(app)
    yield app, world


def snapshot(app: InlineApplication, hazard: UUID) -> dict[str, Any]:
    row = HazardLedger.objects.get(id=hazard)
    return {
        "log_head": app.recorder.max_notification_id() or 0,
        "log_version": app.repository.get(hazard).version,
        "ledger": (row.version, row.progress, row.progress_note),
        "chain_head": integrity.head()[0],
        "tracking": position(),
    }


def report(app: InlineApplication, world: demo.World, percent: int = 70) -> Hazard:
    hazard = world.hazards["assigned"]
    return app.report_progress(hazard, actor=world.actor("hm_staff"), note="已安装一组", percent=percent)


@pytest.mark.parametrize("rows_before_lock", [False, True])
def test_a_progress_report_commits_its_event_ledger_row_chain_link_and_position_together(inline, rows_before_lock):
    app, world = inline
    hazard = world.hazards["assigned"]
    before = snapshot(app, hazard)

    execute_inline(app, lambda a: report(a, world), rows_before_lock=rows_before_lock)

    after = snapshot(app, hazard)
    head = before["log_head"] + 1
    assert after == {
        "log_head": head,
        "log_version": before["log_version"] + 1,
        "ledger": (before["log_version"] + 1, 70, "已安装一组"),
        "chain_head": head,
        "tracking": head,
    }
    assert integrity.verify(integrity.stored_events(app.recorder)).ok


@pytest.mark.parametrize("where", ["after the event insert", "after the chain link and position, before commit"])
def test_a_failure_before_commit_leaves_nothing(inline, monkeypatch, where):
    app, world = inline
    hazard = world.hazards["assigned"]
    before = snapshot(app, hazard)

    def command(a: InlineApplication) -> None:
        report(a, world)
        if where == "after the event insert":
            raise Boom

    if where != "after the event insert":
        saved = djangorecorder.move_position

        def save_then_fail(position: int) -> None:
            saved(position)
            raise Boom

        monkeypatch.setattr(djangorecorder, "move_position", save_then_fail)
    with pytest.raises(Boom):
        execute_inline(app, command)
    monkeypatch.undo()

    assert snapshot(app, hazard) == before
    execute_inline(app, lambda a: report(a, world, percent=80))  # the log and the chain go on from there
    assert snapshot(app, hazard)["ledger"][:2] == (before["log_version"] + 1, 80)
    assert integrity.verify(integrity.stored_events(app.recorder)).ok


def test_a_command_that_lost_the_race_for_a_version_is_a_conflict_and_leaves_nothing(inline):
    """Two reports on the same hazard version: the one that saves second gets 409 `version_conflict` (the library's
    IntegrityError, raised on Django's connection, mapped as on the library's own) and records nothing."""
    app, world = inline
    hazard = world.hazards["assigned"]
    stale = app.repository.get(hazard)
    execute_inline(app, lambda a: report(a, world))
    after_first = snapshot(app, hazard)

    def second(a: InlineApplication) -> None:
        stale.report_progress(note="已安装两组", percent=90, actor=world.actor("hm_staff"), occurred_at=timezone.now())
        a._save(stale)

    with pytest.raises(VersionConflict):
        execute_inline(app, second)
    assert snapshot(app, hazard) == after_first


# --- crash at every statement, in a subprocess -------------------------------------------------------------


def helper(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HELPER), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=check
    )


def crash_at_every_statement(env: dict[str, str]) -> int:
    """Kill the command after statement 1, 2, …, then after its commit; returns how many statements it made."""
    ids = helper(env, "setup").stdout.strip()
    state = json.loads(helper(env, "state", ids).stdout)
    n = 0
    while True:
        n += 1
        run = helper(env, "run", str(n), ids, check=False)
        after = json.loads(helper(env, "state", ids).stdout)
        if run.returncode == 0:  # more than the command's statements + 1: it ran to the end
            assert n > 2, run.stderr
            return n - 2
        assert run.returncode == 1, run.stderr
        nothing = after == state
        head = after["log_head"]  # PostgreSQL's sequence skips the ids of rolled-back inserts: a gap, no event
        everything = after == {
            "events": state["events"] + 1,
            "log_head": head,
            "log_version": state["log_version"] + 1,
            "ledger_version": state["log_version"] + 1,
            "ledger_percent": 70,
            "chain_head": head,
            "tracking": head,
        }
        assert nothing or everything, f"crash after statement {n}: {state} → {after}"
        state = after
        assert n < 200


def base_env() -> dict[str, str]:
    ours = ("DATABASE_URL", "SAFETY_VAR_DIR", "EVENT_STORE_", "KAFKA_")  # the test names the database
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**env, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "api.settings"}


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("path", ["inline", "rows_first"])
def test_a_crash_after_any_statement_of_the_command_records_all_or_nothing_sqlite(tmp_path, path):
    env = {**base_env(), "SAFETY_VAR_DIR": str(tmp_path), "SPIKE_CRASH_PATH": path}
    statements = crash_at_every_statement(env)
    assert statements >= 10
    assert not (tmp_path / "events.sqlite3").exists()  # one file: the log is in Django's database
