"""A full rebuild of the read models, on PostgreSQL in parallel worker processes.

The hazard projectors are most of a rebuild's work, and a hazard's rows depend only on its own events, its
school's unit row and its 序号 (counted per school in log order): so the hazards are shared out among workers.

1. In this process: the hash chain is extended where it is behind; then the directory (units, staff and accounts,
   and the notifications' unit rows and 签收), in log order — units never change once registered, so a hazard
   projected later reads the same school row as it would have in log order; then every hazard's 序号, counted over
   the discoveries in log order (``numbers_up_to``).
2. ``workers`` processes, each reading the log up to the head taken at the start, only the events it projects
   (the share is chosen in the query, see ``_page_sql``, so no worker fetches or decodes another's events): each
   applies the events of its share of the hazards (ledger, history, notifications), found by a byte of the
   hazard's id; worker 0 also campaigns, inspections, joint forms and submissions, so its share of the hazards is
   smaller (``slots_of``).
3. The read models' position and the notifications' are set to that head; what was recorded meanwhile is caught
   up as usual (both positions moving together).

Every worker commits a batch at a time (inside an open transaction the rebuild runs in this process instead).
If one fails, the read models are emptied again and the error is raised: a rebuild is all or nothing.
On SQLite (one writer at a time) the rebuild is the usual catch-up from position 0, the notifications in the same
pass (``catch_up(projectors=PROJECTORS)`` moves their position with the read models').
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

from django.db import connection, connections, transaction
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic
from psycopg.rows import tuple_row

from domain.application import SafetyApplication
from domain.directory.account import Account
from domain.directory.aggregate import Staff, Unit
from domain.hazard.aggregate import Hazard
from projections import (
    attachmentuse,
    campaigns,
    directory,
    inspections,
    integrity,
    jointforms,
    notifications,
    submissions,
)
from projections.hazard.numbers import series
from projections.hazard.projector import projector as hazard_projector
from projections.runner import NOTIFICATIONS_POSITION, POSITION_NAME, PROJECTORS, catch_up, clear_read_models
from projections.tracking import ProjectionPosition

DIRECTORY = "directory"
HAZARD = "hazard"
OTHER = "other"
# the attachments' uses after the rows they read the school from (inspections', hazards')
OTHER_PROJECTORS = (
    campaigns.projector,
    inspections.projector,
    jointforms.projector,
    submissions.projector,
    attachmentuse.projector,
)
HAZARD_PROJECTORS = (hazard_projector, notifications.projector, attachmentuse.projector)


class RebuildFailed(RuntimeError):
    pass


def rebuild(
    app: SafetyApplication, *, batch_size: int, workers: int = 1, progress: Callable[[int], None] | None = None
) -> int:
    """Empty every read model and project the whole log again; returns how many events were applied.

    From scratch: the read models are empty until it ends. ``manage.py rebuild_projections`` rebuilds beside the
    live tables instead (``projections.bluegreen``); this is for an installation nobody uses yet (a restore, a
    quiet copy to compare with, the benchmarks)."""
    clear_read_models()
    head = app.recorder.max_notification_id() or 0
    if not in_parallel(workers, head):
        return catch_up(app, batch_size=batch_size, progress=progress, projectors=PROJECTORS)
    chain_up_to(app, head, batch_size)
    try:
        project_in_workers(app, head, batch_size, workers, progress)
    except BaseException as error:
        clear_read_models()
        failure = as_failure(error)
        if failure is error:
            raise
        raise failure from error
    with transaction.atomic():
        for name in (POSITION_NAME, NOTIFICATIONS_POSITION):  # the notifications were rebuilt with the rest
            ProjectionPosition.objects.update_or_create(name=name, defaults={"position": head})
    return head + catch_up(app, batch_size=batch_size, projectors=PROJECTORS)  # recorded while rebuilding


def in_parallel(workers: int, head: int) -> bool:
    """Whether the log up to ``head`` is projected by worker processes: on PostgreSQL only (SQLite has one writer),
    and never inside an open transaction (the workers could not see its changes)."""
    return workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block and head > 0


def as_failure(error: BaseException) -> BaseException:
    """What a failed rebuild raises: ``RebuildFailed`` naming the error (an interrupt as it is)."""
    if isinstance(error, Exception) and not isinstance(error, RebuildFailed):
        return RebuildFailed(f"{type(error).__name__}: {error}")
    return error


def project_in_workers(
    app: SafetyApplication, head: int, batch_size: int, workers: int, progress: Callable[[int], None] | None
) -> None:
    """Steps 1 (after the chain) and 2 above: every read model, from empty tables, up to ``head``."""
    topics = topics_up_to(app, head)
    _directory_up_to(app, head, batch_size, topics[DIRECTORY], progress)
    numbers = numbers_up_to(app, head, batch_size, topics[HAZARD])
    _in_workers(workers, head, batch_size, progress, topics, numbers)


def kind_of(topic: str, kinds: dict[str, str]) -> str:
    """Which part of the rebuild a stored event's topic belongs to (resolved once per topic)."""
    kind = kinds.get(topic)
    if kind is None:
        cls = resolve_topic(topic)
        if issubclass(cls, Unit.Event | Staff.Event | Account.Event):
            kind = DIRECTORY
        elif issubclass(cls, Hazard.Event):
            kind = HAZARD
        else:
            kind = OTHER
        kinds[topic] = kind
    return kind


