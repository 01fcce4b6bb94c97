"""A rebuild without downtime (blue/green): the read models are rebuilt beside the live ones, then swapped in.

While the live tables keep serving reads and commands keep writing them inline, the same projectors project the
log into shadow tables of the same names that only the rebuilding connection sees first:

- SQLite: TEMP tables (``CREATE TEMP TABLE``, the live table's own DDL and indexes); an unqualified name is
  looked up in ``temp`` before ``main``, and no other connection sees them;
- PostgreSQL: tables in the schema ``rebuild_shadow`` (``LIKE … INCLUDING ALL``), put first on the rebuilding
  connection's ``search_path`` (and on its worker processes', ``_on_connection``).

The shadow follows the log to its head, a transaction a batch. Then, in one transaction holding the lock the
commands take (PostgreSQL: the event table's EXCLUSIVE lock, as the library's insert takes it; SQLite: the write
lock of ``BEGIN IMMEDIATE``), it applies the last events, and the live tables are made equal to the shadow (only the
rows that differ are deleted and inserted, ``Shadow.copy_back``; a table cannot be renamed from ``temp`` into
``main`` on SQLite), with the positions.
Readers see the old rows until that commit and the new ones after it (MVCC; SQLite's WAL).

Ids users hold keep their identity: a notice's id (``notifications/{id}/acknowledge/``) is kept for the notice
with the same natural key (``KEPT_IDS``); the other read models' auto ids are never shown. Logins, tokens,
sessions, attachments, stored copies and the chain are not read models: a rebuild does not touch them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.db.backends.signals import connection_created
from django.db.models.fields import AutoFieldMixin

from domain.application import SafetyApplication
from projections.notifications import NotificationView
from projections.rebuild import RebuildFailed, as_failure, chain_up_to, in_parallel, project_in_workers
from projections.runner import NOTIFICATIONS_POSITION, POSITION_NAME, PROJECTORS, apply_notifications, catch_up
from projections.tracking import ProjectionPosition

logger = logging.getLogger(__name__)

SHADOW_SCHEMA = "rebuild_shadow"
REBUILD_LOCK = 0x5AFE_0B17  # the advisory lock one rebuild holds on PostgreSQL
# Read models whose ids users hold, by the natural key a rebuild gives the same row again: the id is kept.
KEPT_IDS: dict[type[models.Model], tuple[str, ...]] = {
    NotificationView: ("hazard", "hazard_version", "recipient_user", "recipient_unit", "recipient_role"),
}


@dataclass(frozen=True)
class Rebuilt:
    head: int  # the log position the swapped-in read models are at
    locked: float  # seconds the swap held the commands' lock (the last events, the copy back, the commit)


def rebuild_online(
    app: SafetyApplication, *, batch_size: int, workers: int = 1, progress: Callable[[int], None] | None = None
) -> Rebuilt:
    """Rebuild every read model into shadow tables and swap them in.

    A failure leaves the live read models as they were (the shadow is dropped)."""
    catch_up(app, batch_size=batch_size)  # the chain and the live rows of what was recorded outside a command
    with shadow_tables() as shadow:
        try:
            head = app.recorder.max_notification_id() or 0
            position = 0
            if in_parallel(workers, head):
                project_in_workers(app, head, batch_size, workers, progress)
                position = head
            position = follow(app, shadow, position, batch_size, progress)
            shadow.analyze()
            return swap(app, shadow, position, batch_size, progress)
        except BaseException as error:
            failure = as_failure(error)
            if failure is error:
                raise
            raise failure from error


def follow(
    app: SafetyApplication,
    shadow: Shadow,
    position: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Apply the events after ``position`` to the shadow, a transaction a batch, until a batch reaches the head;
    returns the shadow's position."""
    while True:
        shadow.check()
        page = app.recorder.select_notifications(start=position, limit=batch_size, inclusive_of_start=False)
        if not page:
            return position
        with shadow_only(), transaction.atomic():
            apply_notifications(app, page, PROJECTORS)
        position = page[-1].id
        if progress:
            progress(len(page))
        if len(page) < batch_size:
            return position


