"""Golden logs (tests/golden/README.md): installations written by earlier releases, opened with today's code.

Each golden directory holds an embedded installation (``events.sqlite3`` and ``readmodels.sqlite3`` before one
database per installation, ``safety.sqlite3`` since), its ``keys.json`` and the state its own release saw
(``expected.json``); since acff0eb also the same installation as a PostgreSQL dump (``safety.pgdump``, written by
``manage.py backup``). Today's code must open each, load every aggregate at its version, rebuild every read model,
verify the chain to the same head and show every hazard, joint form, signature, submitted copy, photo, account,
police-only note and signing key as that release did. None is ever rewritten or removed: the manifest says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import resolve_topic

ROOT = Path(__file__).resolve().parent.parent.parent
GOLDEN = ROOT / "tests" / "golden"
MANIFEST = "MANIFEST.sha256"
INSTALLATIONS = sorted(path for path in GOLDEN.iterdir() if (path / "expected.json").is_file())
DUMP = "safety.pgdump"  # the PostgreSQL dump of a golden installation (since acff0eb)
DUMPED = [path for path in INSTALLATIONS if (path / DUMP).is_file()]
# What expected.json says about the installation rather than its state.
ABOUT = ("commit", "written_by", "event_classes")


def manifest_problems(golden: Path) -> list[str]:
    """Every golden file whose SHA-256 differs from the manifest, and every file missing from either."""
    listed = {}
    for line in (golden / MANIFEST).read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split("  ", 1)
            listed[name] = digest
    present = {
        path.relative_to(golden).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for installation in golden.iterdir()
        if installation.is_dir() and not installation.name.startswith(("_", "."))
        for path in sorted(installation.rglob("*"))
        if path.is_file()
    }
    problems = [f"{name}: not in the manifest" for name in sorted(set(present) - set(listed))]
    problems += [f"{name}: listed but gone" for name in sorted(set(listed) - set(present))]
    problems += [f"{name}: changed" for name in sorted(set(listed) & set(present)) if listed[name] != present[name]]
    return problems


def log_file(installation: Path) -> Path:
    """The SQLite file holding an embedded installation's log: ``events.sqlite3`` before one database per
    installation, the installation's one file since."""
    for name in ("events.sqlite3", "safety.sqlite3", "readmodels.sqlite3"):
        if (installation / name).is_file():
            return installation / name
    raise AssertionError(f"no event log in {installation}")


def upgrade(var_dir: Path) -> None:
    """THE UPGRADE STEP: what an operator runs on an installation written by an earlier release, before
    starting today's release on it: ``manage.py migrate`` alone. An installation written before one database per
    installation kept its log in ``events.sqlite3``: the migration copies it, positions and all, into the
    installation's one file (which keeps its old name, ``readmodels.sqlite3``) and renames the old file."""
    log_before = events_in(log_file(var_dir))
    manage(var_dir, "migrate")
    if not (var_dir / "events.sqlite3.merged").exists() and (var_dir / "safety.sqlite3").exists():
        assert events_in(var_dir / "safety.sqlite3") == log_before  # one database already: the log as it was
        return
    assert not (var_dir / "events.sqlite3").exists()
    assert (var_dir / "events.sqlite3.merged").exists()  # kept, never read again
    assert events_in(var_dir / "readmodels.sqlite3") == log_before  # every event at its position, byte for byte


def events_in(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute(
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
        ).fetchall()


def manage(var_dir: Path, *args: str) -> str:
    """``manage.py`` of today's code on the installation in ``var_dir``."""
    return run_on(var_dir, "manage.py", *args)


def run_on(var_dir: Path, *argv: str, database_url: str = "") -> str:
    """A script of today's code run on the installation in ``var_dir`` (in PostgreSQL mode with
    ``database_url``); its standard output."""
    env = installation_env(var_dir)
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**env, "DATABASE_URL": database_url} if database_url else env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def installation_env(var_dir: Path) -> dict[str, str]:
    """Embedded mode on ``var_dir``, its keys read from its own keys.json (none passed in the environment)."""
    unset = (
        "DATABASE_URL",
        "EVENT_STORE_SQLITE",
        "KAFKA_BOOTSTRAP_SERVERS",
        "INTEGRITY_SIGNING_KEY",
        "POLICE_CONTENT_KEY",
        "DJANGO_SECRET_KEY",
    )
    env = {name: value for name, value in os.environ.items() if name not in unset}
    return {**env, "SAFETY_VAR_DIR": str(var_dir), "DJANGO_SETTINGS_MODULE": "api.settings", "DJANGO_DEBUG": "1"}


def installation_state(var_dir: Path, database_url: str = "") -> dict[str, Any]:
    """Today's code on the installation: its state as it opens, and again after rebuilding every read model
    (``tests/golden/check_golden.py``: migrate, load every aggregate, rebuild_projections, verify_integrity)."""
    printed = run_on(var_dir, str(GOLDEN / "check_golden.py"), database_url=database_url)
    state: dict[str, Any] = json.loads(printed.strip().splitlines()[-1])
    return state


