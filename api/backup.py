"""Backup and restore of the installation's one database (log, read models, chain, copies, photos, logins).

Embedded mode copies the SQLite file with SQLite's online backup API (consistent while the server writes);
production mode runs ``pg_dump -Fc`` / ``pg_restore`` of the same major version as the server. The keys
(``var/keys.json`` or the environment) are never part of a backup: they are kept apart (README "Backup and restore").
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from psycopg.conninfo import make_conninfo

from projections import integrity
from projections.integrity import ChainLink, Checkpoint

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
SQLITE_EVENTS = "stored_events"
POSTGRES_EVENTS = "safetyapp_events"
USERS = "auth_user"


class BackupError(Exception):
    """Bad input or a refused operation: a plain message for the operator (Chinese, then English)."""


@dataclass(frozen=True)
class Summary:
    """What a backup holds (or a restore brought back): the log's size and the chain's head."""

    events: int
    head_position: int
    head_hash: str
    checkpoints: int

    def line(self) -> str:
        return (
            f"{self.events} events, chain head {self.head_position} {self.head_hash}, "
            f"{self.checkpoints} signed checkpoints"
        )


def embedded() -> bool:
    return bool(connection.vendor == "sqlite")


def backup(path: Path) -> Summary:
    """Write the installation's database to ``path`` (a new file); never a half-written file."""
    if path.exists():
        raise BackupError(f"备份文件已存在，不会覆盖：{path} (the backup file already exists)")
    if not path.parent.is_dir():
        raise BackupError(f"目录不存在：{path.parent} (no such directory)")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        summary = _backup_sqlite(temporary) if embedded() else _backup_postgres(temporary)
        os.chmod(temporary, 0o600)  # password hashes and login tokens: readable by its owner only
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return summary


def restore(path: Path, *, force: bool = False) -> Summary:
    """Replace the installation's database by the backup at ``path``: refused for bad input (nothing changed),
    for an installation that already holds events or logins (unless ``force``), and for a backup whose signed
    checkpoints the configured signing key did not make (restore the keys first)."""
    magic = _magic(path)
    if embedded():
        if magic.startswith(PGDUMP_MAGIC):
            raise BackupError(
                "这是 PostgreSQL 生产模式的备份，本安装为内置模式（SQLite），请在设置 DATABASE_URL 的安装上恢复 "
                "(a PostgreSQL backup: restore it in production mode, with DATABASE_URL set)"
            )
        if not magic.startswith(SQLITE_MAGIC):
            raise BackupError(f"不是本系统的备份文件：{path} (not a backup made by manage.py backup)")
        return _restore_sqlite(path, force=force)
    if magic.startswith(SQLITE_MAGIC):
        raise BackupError(
            "这是内置模式（SQLite）的备份，本安装为 PostgreSQL 生产模式，请在未设置 DATABASE_URL 的安装上恢复 "
            "(an embedded-mode backup: restore it without DATABASE_URL)"
        )
    if not magic.startswith(PGDUMP_MAGIC):
        raise BackupError(f"不是本系统的备份文件：{path} (not a backup made by manage.py backup)")
    return _restore_postgres(path, force=force)


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"备份文件不存在：{path} (no such file)") from None
    except IsADirectoryError:
        raise BackupError(f"这是目录，不是备份文件：{path} (a directory, not a backup file)") from None


def _refuse_occupied(events: int, users: int, force: bool) -> None:
    if (events or users) and not force:
        raise BackupError(
            f"本安装已有数据（{events} 个事件，{users} 个账号）：只能恢复到新安装；确认要整体替换请加 --force "
            "(this installation is not empty: restore into a fresh one, or add --force to replace everything)"
        )


def _refuse_other_signing_key(public_keys: set[str], force: bool) -> None:
    """The checkpoints of the backup must verify under the configured key, else its keys were not restored."""
    if public_keys and integrity.public_key_hex() not in public_keys and not force:
        raise BackupError(
            "备份中的签名检查点不是用本安装配置的签名密钥签的：请先恢复该安装的密钥（var/keys.json 或 "
            "INTEGRITY_SIGNING_KEY / POLICE_CONTENT_KEY / DJANGO_SECRET_KEY），再恢复备份 "
            "(the backup's checkpoints were signed by another key: restore the installation's keys first)"
        )