@contextmanager
def shadow_only() -> Iterator[None]:
    """SQLite: a transaction that writes only the shadow (TEMP) tables begins DEFERRED, without the database's write
    lock that the connection's ``BEGIN IMMEDIATE`` would take: the commands go on writing meanwhile (held batch after
    batch, that lock starved them). Inside an open transaction (the swap's) nothing changes."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()
    mode: Any = connection
    saved, mode.transaction_mode = mode.transaction_mode, "DEFERRED"
    try:
        yield
    finally:
        mode.transaction_mode = saved


def swap(
    app: SafetyApplication,
    shadow: Shadow,
    position: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> Rebuilt:
    """Under the commands' lock: the last events into the shadow, its rows into the live tables, the live
    positions at the head — one transaction."""
    with transaction.atomic():
        lock_log(app)
        locked = time.monotonic()
        live = ProjectionPosition.objects.select_for_update()  # the notifications' catch-up waits on its row
        rows = {name: live.get_or_create(name=name)[0] for name in (POSITION_NAME, NOTIFICATIONS_POSITION)}
        head = app.recorder.max_notification_id() or 0
        chain_up_to(app, head, batch_size)
        position = follow(app, shadow, position, batch_size, progress)
        if position != head:
            raise RuntimeError(f"the shadow stopped at {position}, the log's head is {head}")
        shadow.copy_back()
        for row in rows.values():
            row.position = head
            row.save(update_fields=["position"])
    rebuilt = Rebuilt(head=head, locked=time.monotonic() - locked)
    logger.info("read models rebuilt up to %d, swapped in holding the lock %.3f s", head, rebuilt.locked)
    return rebuilt


def lock_log(app: SafetyApplication) -> None:
    """Take the lock a command's insert takes (call inside the transaction). SQLite: ``BEGIN IMMEDIATE`` (the
    connection's ``transaction_mode``) took the write lock already; PostgreSQL: the library's own statements."""
    if connection.vendor != "postgresql":
        return
    recorder: Any = app.recorder
    with recorder.datastore.get_connection() as conn:
        for statement in recorder.lock_table_statements:
            conn.execute(statement)


def read_models() -> list[type[models.Model]]:
    """Every read model's table, children before the rows they refer to (the projectors' order)."""
    return list(dict.fromkeys(m for p in PROJECTORS for m in p.models))


class Shadow:
    """The shadow tables of ``tables`` on this connection: made, copied back into the live tables, dropped."""

    def __init__(self, tables: Sequence[type[models.Model]]) -> None:
        self.tables = list(tables)
        self.postgres = connection.vendor == "postgresql"
        self.live = "main"
        self.shadow = "temp"
        self.search_path = ""

    def create(self) -> None:
        with connection.cursor() as cursor:
            if self.postgres:
                cursor.execute("SELECT current_schema(), current_setting('search_path')")
                live, self.search_path = cursor.fetchone()
                self.live, self.shadow = quote(live), quote(SHADOW_SCHEMA)
                cursor.execute(f"DROP SCHEMA IF EXISTS {self.shadow} CASCADE")
                cursor.execute(f"CREATE SCHEMA {self.shadow}")
                for model in self.tables:
                    table = quote(model._meta.db_table)
                    cursor.execute(f"CREATE TABLE {self.shadow}.{table} (LIKE {self.live}.{table} INCLUDING ALL)")
                _redirect(f"{self.shadow}, {self.search_path}")
                return
            for model in self.tables:
                cursor.execute(f"DROP TABLE IF EXISTS temp.{quote(model._meta.db_table)}")
                cursor.execute(
                    "SELECT type, sql FROM main.sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL "
                    "ORDER BY type = 'index'",
                    [model._meta.db_table],
                )
                for kind, sql in cursor.fetchall():
                    cursor.execute(_temporary(kind, sql))

    def check(self) -> None:
        """The shadow is what this connection writes (a connection opened anew would write the live tables)."""
        with connection.cursor() as cursor:
            if self.postgres:
                cursor.execute("SELECT (current_schemas(false))[1]")
                found = cursor.fetchone()[0] == SHADOW_SCHEMA
            else:
                names = [m._meta.db_table for m in self.tables]
                cursor.execute(
                    f"SELECT count(*) FROM temp.sqlite_master WHERE type = 'table' AND name IN "
                    f"({', '.join(['%s'] * len(names))})",
                    names,
                )
                found = cursor.fetchone()[0] == len(names)
        if not found:
            raise RuntimeError("the rebuild's connection lost its shadow tables")

    def copy_back(self) -> None:
        """The live tables made equal to the shadow's (call under the lock, in the swap's transaction), writing only
        what differs: a rebuild mostly finds every row as it was, and the lock is held while this runs (a rewrite of
        every row took 1.5 s for 30k rows on SQLite and 4.7 s on PostgreSQL, where commands wait for the lock 10 s).
        A row equal to the shadow's in every column but an auto id is kept as it is, its id too; a notice changed
        in place keeps its id (``KEPT_IDS``); the others are deleted, and the shadow's new rows inserted (an auto id
        from the live table's sequence, in the shadow's order)."""
        with connection.cursor() as cursor:
            if self.postgres:
                # Every comparison by hashing (or merging), never row by row: a live table the planner believes
                # empty (statistics from when it was: the notifications of a log never projected by their group)
                # would be scanned once per shadow row, and an INSERT into it scans the rows it has inserted so
                # far too — at 1,000,000 events the swap held the lock for over 12 minutes.
                cursor.execute("SET LOCAL enable_nestloop = off")
            for model in self.tables:  # children first
                if model in KEPT_IDS:
                    cursor.execute(self._changed(model))
                cursor.execute(self._gone(model))
            for model in reversed(self.tables):
                cursor.execute(self._new(model))

    def _changed(self, model: type[models.Model]) -> str:
        key = KEPT_IDS[model]
        rest = [f for f in _content(model) if f.name not in key]
        changes = ", ".join(f"{quote(f.column)} = s.{quote(f.column)}" for f in rest)
        differs = " OR ".join(f"NOT ({self._equal(f, quote(model._meta.db_table))})" for f in rest)
        same_key = self._all_equal([model._meta.get_field(k) for k in key], quote(model._meta.db_table))
        return (
            f"UPDATE {self._live(model)} SET {changes} FROM {self._shadow(model)} AS s WHERE {same_key} AND ({differs})"
        )

    def _gone(self, model: type[models.Model]) -> str:
        same = self._all_equal(_content(model), quote(model._meta.db_table))
        found = f"SELECT 1 FROM {self._shadow(model)} AS s WHERE {same}"
        return f"DELETE FROM {self._live(model)} WHERE NOT EXISTS ({found})"

    def _new(self, model: type[models.Model]) -> str:
        content = _content(model)
        listed = ", ".join(quote(f.column) for f in content)
        selected = ", ".join(f"s.{quote(f.column)}" for f in content)
        pk: Any = model._meta.pk
        order = f" ORDER BY s.{quote(pk.column)}" if _auto(pk) else ""
        found = f"SELECT 1 FROM {self._live(model)} AS l WHERE {self._all_equal(content, 'l')}"
        return (
            f"INSERT INTO {self._live(model)} ({listed}) SELECT {selected} FROM {self._shadow(model)} AS s "
            f"WHERE NOT EXISTS ({found}){order}"
        )

    def _all_equal(self, fields: Sequence[Any], live: str) -> str:
        return " AND ".join(self._equal(f, live) for f in fields)

    def _equal(self, field: Any, live: str) -> str:
        """The live row's column equal to the shadow's (``s``); NULL equal to NULL (a plain ``=`` where the column
        cannot be NULL: PostgreSQL joins on those by hashing)."""
        column = quote(field.column)
        same = "=" if not field.null else "IS NOT DISTINCT FROM" if self.postgres else "IS"
        return f"{live}.{column} {same} s.{column}"

    def _live(self, model: type[models.Model]) -> str:
        return f"{self.live}.{quote(model._meta.db_table)}"

    def _shadow(self, model: type[models.Model]) -> str:
        return f"{self.shadow}.{quote(model._meta.db_table)}"

    def drop(self) -> None:
        with connection.cursor() as cursor:
            if self.postgres:
                _redirect(None)
                cursor.execute(f"SET search_path TO {self.search_path}")
                cursor.execute(f"DROP SCHEMA IF EXISTS {self.shadow} CASCADE")
                return
            for model in self.tables:
                cursor.execute(f"DROP TABLE IF EXISTS temp.{quote(model._meta.db_table)}")

    def analyze(self) -> None:
        """PostgreSQL: statistics of the live and the shadow tables, so that the swap's comparison of their rows
        (``copy_back``) is planned with their real sizes (call before taking the lock: a shadow just filled has
        none)."""
        if not self.postgres:
            return
        with connection.cursor() as cursor:
            for model in self.tables:
                cursor.execute(f"ANALYZE {self._live(model)}, {self._shadow(model)}")

    def vacuum(self) -> None:
        """PostgreSQL: the deleted rows' space made reusable now (the next rebuild writes into it), not when
        autovacuum comes by. Outside a transaction only."""
        if not self.postgres or connection.in_atomic_block:
            return
        with connection.cursor() as cursor:
            for model in self.tables:
                cursor.execute(f"VACUUM (ANALYZE) {self._live(model)}")


@contextmanager
def shadow_tables() -> Iterator[Shadow]:
    """Every read model's shadow on this connection, for the block; dropped after it, whatever happens."""
    with one_rebuild_at_a_time():
        shadow = Shadow(read_models())
        shadow.create()
        swapped = False
        try:
            yield shadow
            swapped = True
        finally:
            try:
                shadow.drop()
            except DatabaseError:  # inside a failed transaction: the caller's rollback drops what it made
                logger.warning("the rebuild's shadow tables were not dropped", exc_info=True)
            finally:
                _redirect(None)
        if swapped:
            shadow.vacuum()


