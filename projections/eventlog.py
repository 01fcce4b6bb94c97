"""Many aggregates' events in one read, where the library's recorder selects one aggregate's events at a time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


def events_of(app: Application, ids: Iterable[UUID]) -> dict[UUID, list[Any]]:
    """Each aggregate's domain events in version order (none for an unknown id), keyed in the order given.

    On PostgreSQL one statement reads them all, from the recorder's own table through its own connection pool,
    retried as the recorder retries; the embedded SQLite store (in process, no round trips) reads each aggregate
    as ``app.events.get`` does.
    """
    wanted = list(dict.fromkeys(ids))
    recorder = app.recorder
    if not isinstance(recorder, PostgresAggregateRecorder):
        return {i: list(app.events.get(i)) for i in wanted}
    found: dict[UUID, list[Any]] = {i: [] for i in wanted}
    for stored in _select(recorder, wanted) if wanted else ():
        found[UUID(str(stored.originator_id))].append(app.mapper.to_domain_event(stored))
    return found


@retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
def _select(recorder: PostgresAggregateRecorder, ids: list[UUID]) -> list[StoredEvent]:
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, [ids], prepare=True)
        return [
            StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in curs.fetchall()
        ]