# --- embedded: SQLite's online backup API ------------------------------------------------------------------


def _database_file() -> Path:
    return Path(str(settings.DATABASES["default"]["NAME"]))


def _backup_sqlite(target: Path) -> Summary:
    with closing(sqlite3.connect(_database_file(), timeout=20)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)  # one read transaction: a consistent copy while the server keeps writing
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        return _sqlite_summary(copy)


def _restore_sqlite(path: Path, *, force: bool) -> Summary:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
        try:
            checked = source.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            raise BackupError(f"备份文件已损坏，无法读取：{path} (the backup file is damaged)") from None
        if checked != "ok":
            raise BackupError(f"备份文件已损坏：{path}：{checked} (the backup file is damaged)")
        if not {SQLITE_EVENTS, ChainLink._meta.db_table, "django_migrations"} <= tables:
            raise BackupError(f"不是本系统的备份文件：{path} (not a backup made by manage.py backup)")
        summary = _sqlite_summary(source)
        _refuse_other_signing_key(_sqlite_public_keys(source), force)
        connection.close()
        target = _database_file()
        with closing(sqlite3.connect(target, timeout=20)) as installation:
            _refuse_occupied(*_sqlite_occupancy(installation), force)
            source.backup(installation)  # the whole file in one write transaction: all of it or nothing
    return summary


def _sqlite_summary(db: sqlite3.Connection) -> Summary:
    events = db.execute(f"SELECT count(*) FROM {SQLITE_EVENTS}").fetchone()[0]
    last = db.execute(
        f"SELECT position, hash FROM {ChainLink._meta.db_table} ORDER BY position DESC LIMIT 1"
    ).fetchone() or (0, integrity.GENESIS.hex())
    checkpoints = db.execute(f"SELECT count(*) FROM {Checkpoint._meta.db_table}").fetchone()[0]
    return Summary(events=events, head_position=last[0], head_hash=last[1], checkpoints=checkpoints)


def _sqlite_public_keys(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute(f"SELECT DISTINCT public_key FROM {Checkpoint._meta.db_table}")}


def _sqlite_occupancy(db: sqlite3.Connection) -> tuple[int, int]:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return tuple(  # type: ignore[return-value]
        db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table in tables else 0
        for table in (SQLITE_EVENTS, USERS)
    )


# --- production: pg_dump / pg_restore of the server's major version ----------------------------------------


def _params() -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {
        "host": str(db.get("HOST") or "127.0.0.1"),
        "port": str(db.get("PORT") or 5432),
        "user": str(db.get("USER") or ""),
        "dbname": str(db["NAME"]),
        "password": str(db.get("PASSWORD") or ""),
    }


def _connect() -> psycopg.Connection[Any]:
    return psycopg.connect(make_conninfo(**_params(), connect_timeout=10))


def _client_args() -> list[str]:
    params = _params()
    return ["-h", params["host"], "-p", params["port"], "-U", params["user"], "-d", params["dbname"]]


def _client_env() -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": _params()["password"], "PGCONNECT_TIMEOUT": "10"}


def server_major(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SHOW server_version_num").fetchone()
    assert row is not None  # SHOW always answers one row
    return int(row[0]) // 10000


def client_tool(name: str, major: int) -> str:
    """``pg_dump`` / ``pg_restore`` of the server's major version: Debian's versioned directory first, then PATH;
    refused when its major differs (a newer pg_dump writes what an older pg_restore cannot read, an older one
    refuses a newer server)."""
    candidates = [Path(os.environ.get("PG_CLIENT_BINDIR", f"/usr/lib/postgresql/{major}/bin")) / name]
    found = shutil.which(name)
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False).stdout
            match = re.search(r"\) (\d+)", version)
            client = int(match.group(1)) if match else 0
            if client == major:
                return str(candidate)
            raise BackupError(
                f"{name} 的主版本 {client} 与 PostgreSQL 服务器的主版本 {major} 不同：请安装 postgresql-client-{major} "
                f"或设置 PG_CLIENT_BINDIR (the client's major version {client} differs from the server's {major})"
            )
    raise BackupError(
        f"找不到 {name}：请安装 postgresql-client-{major} (no {name}; install the PostgreSQL {major} client)"
    )