def topics_up_to(app: SafetyApplication, head: int) -> dict[str, list[str]]:
    """The topics stored in the log up to ``head``, by kind: each pass reads only the events it projects (reading
    and fetching the whole log costs about as much as decoding it; the directory pass needs under 2 % of it)."""
    recorder: Any = app.recorder
    table = f"{recorder.datastore.schema}.{recorder.events_table_name}"  # the library's own names
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
        cursor.execute(f"SELECT DISTINCT topic FROM {table} WHERE notification_id <= %s", [head])
        stored = [topic for (topic,) in cursor.fetchall()]
    kinds: dict[str, str] = {}
    found: dict[str, list[str]] = {DIRECTORY: [], HAZARD: [], OTHER: []}
    for topic in sorted(stored):
        found[kind_of(topic, kinds)].append(topic)
    return found


SLOTS_PER_WORKER = 10


def slot_count(workers: int) -> int:
    """How many values of a hazard id's last byte the workers share out (modulo this)."""
    return SLOTS_PER_WORKER * workers - 1


def slots_of(index: int, workers: int) -> list[int]:
    """Worker ``index``'s share of the hazards: the values of their id's last byte modulo ``slot_count`` it takes.
    Worker 1 and up take 10 each; worker 0, which also projects the other read models, the last 9, of which the
    byte's values (0–255) fall on fewer: ~46 % of the hazards for 2 workers, measured to balance them."""
    if index == 0:
        return list(range(SLOTS_PER_WORKER * (workers - 1), slot_count(workers)))
    return list(range(SLOTS_PER_WORKER * (index - 1), SLOTS_PER_WORKER * index))


def share_out(numbers: dict[UUID, str], workers: int) -> list[dict[UUID, str]]:
    """``numbers`` split by the worker whose share each hazard is (as ``_page_sql`` chooses it)."""
    worker_of_slot = {slot: i for i in range(workers) for slot in slots_of(i, workers)}
    slots = slot_count(workers)
    shares: list[dict[UUID, str]] = [{} for _ in range(workers)]
    for hazard, number in numbers.items():
        shares[worker_of_slot[hazard.bytes[15] % slots]][hazard] = number
    return shares


def numbers_up_to(app: SafetyApplication, head: int, batch_size: int, hazard_topics: list[str]) -> dict[UUID, str]:
    """Every hazard's 序号, as the hazard projector gives them over the log in order (``hazard.numbers.Numbers``
    on empty read models): the workers each see only some of a school's discoveries."""
    discovered = [t for t in hazard_topics if issubclass(resolve_topic(t), Hazard.Discovered)]
    counted: dict[tuple[UUID, str], int] = {}
    numbers: dict[UUID, str] = {}
    for page in pages(app, head, batch_size, topics=discovered):
        for event in _decode(app, page):
            if event.originator_id in numbers:
                continue
            key = (event.school, series(event))  # type: ignore[attr-defined]
            counted[key] = counted.get(key, 0) + 1
            numbers[event.originator_id] = f"{key[1]}-{counted[key]:04d}"
    return numbers


def pages(
    app: SafetyApplication, head: int, batch_size: int, start: int = 0, topics: Sequence[str] | None = None
) -> Any:
    """The log after ``start`` up to ``head``, a page at a time (only the events of ``topics`` if given)."""
    if topics is not None and not topics:
        return
    while start < head:
        page = app.recorder.select_notifications(
            start=start, limit=batch_size, stop=head, topics=list(topics or ()), inclusive_of_start=False
        )
        if not page:
            return
        yield page
        start = page[-1].id


def chain_up_to(app: SafetyApplication, head: int, batch_size: int) -> None:
    """A rebuild leaves no event unchained (those recorded outside a command, by an older release)."""
    chained, _ = integrity.head()
    for page in pages(app, head, batch_size, start=chained):
        with transaction.atomic():
            integrity.maybe_checkpoint(integrity.extend(page))


def _directory_up_to(
    app: SafetyApplication, head: int, batch_size: int, topics: list[str], progress: Callable[[int], None] | None
) -> None:
    for page in pages(app, head, batch_size, topics=topics):
        events = _decode(app, page)
        with transaction.atomic():
            directory.projector.apply_batch(events)
            notifications.projector.apply_batch(events)
        if progress:  # the workers' progress is worker 0's, which reads every event but these
            progress(len(page))


