"""One transaction per command: the library's recorders on Django's connection, the events projected inline.

The library's application recorder normally writes through its own connection (a psycopg pool, or its own
``sqlite3`` connections to ``var/events.sqlite3``), so a command's events commit before, and apart from, the
read models, the chain link and the tracking position that Django writes afterwards. Here the library's
datastore hands out Django's own connection instead:

- PostgreSQL: ``get_connection`` yields Django's psycopg 3 connection. Inside ``transaction.atomic()`` the
  library's ``conn.transaction()`` becomes a savepoint of Django's transaction, so its ``LOCK TABLE … IN
  EXCLUSIVE MODE`` is held until Django commits, and everything Django writes after the insert commits with it.
- SQLite: ``transaction`` yields a cursor of Django's ``sqlite3`` connection (events and read models in one
  file); the insert is a savepoint of Django's transaction.

``execute_inline`` runs one command that way: the command loads, decides and encodes its events (before the
lock), the insert takes the lock, then the events already in hand (nothing decoded) are projected, chained and
the tracking position moved, and Django commits. It is the product's command path (``api.services.execute``).
What may lag (the notifications) is not in that transaction: without Kafka it is brought up to date right after
the commit of a command whose events concern it, in this process (``notify_after_commit``), and before it is read;
with Kafka by its consumer group.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast
from uuid import UUID

import psycopg
from django.conf import settings
from django.db import DatabaseError as DjangoDatabaseError
from django.db import IntegrityError as DjangoIntegrityError
from django.db import connection, connections, transaction
from django.db.backends.utils import CursorWrapper
from eventsourcing import persistence
from eventsourcing.persistence import Environment, InfrastructureFactory, Notification, Recording, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteFactory
from eventsourcing.utils import strtobool
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier

from domain.application import SafetyApplication
from projections import bulk, integrity
from projections.policekey import police_cipher
from projections.runner import (
    POSITION_NAME,
    apply_notifications,
    catch_up_notifications,
    concerns_notifications,
    inline_projectors,
    notifications_in_process,
)
from projections.tracking import ProjectionPosition

logger = logging.getLogger(__name__)

T = TypeVar("T")
ALIAS = "default"

# --- PostgreSQL -----------------------------------------------------------------------------------------

_PSYCOPG_ERRORS: tuple[tuple[type[Exception], type[Exception]], ...] = (
    (psycopg.InterfaceError, persistence.InterfaceError),
    (psycopg.OperationalError, persistence.OperationalError),
    (psycopg.DataError, persistence.DataError),
    (psycopg.IntegrityError, persistence.IntegrityError),
    (psycopg.InternalError, persistence.InternalError),
    (psycopg.ProgrammingError, persistence.ProgrammingError),
    (psycopg.NotSupportedError, persistence.NotSupportedError),
    (psycopg.DatabaseError, persistence.DatabaseError),
    (psycopg.Error, persistence.PersistenceError),
)


class DjangoPostgresDatastore(PostgresDatastore):
    """The library's PostgreSQL datastore, its connections being Django's (the pool is never opened)."""

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        django_connection = connections[ALIAS]
        django_connection.ensure_connection()
        conn = django_connection.connection
        if django_connection.in_atomic_block and conn.info.transaction_status == TransactionStatus.IDLE:
            # Django's transaction is only begun by its first statement: begin it now, or psycopg would take the
            # library's `conn.transaction()` for an outer transaction and commit it on its own. Sent as is (one
            # round trip): through `execute`, psycopg would send its own BEGIN first, then the statement.
            result = conn.pgconn.exec_(b"BEGIN")
            if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
                raise persistence.OperationalError(conn.pgconn.error_message.decode(errors="replace"))
        saved = conn.row_factory, conn.cursor_factory
        conn.row_factory, conn.cursor_factory = dict_row, psycopg.Cursor  # what the library's code expects
        try:
            yield conn
        except psycopg.Error as e:
            raise next(ours for theirs, ours in _PSYCOPG_ERRORS if isinstance(e, theirs))(str(e)) from e
        finally:
            conn.row_factory, conn.cursor_factory = saved


class DjangoPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's insert, its lock and its pipeline, as a savepoint of Django's transaction.

    The library's own ``insert_events`` catches a failed insert inside ``conn.transaction()`` and re-raises it after
    the block ends normally: at the top level that COMMIT of an aborted transaction is a rollback, but as a savepoint
    it is a RELEASE, which fails (``InFailedSqlTransaction``) and hides the ``IntegrityError`` of a stale version.
    Here the error leaves the block, so the savepoint is rolled back and the error is the insert's own.
    """

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.pipeline() as pipeline:
            with conn.transaction(), conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
                self._insert_stored_events(curs, stored_events, **kwargs)
                pipeline.sync()
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _notify_channel(self, curs: Any) -> None:
        """No ``NOTIFY`` with each insert: nothing here LISTENs (the relay and the consumers read the log by
        position), and a notifying transaction also queues the notice and takes PostgreSQL's notify-queue lock when
        it commits."""