def _backup_postgres(target: Path) -> Summary:
    with _connect() as db:
        pg_dump = client_tool("pg_dump", server_major(db))
        db.rollback()
        db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snapshot_row = db.execute("SELECT pg_export_snapshot()").fetchone()
        assert snapshot_row is not None
        summary = _postgres_summary(db)  # what the dump holds: pg_dump reads this very snapshot
        done = subprocess.run(
            [pg_dump, "-Fc", f"--snapshot={snapshot_row[0]}", "-f", str(target), *_client_args()],
            env=_client_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        db.rollback()
    if done.returncode != 0:
        raise BackupError(f"pg_dump 失败 (pg_dump failed): {done.stderr.strip()[-2000:]}")
    return summary


def _restore_postgres(path: Path, *, force: bool) -> Summary:
    with _connect() as db:
        major = server_major(db)
        occupancy = _postgres_occupancy(db)
    pg_restore = client_tool("pg_restore", major)
    listing = _run(pg_restore, "--list", str(path))
    if listing.returncode != 0:
        raise BackupError(f"备份文件已损坏，无法读取：{path} (pg_restore cannot read it: {listing.stderr.strip()})")
    if not re.search(rf"TABLE DATA public {POSTGRES_EVENTS} ", listing.stdout):
        raise BackupError(f"不是本系统的备份文件：{path} (not a backup made by manage.py backup)")
    _refuse_other_signing_key(_dumped_public_keys(pg_restore, path), force)
    _refuse_occupied(*occupancy, force)
    connection.close()
    done = _run(
        pg_restore,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-acl",
        "--single-transaction",  # with --exit-on-error: all of it or nothing
        "--exit-on-error",
        *_client_args(),
        str(path),
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore 失败，数据库未改变 (pg_restore failed, nothing changed): {done.stderr[-2000:]}")
    with _connect() as db:
        return _postgres_summary(db)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=_client_env(), capture_output=True, text=True, check=False)


def _dumped_public_keys(pg_restore: str, path: Path) -> set[str]:
    """The checkpoints' public keys, read from the dump's COPY data without restoring anything."""
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "checkpoints.sql"
        done = _run(pg_restore, "--data-only", f"--table={Checkpoint._meta.db_table}", "-f", str(script), str(path))
        text = script.read_text(encoding="utf-8") if done.returncode == 0 and script.exists() else ""
    copy = re.search(r"^COPY [^(]+\(([^)]*)\) FROM stdin;\n(.*?)^\\\.$", text, re.M | re.S)
    if not copy:
        return set()
    column = [name.strip().strip('"') for name in copy.group(1).split(",")].index("public_key")
    return {line.split("\t")[column] for line in copy.group(2).splitlines() if line}


def _postgres_summary(db: psycopg.Connection[Any]) -> Summary:
    events = db.execute(f"SELECT count(*) FROM {POSTGRES_EVENTS}").fetchone()
    last = db.execute(
        f"SELECT position, hash FROM {ChainLink._meta.db_table} ORDER BY position DESC LIMIT 1"
    ).fetchone()
    checkpoints = db.execute(f"SELECT count(*) FROM {Checkpoint._meta.db_table}").fetchone()
    assert events is not None and checkpoints is not None
    position, digest = last or (0, integrity.GENESIS.hex())
    return Summary(events=events[0], head_position=position, head_hash=digest, checkpoints=checkpoints[0])


def _postgres_occupancy(db: psycopg.Connection[Any]) -> tuple[int, int]:
    counts = []
    for table in (POSTGRES_EVENTS, USERS):
        exists = db.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",)).fetchone()
        row = db.execute(f"SELECT count(*) FROM {table}").fetchone() if exists and exists[0] else (0,)
        counts.append(row[0] if row else 0)
    return counts[0], counts[1]