def assert_same_state(expected: dict[str, Any], actual: dict[str, Any], phase: str) -> None:
    """Part by part, so a failure names what changed (an aggregate, a hazard, a form) rather than all of it. Every
    part the release computed is compared; parts a later ``state.py`` added are not in an older release's file."""
    wanted = {key: value for key, value in expected.items() if key not in ABOUT}
    assert set(wanted) <= set(actual), phase
    for part, value in wanted.items():
        if isinstance(value, dict):
            assert set(actual[part]) == set(value), f"{phase}: {part}"
            for key, item in value.items():
                assert actual[part][key] == item, f"{phase}: {part} {key}"
        else:
            assert actual[part] == value, f"{phase}: {part}"


def assert_opens_as_expected(expected: dict[str, Any], state: dict[str, Any]) -> None:
    for phase in ("opened", "rebuilt"):
        assert state[phase]["verify"] == {"ok": True, "events_checked": expected["events"], "problems": []}, phase
        assert state[phase]["chain_head"] == expected["chain_head"], phase
        assert_same_state(expected, state[phase], phase)


def test_there_is_a_golden_log() -> None:
    assert [path.name for path in INSTALLATIONS][:2] == ["951acbf", "acff0eb"]
    assert [path.name for path in DUMPED][:1] == ["acff0eb"]  # the first with a PostgreSQL dump too


def test_the_manifest_lists_every_golden_file_unchanged() -> None:
    assert manifest_problems(GOLDEN) == []


def test_a_golden_file_edited_or_removed_breaks_the_manifest(tmp_path: Path) -> None:
    copy = tmp_path / "golden"
    shutil.copytree(GOLDEN, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3-*"))
    expected = copy / "951acbf" / "expected.json"
    expected.write_text(expected.read_text(encoding="utf-8").replace('"closed"', '"assigned"', 1), encoding="utf-8")
    (copy / "951acbf" / "keys.json").unlink()
    (copy / "951acbf" / "extra.txt").write_text("added later\n", encoding="utf-8")
    assert manifest_problems(copy) == [
        "951acbf/extra.txt: not in the manifest",
        "951acbf/keys.json: listed but gone",
        "951acbf/expected.json: changed",
    ]


@pytest.mark.parametrize("golden", INSTALLATIONS, ids=lambda path: path.name)
def test_the_log_holds_every_event_class_of_its_release_and_today_reads_each_topic(golden: Path) -> None:
    expected = json.loads((golden / "expected.json").read_text(encoding="utf-8"))
    with closing(sqlite3.connect(f"file:{log_file(golden)}?mode=ro&immutable=1", uri=True)) as db:
        topics = {topic for (topic,) in db.execute("SELECT DISTINCT topic FROM stored_events")}
    # The release's generator listed its event classes by introspection; its log holds each, and nothing else.
    assert topics == set(expected["event_classes"]) == set(expected["topics"])
    for topic in sorted(topics):  # renamed or moved classes must stay readable under their stored topic
        cls = resolve_topic(topic)
        assert isinstance(cls, type) and issubclass(cls, Aggregate.Event), topic


@pytest.mark.parametrize("golden", INSTALLATIONS, ids=lambda path: path.name)
def test_todays_code_opens_rebuilds_and_verifies_the_golden_installation(golden: Path, tmp_path: Path) -> None:
    var_dir = tmp_path / golden.name
    shutil.copytree(golden, var_dir, ignore=shutil.ignore_patterns("expected.json", DUMP))
    expected = json.loads((golden / "expected.json").read_text(encoding="utf-8"))

    upgrade(var_dir)
    assert_opens_as_expected(expected, installation_state(var_dir))


@pytest.fixture
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the suite's PostgreSQL server (DATABASE_URL), owned by its role; dropped after."""
    url = os.environ.get("DATABASE_URL", "")
    assert url.startswith("postgresql"), "this test needs the PostgreSQL run: DATABASE_URL (scripts/test.sh)"
    parsed = urlparse(url)
    admin = parsed._replace(netloc=f"postgres@{parsed.hostname}:{parsed.port or 5432}", path="/postgres").geturl()
    name = f"golden_restore_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        c.execute(f"CREATE DATABASE {name} OWNER {parsed.username}")  # type: ignore[arg-type]
    try:
        yield parsed._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.parametrize("golden", DUMPED, ids=lambda path: path.name)
def test_todays_code_restores_opens_rebuilds_and_verifies_the_golden_postgresql_dump(
    golden: Path, fresh_postgres_database: str, tmp_path: Path
) -> None:
    """The dump restored as an operator restores a backup (its keys.json put back first, ``manage.py restore``
    into a fresh database, which migrates it), then the same state as the release saw, as opened and rebuilt."""
    var_dir = tmp_path / golden.name
    var_dir.mkdir()
    shutil.copyfile(golden / "keys.json", var_dir / "keys.json")
    expected = json.loads((golden / "expected.json").read_text(encoding="utf-8"))

    printed = run_on(var_dir, "manage.py", "restore", str(golden / DUMP), database_url=fresh_postgres_database)
    head = expected["chain_head"]
    assert f"{expected['events']} events, chain head {head['position']} {head['hash']}" in printed
    assert_opens_as_expected(expected, installation_state(var_dir, fresh_postgres_database))
