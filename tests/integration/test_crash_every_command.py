"""Issue 15, point 2: every command kind, crashed after each of its SQL statements in turn, is recorded whole or
not at all; a client that gets an error has nothing recorded.

The work is done by ``crash_every_command.py`` in a subprocess (one fresh installation per store, a forked child
per crash point; see its docstring). Here: which endpoints are commands (the URL conf walked: a new command
without a crash scenario fails), and the runs on SQLite (embedded) and PostgreSQL (marker ``postgres``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import crash_every_command as harness
import psycopg
import pytest
from django.urls import get_resolver
from django.views.generic.base import RedirectView

from api.admin import CommandAdmin, ReadOnlyAdmin

ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).with_name("crash_every_command.py")
SHARDS = int(os.environ.get("CRASH_SHARDS", "2"))  # installations crashed at once (the scenarios dealt out)
WRITES = ("post", "put", "patch", "delete")

# Endpoints that accept a write but record no command (no event), each with the reason.
NOT_COMMANDS = {
    "api/v1/auth/token/": "a login: a token for the user, no event",
    "api/v1/auth/token/revoke/": "a logout: the token deleted, no event",
    "accounts/login/": "the web pages' login (a session)",
    "accounts/logout/": "the web pages' logout",
    "admin/": "the admin's index page",
    "admin/login/": "the admin's login (a session)",
    "admin/logout/": "the admin's logout",
    "admin/password_change/": "the admin's password change: a login's password, no event",
    "admin/password_change/done/": "a page",
    "admin/autocomplete/": "a lookup",
    "admin/jsi18n/": "a script",
    "admin/r/<path:content_type_id>/<path:object_id>/": "a redirect",
    "admin/^(?P<app_label>auth|authtoken|projections)/$": "an index page",
    "admin/(?P<url>.*)$": "the admin's catch-all (404)",
    "healthz": "a health check",
    "metrics": "Prometheus's scrape: reads only",
    "audit/": "the 审计 page's verify button: no event (its run is noted in OperationRun, outside the log)",
    "api/v1/attachments/": "an upload: no event; its blobs and its row in one transaction of its own "
    "(test_attachments.py), referenced by a command later",
    "admin/projections/unitview/<path:object_id>/change/": "refused (UnitAdmin): a unit changes by units/{id}/change/",
}
# Django's own admins: logins, groups and tokens, none of them an event (staff are appointed by users/).
NOT_COMMAND_PREFIXES = {"admin/auth/": "Django's users and groups", "admin/authtoken/": "tokens"}


def writable_endpoints() -> Iterator[str]:
    """Every route whose view accepts a write (the admin's: the add and change forms of a CommandAdmin)."""
    for route, view in harness.walk(get_resolver().url_patterns):
        model_admin = getattr(view, "model_admin", None)
        cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
        if any(route.startswith(prefix) for prefix in NOT_COMMAND_PREFIXES):
            continue
        if model_admin is not None:
            if isinstance(model_admin, ReadOnlyAdmin):
                continue
            assert isinstance(model_admin, CommandAdmin), f"{route}: an admin that is neither read-only nor commands"
            if view.__name__ in ("add_view", "change_view"):
                yield route
            continue
        if cls is RedirectView:
            continue
        if cls is None or any(hasattr(cls, method) for method in WRITES):  # a function view: classify it here
            yield route


def test_every_command_endpoint_has_a_crash_scenario() -> None:
    """A new command (any route that writes and is not listed as recording no command) needs a scenario."""
    commands = set(writable_endpoints()) - NOT_COMMANDS.keys()
    covered = {s.route for s in harness.scenarios()}
    assert commands - covered == set(), "command endpoints without a crash scenario (crash_every_command.py)"
    assert covered - commands == set(), "crash scenarios for routes that are not command endpoints"
    assert len(commands) >= 30


# --- the runs ------------------------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    """The test's environment without its database; CRASH_PATH (default: the product's path) passes through."""
    ours = ("DATABASE_URL", "SAFETY_VAR_DIR", "EVENT_STORE_", "KAFKA_", "CRASH_ADMIN")  # the test names the database
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**env, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "api.settings"}


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    """The installation's var directory: in memory (tmpfs) when there is one — the crash points are process
    deaths, not power cuts, so fsync buys nothing here and costs most of the time."""
    base = tempfile.mkdtemp(prefix="crash-", dir="/dev/shm") if os.path.isdir("/dev/shm") else str(tmp_path)
    yield Path(base) / "var"
    shutil.rmtree(base, ignore_errors=True)


def run(env: dict[str, str], report: Path, *args: str) -> dict[str, Any]:
    return run_shards([env], [report], *args)


