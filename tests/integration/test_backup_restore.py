"""The backup drill (README "Backup and restore"), in each mode, as an operator runs it with ``manage.py``.

Write (the demo district: hazards in every status, rectifications with photos), back up, write more, restore into
a fresh installation given the same keys → ``verify_integrity`` OK with the chain head the backup printed (not the
later one), the read models as backed up and equal to a rebuild from the restored log, every rectification photo
served with the bytes its event recorded, the logins working. Bad input is refused with a plain message, a
non-zero exit and nothing changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from api.keyfile import KEYS_FILE_NAME, ensure_keys

ROOT = Path(__file__).resolve().parent.parent.parent
DRILL = Path(__file__).resolve().parent / "backup_drill.py"
HEAD = re.compile(r"chain head (\d+) ([0-9a-f]{64}), (\d+) signed checkpoints")


def base_env() -> dict[str, str]:
    """Today's code on an installation of its own: no key from the environment (each installation's keys.json),
    a checkpoint every 20 events so that the demo's log carries signed checkpoints."""
    unset = (
        "DATABASE_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "INTEGRITY_SIGNING_KEY",
        "POLICE_CONTENT_KEY",
        "DJANGO_SECRET_KEY",
    )
    env = {name: value for name, value in os.environ.items() if name not in unset}
    return {**env, "DJANGO_SETTINGS_MODULE": "api.settings", "DJANGO_DEBUG": "1", "CHECKPOINT_EVERY": "20"}


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def manage(env: dict[str, str], *args: str) -> str:
    done = run(env, "manage.py", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def drill(env: dict[str, str], step: str) -> dict[str, Any]:
    done = run(env, str(DRILL), step)
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def installation(var_dir: Path, database_url: str = "") -> dict[str, str]:
    """A new installation: its var directory with the keys ``manage.py serve`` generates on first start."""
    ensure_keys(var_dir / KEYS_FILE_NAME)
    env = {**base_env(), "SAFETY_VAR_DIR": str(var_dir)}
    return {**env, "DATABASE_URL": database_url} if database_url else env


def fresh_installation_with_keys_of(source: dict[str, str], var_dir: Path, database_url: str = "") -> dict[str, str]:
    """A fresh installation to restore into, given the keys kept apart from the backup (keys.json copied back)."""
    var_dir.mkdir(parents=True)
    shutil.copy2(Path(source["SAFETY_VAR_DIR"]) / KEYS_FILE_NAME, var_dir / KEYS_FILE_NAME)
    env = {**base_env(), "SAFETY_VAR_DIR": str(var_dir)}
    return {**env, "DATABASE_URL": database_url} if database_url else env


def backed_up_head(printed: str) -> dict[str, Any]:
    match = HEAD.search(printed)
    assert match, printed
    return {"position": int(match.group(1)), "hash": match.group(2), "checkpoints": int(match.group(3))}


def assert_backup_drill(origin: dict[str, str], restored_env: dict[str, str], backup: Path) -> None:
    manage(origin, "migrate", "--verbosity", "0")
    manage(origin, "load_demo")
    backed_up = drill(origin, "state")
    assert backed_up["verify"]["ok"] and backed_up["verify"]["problems"] == []
    assert backed_up["photos"], "the demo has rectifications with photos"

    head = backed_up_head(manage(origin, "backup", str(backup)))
    assert {"position": head["position"], "hash": head["hash"]} == backed_up["verify"]["head"]
    assert head["checkpoints"] >= 2

    written = drill(origin, "write")  # after the backup: not in it
    assert written["status"] == 200, written
    later = drill(origin, "state")["verify"]["head"]
    assert later["position"] > head["position"]

    printed = manage(restored_env, "restore", str(backup))
    assert backed_up_head(printed) == head

    restored = drill(restored_env, "state")
    assert restored["verify"]["ok"], restored["verify"]["problems"]
    assert restored["verify"]["head"] == backed_up["verify"]["head"] != later
    assert restored["verify"]["log_head"] == head["position"]
    assert restored["verify"]["blobs_checked"] == backed_up["verify"]["blobs_checked"] > 0
    assert restored["read_models"] == backed_up["read_models"]
    assert restored["photos"] == backed_up["photos"]
    assert all(p["status"] == "200" and p["served"] == p["recorded"] for p in restored["photos"].values())
    assert set(restored["logins"].values()) == {200}

    assert drill(restored_env, "rebuild")["read_models"] == restored["read_models"]


def assert_refused(env: dict[str, str], backup: Path, message: str, *extra: str) -> None:
    done = run(env, "manage.py", "restore", str(backup), *extra)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr


# --- embedded mode -----------------------------------------------------------------------------------------


def test_backup_restore_drill_embedded(tmp_path: Path) -> None:
    origin = installation(tmp_path / "origin")
    restored = fresh_installation_with_keys_of(origin, tmp_path / "restored")
    assert_backup_drill(origin, restored, tmp_path / "safety-backup.sqlite3")
    assert (tmp_path / "safety-backup.sqlite3").stat().st_mode & 0o077 == 0  # password hashes and tokens inside


def test_restore_refuses_bad_input_and_changes_nothing_embedded(tmp_path: Path) -> None:
    origin = installation(tmp_path / "origin")
    manage(origin, "migrate", "--verbosity", "0")
    manage(origin, "load_demo")
    backup = tmp_path / "backup.sqlite3"
    manage(origin, "backup", str(backup))
    refused_again = run(origin, "manage.py", "backup", str(backup))
    assert refused_again.returncode != 0 and "备份文件已存在" in refused_again.stderr

    target = installation(tmp_path / "target")
    manage(target, "migrate", "--verbosity", "0")
    database = tmp_path / "target" / "safety.sqlite3"
    (tmp_path / "notes.txt").write_text("not a backup", encoding="utf-8")
    (tmp_path / "pg.dump").write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
    (tmp_path / "damaged.sqlite3").write_bytes(backup.read_bytes()[:4096])
    before = database.read_bytes()

    assert_refused(target, tmp_path / "missing.sqlite3", "备份文件不存在")
    assert_refused(target, tmp_path / "notes.txt", "不是本系统的备份文件")
    assert_refused(target, tmp_path / "pg.dump", "这是 PostgreSQL 生产模式的备份")
    assert_refused(target, tmp_path / "damaged.sqlite3", "备份文件已损坏")
    # the keys were not restored: the fresh installation generated its own, which did not sign the checkpoints
    assert_refused(target, backup, "请先恢复该安装的密钥")
    assert database.read_bytes() == before

    occupied = fresh_installation_with_keys_of(origin, tmp_path / "occupied")
    manage(occupied, "migrate", "--verbosity", "0")
    manage(occupied, "load_demo")
    head_before = drill(occupied, "state")["verify"]["head"]
    assert_refused(occupied, backup, "本安装已有数据")
    assert drill(occupied, "state")["verify"]["head"] == head_before
    replaced = manage(occupied, "restore", "--force", str(backup))
    assert drill(occupied, "state")["verify"]["head"]["hash"] == backed_up_head(replaced)["hash"]


def test_backup_copies_the_committed_state_while_a_writer_holds_the_database_embedded(tmp_path: Path) -> None:
    """The online backup API under a running server: a transaction holding SQLite's write lock neither blocks the
    backup nor leaks into it."""
    origin = installation(tmp_path / "origin")
    manage(origin, "migrate", "--verbosity", "0")
    manage(origin, "load_demo")
    backup = tmp_path / "backup.sqlite3"
    with closing(sqlite3.connect(tmp_path / "origin" / "safety.sqlite3", isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE auth_user SET first_name = 'uncommitted'")
        started = time.monotonic()
        manage(origin, "backup", str(backup))
        assert time.monotonic() - started < 15  # not waiting for the writer (SQLite's busy timeout is 20 s)
        writer.execute("ROLLBACK")
    with closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as copy:
        assert copy.execute("PRAGMA quick_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one self-contained file
        assert copy.execute("SELECT count(*) FROM auth_user WHERE first_name = 'uncommitted'").fetchone() == (0,)
        assert copy.execute("SELECT count(*) FROM stored_events").fetchone()[0] > 0


# --- production mode: PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture
def postgres_databases() -> Iterator[tuple[str, str]]:
    """Two fresh databases on the suite's PostgreSQL server (DATABASE_URL), dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    assert url.startswith("postgresql"), "this test needs the PostgreSQL run: DATABASE_URL (scripts/test.sh)"
    parsed = urlparse(url)
    admin = parsed._replace(netloc=f"postgres@{parsed.hostname}:{parsed.port or 5432}", path="/postgres").geturl()
    names = [f"backup_drill_{os.getpid()}_{which}" for which in ("origin", "restored")]
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as c:
        for name in names:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
            c.execute(f"CREATE DATABASE {name} OWNER {parsed.username}")  # type: ignore[arg-type]
    try:
        origin, restored = (parsed._replace(path=f"/{name}").geturl() for name in names)
        yield origin, restored
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            for name in names:
                c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


@pytest.mark.postgres
def test_backup_restore_drill_postgres(postgres_databases: tuple[str, str], tmp_path: Path) -> None:
    origin_url, restored_url = postgres_databases
    origin = installation(tmp_path / "origin", origin_url)
    restored = fresh_installation_with_keys_of(origin, tmp_path / "restored", restored_url)
    backup = tmp_path / "safety-backup.dump"
    assert_backup_drill(origin, restored, backup)
    assert backup.read_bytes().startswith(b"PGDMP")

    # the restored log is append-only again for the application (the triggers came back with the tables)
    with psycopg.connect(restored_url) as db, pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.execute("DELETE FROM safetyapp_events")

    embedded = installation(tmp_path / "embedded")
    assert_refused(embedded, backup, "这是 PostgreSQL 生产模式的备份")
    assert_refused(restored, backup, "本安装已有数据")
    head = drill(restored, "state")["verify"]["head"]
    dumped = backup.read_bytes()
    truncated, corrupted = tmp_path / "truncated.dump", tmp_path / "corrupted.dump"
    truncated.write_bytes(dumped[: len(dumped) * 2 // 3])
    middle = len(dumped) * 2 // 3
    corrupted.write_bytes(dumped[:middle] + b"\xff" * 256 + dumped[middle + 256 :])
    assert_refused(restored, truncated, "备份文件已损坏", "--force")  # its table of contents cannot be read
    done = run(restored, "manage.py", "restore", "--force", str(corrupted))
    # refused on reading its table of contents, or pg_restore failed inside its one transaction
    assert done.returncode != 0 and re.search("备份文件已损坏|数据库未改变", done.stderr), done.stderr[-2000:]
    assert drill(restored, "state")["verify"]["head"] == head


@pytest.mark.postgres
def test_backup_refuses_a_client_of_another_major_version_postgres(
    postgres_databases: tuple[str, str], tmp_path: Path
) -> None:
    origin_url, _ = postgres_databases
    env = installation(tmp_path / "origin", origin_url)
    manage(env, "migrate", "--verbosity", "0")
    clients = tmp_path / "bin"
    clients.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        (clients / tool).write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n", encoding="utf-8")
        (clients / tool).chmod(0o755)
    done = run({**env, "PG_CLIENT_BINDIR": str(clients)}, "manage.py", "backup", str(tmp_path / "b.dump"))
    assert done.returncode != 0
    assert "pg_dump 的主版本 9 与 PostgreSQL 服务器的主版本" in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "b.dump").exists()


def test_docker_compose_runs_the_postgresql_major_of_the_images_client() -> None:
    """``manage.py backup`` in the api container needs pg_dump of the server's major: the compose file's PostgreSQL
    image, the product image's client package and the test server (scripts/pg.sh) are one major version."""
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    pg_sh = (ROOT / "scripts" / "pg.sh").read_text(encoding="utf-8")
    server = re.findall(r"^\s+image: postgres:(\d+)", compose, re.M)
    client = re.findall(r"postgresql-client-(\d+)", dockerfile)
    tested = re.findall(r"^PG_MAJOR=(\d+)$", pg_sh, re.M)
    assert len(server) == 1 and client and tested
    assert set(server) == set(client) == set(tested)
    assert re.search(r"^FROM python:[\d.]+-slim-bookworm$", dockerfile, re.M)  # whose postgresql-client-15 it is
