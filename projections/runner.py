"""Brings the read models up to date with the event log, in batches, each batch with its position."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.db import connection, transaction
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from domain.application import SafetyApplication
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
from projections.base import Projector
from projections.hazard.projector import projector as hazard_projector
from projections.tracking import ProjectionPosition

logger = logging.getLogger(__name__)

# Each projector takes the whole batch in turn; hazards come after the directory: they read their school's row
# and copy a school's change once the directory has it;
# the attachments' uses after hazards and inspections: they read theirs.
# The first tuple is written by each command's transaction; the second lags (what may lag): after the command's
# commit, in process (``catch_up_notifications``), or with Kafka by the `notifications` consumer group.
READ_MODEL_PROJECTORS: tuple[Projector, ...] = (
    directory.projector,
    campaigns.projector,
    inspections.projector,
    hazard_projector,
    jointforms.projector,
    submissions.projector,
    attachmentuse.projector,
)
NOTIFICATION_PROJECTORS: tuple[Projector, ...] = (notifications.projector,)
PROJECTORS = READ_MODEL_PROJECTORS + NOTIFICATION_PROJECTORS
POSITION_NAME = "read_models"
NOTIFICATIONS_POSITION = "notifications"  # in process only: with Kafka the group keeps its offsets instead


def inline_projectors() -> tuple[Projector, ...]:
    """What a command's transaction projects: the read models its answer shows (the notifications lag)."""
    return READ_MODEL_PROJECTORS


def notifications_in_process() -> bool:
    """Without Kafka the notifications are brought up to date in this process, after the commit of each command
    that concerns them and before they are read; with Kafka they are the `notifications` group's."""
    return not settings.KAFKA_BOOTSTRAP_SERVERS


def concerns_notifications(events: Iterable[Aggregate.Event]) -> bool:
    """Whether a notification projector has a handler for any of ``events``. A command whose events have none
    (a progress report, a plan) is not followed by a pass of its own: its events change no notification, and the
    position moves over them with the next pass (the next command that concerns the notifications, a read of
    them, the deadline watcher) — one write transaction, and on a durable server one fsync, fewer per command."""
    return any(p.handler_for(e) is not None for p in NOTIFICATION_PROJECTORS for e in events)


_catch_up_locks = {POSITION_NAME: threading.Lock(), NOTIFICATIONS_POSITION: threading.Lock()}


def catch_up(
    app: SafetyApplication,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    projectors: Sequence[Projector] | None = None,
) -> int:
    """Apply every event after the read models' position; returns how many were applied.

    Commands project their own events (``projections.djangorecorder.execute_inline``); this is for what was
    recorded outside a command (the demo, a rebuild, an installation upgraded from an older release). Each batch
    of read-model changes is committed together with the new position and the chain links (a checkpoint signed
    when due), so a crash or a concurrent caller never applies an event twice or skips one. A batch shorter than
    ``batch_size`` reached the log's head: no second pass to find nothing. ``projectors``: the inline ones unless
    given. ``PROJECTORS`` (a rebuild) also projects the notifications in the same pass, and their own position
    moves with the read models' (after ``clear_read_models``: both start at 0; with Kafka the group then skips
    what was rebuilt, ``consumers.rebuild``). The notifications are not applied here otherwise:
    ``catch_up_notifications``.
    """
    projectors = inline_projectors() if projectors is None else tuple(projectors)
    along = (NOTIFICATIONS_POSITION,) if any(p in projectors for p in NOTIFICATION_PROJECTORS) else ()
    return _catch_up(app, POSITION_NAME, projectors, chain=True, along=along, batch_size=batch_size, progress=progress)


def catch_up_notifications(app: SafetyApplication, *, batch_size: int = 500) -> int:
    """Apply the events after the notifications' own position to them (in process: not with Kafka, where the
    `notifications` group does it); returns how many were applied.

    Run after each command's commit (``execute_inline``'s ``on_commit``), before the notifications are read
    (``notifications/``), and by the deadline watcher: a command whose after-commit pass never ran (a crash
    between its commit and that pass, an error) loses nothing, the next pass applies its events. The events are
    chained already (by the commands' transactions, or ``catch_up``): this only reads the log."""
    if not notifications_in_process():
        return 0
    if _notifications_position() >= (app.recorder.max_notification_id() or 0):
        return 0  # up to date: no write transaction (SQLite has one writer at a time)
    return _catch_up(app, NOTIFICATIONS_POSITION, NOTIFICATION_PROJECTORS, chain=False, batch_size=batch_size)


def _catch_up(
    app: SafetyApplication,
    name: str,
    projectors: Sequence[Projector],
    *,
    chain: bool,
    batch_size: int,
    along: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> int:
    """The catch-up loop of one tracked position: a batch of events after it, the projectors, the position (and
    the positions ``along`` it, which never move back) committed together; the chain extended if ``chain``."""
    applied = 0
    with _catch_up_locks[name]:
        while True:
            with transaction.atomic():
                tracking, _ = ProjectionPosition.objects.select_for_update().get_or_create(name=name)
                others = [ProjectionPosition.objects.select_for_update().get_or_create(name=o)[0] for o in along]
                notifications = app.recorder.select_notifications(
                    start=tracking.position, limit=batch_size, inclusive_of_start=False
                )
                if not notifications:
                    return applied
                if chain:
                    integrity.maybe_checkpoint(integrity.extend(notifications))
                apply_notifications(app, notifications, projectors)
                for row in (tracking, *others):
                    if row.position < notifications[-1].id:
                        row.position = notifications[-1].id
                        row.save(update_fields=["position"])
            applied += len(notifications)
            if progress:
                progress(len(notifications))
            if len(notifications) < batch_size:
                return applied


def position() -> int:
    """The log position the read models have applied."""
    return ProjectionPosition.objects.filter(name=POSITION_NAME).values_list("position", flat=True).first() or 0


def _notifications_position() -> int:
    return (
        ProjectionPosition.objects.filter(name=NOTIFICATIONS_POSITION).values_list("position", flat=True).first() or 0
    )


def apply_notifications(
    app: SafetyApplication, notifications: Sequence[Notification], projectors: Sequence[Projector] = PROJECTORS
) -> None:
    events: list[Aggregate.Event] = [app.mapper.to_domain_event(n) for n in notifications]  # type: ignore[misc]
    for projector in projectors:
        projector.apply_batch(events)


def clear_read_models() -> None:
    """Empty every read model, the notifications included, and reset both positions (the start of a rebuild).

    On PostgreSQL by TRUNCATE: deleting the rows would leave them dead in the tables and their indexes, and
    each rebuild would write into a larger table than the last (435 MB for 85k history rows after a few). Inside
    a caller's transaction (whose own writes TRUNCATE would have to wait for) the rows are deleted."""
    truncate = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if truncate:
            tables = [connection.ops.quote_name(m._meta.db_table) for p in PROJECTORS for m in p.models]
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {', '.join(tables)}")
        else:
            for projector in reversed(PROJECTORS):
                projector.clear()
        ProjectionPosition.objects.filter(name__in=[POSITION_NAME, NOTIFICATIONS_POSITION]).delete()


def pending(app: SafetyApplication) -> int:
    return max(0, (app.recorder.max_notification_id() or 0) - position())