def run_shards(envs: list[dict[str, str]], reports: list[Path], *args: str) -> dict[str, Any]:
    """The harness in one subprocess per environment (its own installation each), the scenarios dealt out among
    them (``--shard=I/N``), at once; their reports merged."""
    n = len(envs)
    procs = [
        subprocess.Popen(
            [sys.executable, str(HELPER), str(report), *args, *([f"--shard={i}/{n}"] if n > 1 else [])],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, (env, report) in enumerate(zip(envs, reports, strict=True))
    ]
    outputs = [proc.communicate() for proc in procs]
    for report, (_, stderr) in zip(reports, outputs, strict=True):
        assert report.exists(), stderr[-8000:]
    parts = [json.loads(report.read_text()) for report in reports]
    for stdout, _ in outputs:
        print(stdout)  # one line per scenario: seconds, crash points, violations
    result: dict[str, Any] = {
        **parts[0],
        "scenarios": [s for part in parts for s in part["scenarios"]],
        "seconds": max(part["seconds"] for part in parts),
    }
    points = sum(s["points"] for s in result["scenarios"])
    print(f"{result['store']} ({result['path']}): {points} crash points in {result['seconds']} s, {n} process(es)")
    for proc, (_, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr[-8000:]
    return result


def violations(result: dict[str, Any]) -> list[str]:
    return [f"{s['name']} ({s['route']}): {v}" for s in result["scenarios"] for v in s["violations"]]


def assert_all_or_nothing_everywhere(result: dict[str, Any]) -> None:
    found = violations(result)
    assert found == [], f"{len(found)} violations, the first:\n" + "\n".join(found[:40])
    assert {s["route"] for s in result["scenarios"]} == set(result["routes"])
    assert all(s["statements"] >= 5 for s in result["scenarios"]), "a command with almost no statements counted"


def test_a_crash_after_any_statement_of_any_command_records_all_or_nothing_sqlite(var_dir: Path) -> None:
    shards = [var_dir.parent / f"shard{i}" for i in range(SHARDS)]
    envs = [{**base_env(), "SAFETY_VAR_DIR": str(shard / "var")} for shard in shards]
    result = run_shards(envs, [shard / "report.json" for shard in shards])
    assert_all_or_nothing_everywhere(result)
    assert not (shards[0] / "var" / "events.sqlite3").exists()  # one file: the log is in Django's database


def test_a_command_refused_because_the_database_is_locked_records_nothing_sqlite(var_dir: Path) -> None:
    """The read-model database write-locked by another connection for longer than the command waits (1 s here,
    20 s in the settings): 503 ``database_busy`` with a Chinese message and Retry-After, nothing recorded; once the
    lock is gone the same command is recorded once."""
    env = {**base_env(), "SAFETY_VAR_DIR": str(var_dir)}
    result = run(env, var_dir.parent / "report.json", "--lock")
    (lock,) = result["scenarios"]
    assert lock["violations"] == []
    assert lock["first"]["status"] == 503 and lock["first"]["answer"]["code"] == "database_busy"
    assert lock["seconds_locked"] < 10


def test_the_harness_finds_a_write_made_after_the_commands_transaction(var_dir: Path) -> None:
    """The check itself: with every command followed by a write in a transaction of its own (as a login's end
    was written after the deactivation's), a crash between the two is found, and so is the retry's double."""
    env = {**base_env(), "SAFETY_VAR_DIR": str(var_dir), "CRASH_PATH": "late-write", "CRASH_KEY_PASS": "none"}
    result = run(env, var_dir.parent / "report.json", "progress", "api/v1/submissions/")
    assert {s["name"] for s in result["scenarios"]} == {"progress", "submit a report (submission and its copies)"}
    for scenario in result["scenarios"]:
        assert any("part of the command recorded" in v for v in scenario["violations"]), scenario["name"]


@pytest.fixture
def postgres_databases() -> Iterator[tuple[list[str], str]]:
    """Fresh databases (one per shard) on the suite's PostgreSQL server (DATABASE_URL), dropped afterwards; with
    the superuser's URL (scripts/pg.sh: ``postgres``, trusted on loopback) for the harness's copies."""
    url = os.environ.get("DATABASE_URL", "")
    assert url.startswith("postgresql"), "this test needs the PostgreSQL run: DATABASE_URL (scripts/test.sh)"
    parsed = urlparse(url)
    admin = parsed._replace(netloc=f"postgres@{parsed.hostname}:{parsed.port or 5432}", path="/postgres").geturl()
    names = [f"crash_every_command_{os.getpid()}_{i}" for i in range(SHARDS)]
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as c:  # fails loudly if unreachable
        for name in names:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
            c.execute(f"CREATE DATABASE {name} OWNER {parsed.username}")  # type: ignore[arg-type]
    try:
        yield [parsed._replace(path=f"/{name}").geturl() for name in names], admin
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            for name in names:
                c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


@pytest.mark.postgres
def test_a_crash_after_any_statement_of_any_command_records_all_or_nothing_postgres(
    postgres_databases: tuple[list[str], str], tmp_path: Path
) -> None:
    urls, admin = postgres_databases
    shards = [tmp_path / f"shard{i}" for i in range(len(urls))]
    envs = [
        {**base_env(), "DATABASE_URL": url, "CRASH_ADMIN_URL": admin, "SAFETY_VAR_DIR": str(shard / "var")}
        for url, shard in zip(urls, shards, strict=True)
    ]
    assert_all_or_nothing_everywhere(run_shards(envs, [shard / "report.json" for shard in shards]))
