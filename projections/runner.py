"""Brings the read models up to date with the event log, in batches, each batch with its position."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import connection, transaction
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification

from domain.application import SafetyApplication
from projections import campaigns, directory, hazards, inspections, integrity, jointforms, notifications, submissions
from projections.base import Projector
from projections.tracking import ProjectionPosition

logger = logging.getLogger(__name__)

# Each projector takes the whole batch in turn; hazards come after the directory: they read their school's row.
# With Kafka, the first tuple is written by each command's transaction, the second by the `notifications` group.
READ_MODEL_PROJECTORS: tuple[Projector, ...] = (
    directory.projector,
    campaigns.projector,
    inspections.projector,
    hazards.projector,
    jointforms.projector,
    submissions.projector,
)
NOTIFICATION_PROJECTORS: tuple[Projector, ...] = (notifications.projector,)
PROJECTORS = READ_MODEL_PROJECTORS + NOTIFICATION_PROJECTORS
POSITION_NAME = "read_models"


def inline_projectors() -> tuple[Projector, ...]:
    """What a command's transaction projects: every read model; with Kafka the notifications lag (their group)."""
    return READ_MODEL_PROJECTORS if settings.KAFKA_BOOTSTRAP_SERVERS else PROJECTORS


_catch_up_lock = threading.Lock()


def catch_up(
    app: SafetyApplication,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    projectors: Sequence[Projector] | None = None,
) -> int:
    """Apply every event after the tracked position; returns how many were applied.

    Commands project their own events (``projections.djangorecorder.execute_inline``); this is for what was
    recorded outside a command (the demo, a rebuild, an installation upgraded from an older release). Each batch
    of read-model changes is committed together with the new position and the chain links (a checkpoint signed
    when due), so a crash or a concurrent caller never applies an event twice or skips one. A batch shorter than
    ``batch_size`` reached the log's head: no second pass to find nothing. ``projectors``: the inline ones unless
    given (a rebuild in Kafka mode also rebuilds the notifications, and their group then skips what it rebuilt).
    """
    projectors = inline_projectors() if projectors is None else projectors
    applied = 0
    with _catch_up_lock:
        while True:
            with transaction.atomic():
                tracking, _ = ProjectionPosition.objects.select_for_update().get_or_create(name=POSITION_NAME)
                notifications = app.recorder.select_notifications(
                    start=tracking.position, limit=batch_size, inclusive_of_start=False
                )
                if not notifications:
                    return applied
                integrity.maybe_checkpoint(integrity.extend(notifications))
                apply_notifications(app, notifications, projectors)
                tracking.position = notifications[-1].id
                tracking.save(update_fields=["position"])
            applied += len(notifications)
            if progress:
                progress(len(notifications))
            if len(notifications) < batch_size:
                return applied


def position() -> int:
    """The log position the read models have applied."""
    return ProjectionPosition.objects.filter(name=POSITION_NAME).values_list("position", flat=True).first() or 0


def apply_notifications(
    app: SafetyApplication, notifications: Sequence[Notification], projectors: Sequence[Projector] = PROJECTORS
) -> None:
    events: list[Aggregate.Event] = [app.mapper.to_domain_event(n) for n in notifications]  # type: ignore[misc]
    for projector in projectors:
        projector.apply_batch(events)


def clear_read_models() -> None:
    """Empty every read model and reset the position (the start of a rebuild).

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
        ProjectionPosition.objects.filter(name=POSITION_NAME).delete()


def pending(app: SafetyApplication) -> int:
    return max(0, (app.recorder.max_notification_id() or 0) - position())