def _decode(app: SafetyApplication, page: Sequence[Notification]) -> list[Aggregate.Event]:
    return [app.mapper.to_domain_event(n) for n in page]  # type: ignore[misc]


def _in_workers(
    workers: int,
    head: int,
    batch_size: int,
    progress: Callable[[int], None] | None,
    topics: dict[str, list[str]],
    numbers: dict[UUID, str],
) -> None:
    connections.close_all()  # the workers open their own; a forked connection must not be shared
    context = multiprocessing.get_context("fork")
    done: multiprocessing.Queue[tuple[int, int | str]] = context.Queue()
    # each worker gets its own share of the numbers: the pages of the others' stay shared with this process
    shares = share_out(numbers, workers)
    numbers.clear()
    processes = [
        context.Process(
            target=_worker, args=(i, workers, head, batch_size, topics, shares[i], done), name=f"rebuild-{i}"
        )
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    finished, failure = 0, None
    try:
        while finished < workers:
            try:
                index, message = done.get(timeout=1)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RebuildFailed(f"rebuild worker {dead[0].name} exited with {dead[0].exitcode}") from None
                continue
            if isinstance(message, str):
                failure = failure or f"rebuild worker {index}: {message}"
                finished += 1
            elif message < 0:
                finished += 1
            elif progress:  # each worker's pages: their shares are disjoint
                progress(message)
        if failure:
            raise RebuildFailed(failure)
    finally:
        for process in processes:
            if process.is_alive() and failure is not None:
                process.terminate()
            process.join()


def _worker(
    index: int,
    workers: int,
    head: int,
    batch_size: int,
    topics: dict[str, list[str]],
    numbers: dict[UUID, str],
    done: Any,
) -> None:
    """One worker process: its share of the log, a transaction per page; reports progress, then -1 or an error."""
    from projections.eventstore import get_application, set_application

    inherited = get_application()  # kept referenced, never closed: its pool's connections are the parent's
    try:
        set_application(None, close_previous=False)
        app = get_application()
        hazard_projector.rebuilding(numbers)  # this process ends with the rebuild
        # A batch makes hundreds of thousands of objects, and keeps tens of thousands from batch to batch: the
        # collector's automatic passes (each full one over everything kept) took ~15 % of a worker's time. Garbage
        # cycles are collected once per batch instead, among the objects made since the last collection.
        gc.freeze()
        gc.disable()
        kinds: dict[str, str] = {}
        other_topics = topics[OTHER] if index == 0 else []
        slots = slot_count(workers)
        for page in _share(app, head, batch_size, topics[HAZARD], slots, slots_of(index, workers), other_topics):
            hazard_events: list[Aggregate.Event] = []
            other_events: list[Aggregate.Event] = []
            for n in page:
                event = app.mapper.to_domain_event(n)
                (hazard_events if kind_of(n.topic, kinds) == HAZARD else other_events).append(event)
            with transaction.atomic():
                for projector in OTHER_PROJECTORS:
                    projector.apply_batch(other_events)
                for projector in HAZARD_PROJECTORS:
                    projector.apply_batch(hazard_events)
            done.put((index, len(page)))
            gc.collect(1)
        done.put((index, -1))
    except BaseException as error:  # the parent decides: it empties the read models and reports this
        done.put((index, f"{type(error).__name__}: {error}"))
    finally:
        connections.close_all()
        del inherited


def _share(
    app: SafetyApplication,
    head: int,
    batch_size: int,
    hazard_topics: list[str],
    slots: int,
    mine: list[int],
    other_topics: list[str],
) -> Iterator[list[Notification]]:
    """The events of the log up to ``head`` that a worker projects, a page at a time: those of the hazards whose
    id's last byte modulo ``slots`` is in ``mine``, and every event of ``other_topics``."""
    recorder: Any = app.recorder
    sql = _page_sql(f"{recorder.datastore.schema}.{recorder.events_table_name}")  # the library's own names
    start = 0
    while start < head:
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(sql, [start, head, hazard_topics, slots, mine, other_topics, batch_size])
            rows = cursor.fetchall()
        if not rows:
            return
        yield [
            Notification(id=i, originator_id=o, originator_version=v, topic=t, state=bytes(s)) for i, o, v, t, s in rows
        ]
        start = rows[-1][0]


def _page_sql(table: str) -> str:
    """One page of a worker's share (``_share``); the share is chosen by the server, on the index's range."""
    return (
        "SELECT notification_id, originator_id, originator_version, topic, state"
        f" FROM {table} WHERE notification_id > %s AND notification_id <= %s"
        " AND ((topic = ANY(%s) AND get_byte(uuid_send(originator_id), 15) %% %s = ANY(%s)) OR topic = ANY(%s))"
        " ORDER BY notification_id LIMIT %s"
    )