class DjangoPostgresFactory(PostgresFactory):
    application_recorder_class = DjangoPostgresApplicationRecorder

    def __init__(self, env: Environment | dict[str, str] | None):
        super().__init__(env)
        self.datastore.__class__ = DjangoPostgresDatastore  # same settings, Django's connection


# --- SQLite ---------------------------------------------------------------------------------------------


class DjangoSQLiteDatastore(SQLiteDatastore):
    """The library's SQLite datastore over Django's ``sqlite3`` connection (no pool of its own)."""

    def __init__(self) -> None:  # no super().__init__(): it would open a pool on another file
        self.single_row_tracking = True
        self.originator_id_type = "uuid"

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        try:
            if commit:
                with transaction.atomic(using=ALIAS):  # a savepoint inside the command's transaction
                    yield from self._cursor()
            else:
                yield from self._cursor()
        except DjangoIntegrityError as e:
            raise persistence.IntegrityError(str(e)) from e
        except DjangoDatabaseError as e:
            raise persistence.PersistenceError(str(e)) from e

    @staticmethod
    def _cursor() -> Iterator[SQLiteCursor]:
        connection = connections[ALIAS]
        connection.ensure_connection()
        # Django's wrapper (its execute wrappers see the library's SQL), not the DEBUG one (it would format `?`)
        cursor = CursorWrapper(connection.create_cursor(), connection)
        cursor.cursor.row_factory = sqlite3.Row
        try:
            yield SQLiteCursor(cast(sqlite3.Cursor, cursor))
        finally:
            cursor.close()

    def close(self) -> None:
        pass


class DjangoSQLiteFactory(SQLiteFactory):
    def __init__(self, env: Environment | dict[str, str] | None):
        InfrastructureFactory.__init__(self, env)  # type: ignore[arg-type]
        self.datastore = DjangoSQLiteDatastore()

    def env_create_table(self) -> bool:
        return strtobool(self.env.get(self.CREATE_TABLE) or "no")  # the tables come from a migration


# --- the application and one command in one transaction ---------------------------------------------------


class InlineApplication(SafetyApplication):
    """The application, keeping the events a command records in hand (with their log positions) while the
    command runs inside ``execute_inline``, so that they are projected without being read back and decoded."""

    name = SafetyApplication.name  # the same log (the library names its table and settings after it)

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(
            env or inline_env(),
            police_cipher=police_cipher(),
            rectify_requires_photo=settings.RECTIFY_REQUIRES_PHOTO,
        )
        self._inline = threading.local()

    @property
    def rectify_requires_photo(self) -> bool:
        """The installation's setting ``RECTIFY_REQUIRES_PHOTO``, read at each command (the application is built
        once per process; a setting overridden later, as tests do, still holds)."""
        return bool(settings.RECTIFY_REQUIRES_PHOTO)

    @rectify_requires_photo.setter
    def rectify_requires_photo(self, value: bool) -> None:
        del value  # the setting decides

    def _record(self, processing_event: Any) -> list[Recording[UUID]]:
        if getattr(self._inline, "early", False):  # the read-model rows before the insert takes the lock
            for projector in inline_projectors():
                projector.apply_batch(processing_event.events)
        return super()._record(processing_event)  # type: ignore[no-any-return]

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if getattr(self._inline, "active", False):
            self._inline.recordings.extend(recordings)

    @contextmanager
    def keeping_recordings(self, *, early: bool = False) -> Iterator[list[Recording[UUID]]]:
        """What this thread records inside the block, in hand."""
        kept: list[Recording[UUID]] = []
        self._inline.active, self._inline.recordings, self._inline.early = True, kept, early
        try:
            yield kept
        finally:
            self._inline.active, self._inline.recordings, self._inline.early = False, [], False