@contextmanager
def one_rebuild_at_a_time() -> Iterator[None]:
    """PostgreSQL: the shadow schema is one for the database, so a second rebuild is refused while one runs (an
    advisory lock of the rebuilding connection's session; a rebuild that dies releases it with its connection).
    SQLite's shadow tables are the connection's own, and the swaps take the database's write lock in turn."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [REBUILD_LOCK])
        if not cursor.fetchone()[0]:
            raise RebuildFailed("另一个重建正在进行，请等它结束后再运行 (another rebuild is running)")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK])


def quote(name: str) -> str:
    return str(connection.ops.quote_name(name))


def _auto(field: Any) -> bool:
    return isinstance(field, AutoFieldMixin)


def _content(model: type[models.Model]) -> list[Any]:
    """The columns that make a row what it is: all but an auto id."""
    return [f for f in model._meta.concrete_fields if not (f.primary_key and _auto(f))]


def _temporary(kind: str, sql: str) -> str:
    """A table's or index's DDL from ``sqlite_master`` made for the ``temp`` schema."""
    if kind == "table":
        return re.sub(r"^CREATE TABLE ", "CREATE TEMP TABLE ", sql)
    return re.sub(r"^CREATE (UNIQUE )?INDEX ", lambda m: f"CREATE {m[1] or ''}INDEX temp.", sql)


# PostgreSQL: the search_path of the rebuilding thread's connections and of its worker processes' (forked from it,
# they open their own, in a thread of the same id), set on each as it is opened; no other thread's, nor a process
# another thread forks.
_redirected: tuple[str, int] | None = None


def _redirect(search_path: str | None) -> None:
    global _redirected
    if search_path is None:
        _redirected = None
        return
    _redirected = (search_path, threading.get_ident())
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {search_path}")


def _on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _redirected is None or connection.vendor != "postgresql":
        return
    search_path, thread = _redirected
    if threading.get_ident() != thread:  # a worker forked by the rebuilding thread is that thread still
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {search_path}")


connection_created.connect(_on_connection)
