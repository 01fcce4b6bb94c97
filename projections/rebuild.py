"""A full rebuild of the read models, on PostgreSQL in parallel worker processes.

The hazard projectors are most of a rebuild's work, and a hazard's rows depend only on its own events, its
school's unit row and the 序号 count of its school: so the hazards are shared out among workers by school.

1. In this process: the hash chain is extended where it is behind, then the directory (units and staff, and the
   notifications' unit rows), in log order. Units never change once registered, so a hazard projected later
   reads the same school row as it would have in log order.
2. ``workers`` processes, each reading the log up to the head taken at the start: each applies the hazard events
   of its share of the schools (ledger, history, notifications, see ``worker_of``); worker 0 also campaigns,
   inspections, joint forms and submissions, so its share of the schools is half the others'.
3. The read models' position is set to that head; what was recorded meanwhile is caught up as usual.

Every worker commits a batch at a time (inside an open transaction the rebuild runs in this process instead).
If one fails, the read models are emptied again and the error is raised: a rebuild is all or nothing.
On SQLite (one writer at a time) the rebuild is the usual catch-up from position 0.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from django.db import connection, connections, transaction
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from domain.application import SafetyApplication
from domain.directory.aggregate import Staff, Unit
from domain.hazard.aggregate import Hazard
from projections import campaigns, directory, hazards, inspections, integrity, jointforms, notifications, submissions
from projections.runner import POSITION_NAME, PROJECTORS, catch_up, clear_read_models
from projections.tracking import ProjectionPosition

DIRECTORY = "directory"
HAZARD = "hazard"
OTHER = "other"
OTHER_PROJECTORS = (campaigns.projector, inspections.projector, jointforms.projector, submissions.projector)
HAZARD_PROJECTORS = (hazards.projector, notifications.projector)


class RebuildFailed(RuntimeError):
    pass


def rebuild(
    app: SafetyApplication, *, batch_size: int, workers: int = 1, progress: Callable[[int], None] | None = None
) -> int:
    """Empty every read model and project the whole log again; returns how many events were applied."""
    clear_read_models()
    head = app.recorder.max_notification_id() or 0
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block or head == 0:
        # SQLite has one writer; inside an open transaction workers could not see its changes
        return catch_up(app, batch_size=batch_size, progress=progress, projectors=PROJECTORS)
    _chain_up_to(app, head, batch_size)
    try:
        _directory_up_to(app, head, batch_size)
        _in_workers(workers, head, batch_size, progress)
    except BaseException as error:
        clear_read_models()
        if isinstance(error, Exception) and not isinstance(error, RebuildFailed):
            raise RebuildFailed(f"{type(error).__name__}: {error}") from error
        raise
    with transaction.atomic():
        ProjectionPosition.objects.update_or_create(name=POSITION_NAME, defaults={"position": head})
    return head + catch_up(app, batch_size=batch_size, projectors=PROJECTORS)  # recorded while rebuilding


def kind_of(topic: str, kinds: dict[str, str]) -> str:
    """Which part of the rebuild a stored event's topic belongs to (resolved once per topic)."""
    kind = kinds.get(topic)
    if kind is None:
        cls = resolve_topic(topic)
        if issubclass(cls, Unit.Event | Staff.Event):
            kind = DIRECTORY
        elif issubclass(cls, Hazard.Event):
            kind = HAZARD
        else:
            kind = OTHER
        kinds[topic] = kind
    return kind


def worker_of(school: UUID, workers: int) -> int:
    """The worker that projects the school's hazards: ``2·workers − 1`` slots, one for worker 0, two for each other."""
    slot = school.int % (2 * workers - 1)
    return (slot + 1) // 2


def pages(app: SafetyApplication, head: int, batch_size: int, start: int = 0) -> Any:
    """The log after ``start`` up to ``head``, a page at a time."""
    while start < head:
        page = app.recorder.select_notifications(start=start, limit=batch_size, stop=head, inclusive_of_start=False)
        if not page:
            return
        yield page
        start = page[-1].id


def _chain_up_to(app: SafetyApplication, head: int, batch_size: int) -> None:
    """A rebuild leaves no event unchained (those recorded outside a command, by an older release)."""
    chained, _ = integrity.head()
    for page in pages(app, head, batch_size, start=chained):
        with transaction.atomic():
            integrity.maybe_checkpoint(integrity.extend(page))


def _directory_up_to(app: SafetyApplication, head: int, batch_size: int) -> None:
    kinds: dict[str, str] = {}
    for page in pages(app, head, batch_size):
        events = _decode(app, [n for n in page if kind_of(n.topic, kinds) == DIRECTORY])
        if events:
            with transaction.atomic():
                directory.projector.apply_batch(events)
                notifications.projector.apply_batch(events)


def _decode(app: SafetyApplication, page: Sequence[Notification]) -> list[Aggregate.Event]:
    return [app.mapper.to_domain_event(n) for n in page]  # type: ignore[misc]


def _in_workers(workers: int, head: int, batch_size: int, progress: Callable[[int], None] | None) -> None:
    connections.close_all()  # the workers open their own; a forked connection must not be shared
    context = multiprocessing.get_context("fork")
    done: multiprocessing.Queue[tuple[int, int | str]] = context.Queue()
    processes = [
        context.Process(target=_worker, args=(i, workers, head, batch_size, done), name=f"rebuild-{i}")
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
            elif progress:
                progress(message)
        if failure:
            raise RebuildFailed(failure)
    finally:
        for process in processes:
            if process.is_alive() and failure is not None:
                process.terminate()
            process.join()


def _worker(index: int, workers: int, head: int, batch_size: int, done: Any) -> None:
    """One worker process: its share of the log, a transaction per page; reports progress, then -1 or an error."""
    from projections.eventstore import get_application, set_application

    inherited = get_application()  # kept referenced, never closed: its pool's connections are the parent's
    try:
        set_application(None, close_previous=False)
        app = get_application()
        kinds: dict[str, str] = {}
        school_of: dict[UUID, UUID] = {}
        for page in pages(app, head, batch_size):
            hazard_events: list[Aggregate.Event] = []
            other_events: list[Aggregate.Event] = []
            for n in page:
                kind = kind_of(n.topic, kinds)
                if kind == HAZARD:
                    school = school_of.get(n.originator_id)
                    if school is None:  # the discovery: decoded by every worker, for its school
                        event = app.mapper.to_domain_event(n)
                        school = school_of[n.originator_id] = event.school  # type: ignore[attr-defined]
                        if worker_of(school, workers) == index:
                            hazard_events.append(event)
                    elif worker_of(school, workers) == index:
                        hazard_events.append(app.mapper.to_domain_event(n))
                elif kind == OTHER and index == 0:
                    other_events.append(app.mapper.to_domain_event(n))
            with transaction.atomic():
                for projector in OTHER_PROJECTORS:
                    projector.apply_batch(other_events)
                for projector in HAZARD_PROJECTORS:
                    projector.apply_batch(hazard_events)
            if index == 0:  # the progress shown is the first worker's
                done.put((index, len(page)))
        done.put((index, -1))
    except BaseException as error:  # the parent decides: it empties the read models and reports this
        done.put((index, f"{type(error).__name__}: {error}"))
    finally:
        connections.close_all()
        del inherited