def inline_env(*, create_table: bool = False) -> dict[str, str]:
    """The library's settings: Django's database, Django's connection (the tables come from a migration)."""
    flag = "y" if create_table else "n"
    if connections[ALIAS].vendor == "postgresql":
        db = connections[ALIAS].settings_dict
        return {
            "PERSISTENCE_MODULE": f"{__name__}:DjangoPostgresFactory",
            "POSTGRES_DBNAME": str(db["NAME"]),
            "POSTGRES_HOST": str(db["HOST"] or "127.0.0.1"),
            "POSTGRES_PORT": str(db["PORT"] or "5432"),
            "POSTGRES_USER": str(db["USER"]),
            "POSTGRES_PASSWORD": str(db["PASSWORD"]),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "CREATE_TABLE": flag,
        }
    return {"PERSISTENCE_MODULE": f"{__name__}:DjangoSQLiteFactory", "SQLITE_DBNAME": "django", "CREATE_TABLE": flag}


def new_inline_application() -> InlineApplication:
    return InlineApplication()


def execute_inline(
    app: InlineApplication,
    command: Callable[[InlineApplication], T],
    *,
    rows_before_lock: bool = False,
    recorded: Callable[[Sequence[Recording[UUID]]], None] | None = None,
) -> T:
    """Run a command and everything it writes in one transaction of Django's: all of it commits, or nothing.

    Before the lock: load, decide, encode (the library's ``save`` maps the events before ``insert_events``).
    Under it (PostgreSQL takes it at the insert; SQLite's write lock is the file's, ``BEGIN IMMEDIATE``): the
    insert, the read-model rows of the events in hand, their chain links (and a checkpoint when due), the
    tracking position, commit. Whatever else the command writes on Django's connection (a submission's copies, a
    login) is in the same transaction.

    ``rows_before_lock`` (measured in ``benchmarks.spike_tx``, not safe yet): the read-model rows are written
    before the insert, so only the insert, the chain link, the position and the commit hold the table lock. It
    needs the read models caught up first, and rows shared between aggregates locked or written by increments
    (two commands could otherwise both read, then both write them) — see README, "One transaction per command".

    ``recorded`` is told what the command recorded (``/metrics`` names a command's latency by its first event).
    """
    with transaction.atomic(using=ALIAS), app.keeping_recordings(early=rows_before_lock) as recordings:
        result = command(app)
        project_inline(app, list(recordings), rows_written=rows_before_lock)
        if recorded is not None:
            recorded(list(recordings))
        if notifications_in_process() and concerns_notifications(r.domain_event for r in recordings):
            # after the outermost commit (never if it rolls back): the notifications, in their own transaction
            transaction.on_commit(lambda: notify_after_commit(app), using=ALIAS)
    return result


def notify_after_commit(app: SafetyApplication) -> None:
    """The notifications brought up to date after a command committed (in process, without Kafka). A failure is
    logged and never fails the command, which is recorded: the next catch-up (the next command's, a read of
    ``notifications/``, the deadline watcher's) applies what this one did not."""
    try:
        catch_up_notifications(app)
    except Exception:
        logger.exception("notifications not brought up to date after a command; the next catch-up applies them")


