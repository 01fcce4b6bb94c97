"""The deadline watcher: records ``deadline_missed`` once per deadline, the moment it passes (also after downtime)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from uuid import UUID

from django.db import close_old_connections
from django.utils import timezone

from domain.errors import DomainError
from domain.hazard.status import OPEN_STATUSES
from domain.timerules import business_date
from projections.djangorecorder import InlineApplication, execute_inline
from projections.eventstore import get_application
from projections.hazard.rows import HazardLedger
from projections.runner import catch_up, catch_up_notifications
from projections.tracking import WATCHER_RUN, record_run

logger = logging.getLogger(__name__)


def due_hazards(now: datetime) -> list[UUID]:
    """Open hazards whose current deadline ended (24:00 Asia/Shanghai) by ``now`` with no miss recorded."""
    rows = HazardLedger.objects.filter(
        status__in=sorted(OPEN_STATUSES), deadline__lt=business_date(now), overdue=False, voided=False
    ).order_by("deadline", "id")
    return list(rows.values_list("id", flat=True))


def record_due_misses(app: InlineApplication, now: datetime | None = None) -> int:
    """One pass of the watcher; returns how many misses it recorded."""
    now = now or timezone.now()
    catch_up(app)  # what was recorded outside a command (the demo) is in the ledger the watcher reads
    recorded = 0
    for hazard in due_hazards(now):
        try:
            if execute_inline(app, lambda a, h=hazard: a.record_due_deadline_miss(h, now=now)) is not None:
                recorded += 1
                logger.info("deadline missed recorded", extra={"hazard": str(hazard)})
        except DomainError as refusal:
            # Another watcher or a command got there first (version_conflict): it is recorded once, by them.
            logger.info("deadline miss not recorded", extra={"hazard": str(hazard), "code": refusal.code})
    # Each miss is notified after its commit (``notify_after_commit``); this applies what that did not (inside an
    # enclosing transaction, where nothing was committed yet).
    catch_up_notifications(app)
    record_run(WATCHER_RUN, ok=True, count=recorded)  # /metrics: when it last ran, what it has recorded
    return recorded


class DeadlineWatcher(threading.Thread):
    """The embedded server's watcher thread (DEADLINE_WATCHER=off disables it)."""

    def __init__(self, interval: float = 30.0) -> None:
        super().__init__(name="deadline-watcher", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                record_due_misses(get_application())
            except Exception:  # the watcher must outlive one bad pass; the error is logged with its traceback
                logger.exception("deadline watcher pass failed")
            finally:
                close_old_connections()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