def project_inline(
    app: SafetyApplication, recordings: Sequence[Recording[UUID]], *, rows_written: bool = False
) -> None:
    """Apply, chain and track the events just inserted (call inside the command's transaction)."""
    if not recordings:
        return
    notifications = [r.notification for r in recordings]
    # The tracking row and the chain's, locked in one statement (created the first time): the tracking position,
    # and the last checkpoint's, so that no query is needed to know whether one is due.
    locked, chain_head = integrity.lock_with_chain(POSITION_NAME)
    if len(locked) < 2:
        ProjectionPosition.objects.get_or_create(name=POSITION_NAME)
        ProjectionPosition.objects.get_or_create(name=integrity.CHAIN_ROW)
        locked, chain_head = integrity.lock_with_chain(POSITION_NAME)
    position = locked[POSITION_NAME]
    behind: Sequence[Notification] = []
    if position < notifications[0].id - 1:  # recorded outside a command (the demo, an old release)
        behind = app.recorder.select_notifications(
            start=position, stop=notifications[0].id - 1, limit=1_000_000, inclusive_of_start=False
        )
    if behind and rows_written:
        raise RuntimeError("the read models are behind the log: rows written before the lock would be out of order")
    # The projectors' writes are not pipelined: the ORM's ``save`` reads an UPDATE's row count to choose
    # between UPDATE and INSERT, which psycopg's pipeline does not give back (it then INSERTs a row that exists).
    projectors = inline_projectors()
    if behind:
        apply_notifications(app, behind, projectors)
    if not rows_written:
        events = [r.domain_event for r in recordings]
        for projector in projectors:
            projector.apply_batch(events)  # type: ignore[arg-type]
    # On PostgreSQL the chain link, the checkpoint when due and the position go out without waiting for their
    # answers (psycopg's pipeline, plain statements only), fewer round trips under the lock.
    with bulk.together(not behind):
        hashes = integrity.extend([*behind, *notifications], locked_head=chain_head)
        integrity.maybe_checkpoint(hashes, last=locked[integrity.CHAIN_ROW])
        move_position(notifications[-1].id)


def move_position(position: int) -> None:
    """The tracking row (locked by ``project_inline``) at ``position``: one plain statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ProjectionPosition._meta.db_table} SET position = %s WHERE name = %s", [position, POSITION_NAME]
        )


def record_at_positions(app: SafetyApplication, notifications: Sequence[Notification]) -> list[Recording[UUID]]:
    """Insert stored events at the log positions they had before (``manage.py recover_from_kafka``), inside the
    caller's transaction and under the event table's lock; returns them as recordings, for ``project_inline``.

    The positions are the ones Kafka, the checkpoints and the consumer groups know them by, so they are kept: on
    PostgreSQL a run of consecutive positions is inserted by the library's own insert after the table's sequence is
    set to the run's first position (a sequence may have gaps: rolled-back inserts use numbers too); SQLite numbers
    rows one after the last, so there the positions must follow the log's head. Raises ``PositionTaken`` if the
    store gives any event another position (the caller's transaction then rolls back: nothing is appended).
    """
    recorder = app.recorder
    runs: list[list[Notification]] = []
    for n in notifications:
        if runs and runs[-1][-1].id + 1 == n.id:
            runs[-1].append(n)
        else:
            runs.append([n])
    recordings: list[Recording[UUID]] = []
    for run in runs:
        if isinstance(recorder, PostgresApplicationRecorder):
            _lock_and_number_from(recorder, run[0].id)
        stored = [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in run]
        ids = list(recorder.insert_events(stored) or [])
        if ids != [n.id for n in run]:
            raise PositionTaken(f"the store numbered the events {ids[:3]}…, not {[n.id for n in run][:3]}…")
        recordings += [Recording(app.mapper.to_domain_event(n), n) for n in run]
    return recordings


class PositionTaken(RuntimeError):
    """The store could not give an event back its log position."""


def lock_log(app: SafetyApplication) -> None:
    """Take the event table's lock for the rest of the caller's transaction, before anything else, in the order a
    command takes its locks (the table at its insert, then the chain's row): no event is recorded meanwhile. On
    SQLite the file's write lock is taken by the transaction's first write."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("LOCK TABLE {table} IN EXCLUSIVE MODE").format(table=_events_table(recorder)))


def _lock_and_number_from(recorder: PostgresApplicationRecorder, position: int) -> None:
    """Hold the table's lock (as the insert would) before moving its sequence: no other insert takes a number."""
    table = _events_table(recorder)
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(SQL("LOCK TABLE {table} IN EXCLUSIVE MODE").format(table=table))
        curs.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s, false)",
            (table.as_string(conn), position),
        )


def _events_table(recorder: PostgresApplicationRecorder) -> Composed:
    return SQL("{schema}.{table}").format(
        schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name)
    )


__all__ = [
    "DjangoPostgresApplicationRecorder",
    "DjangoPostgresDatastore",
    "DjangoPostgresFactory",
    "DjangoSQLiteDatastore",
    "DjangoSQLiteFactory",
    "InlineApplication",
    "execute_inline",
    "inline_env",
    "lock_log",
    "new_inline_application",
    "notify_after_commit",
    "project_inline",
    "PositionTaken",
    "record_at_positions",
]
