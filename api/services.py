"""Run a command through the application, then make sure its effect is visible in the read models.

Embedded mode projects in-process right away. In Kafka mode the `projections` consumer group does it; the
request waits (briefly) until that group has applied the command's aggregate version, so the response — which
is read from the read models — shows the command's own effect. If the consumers are behind or down, the
command is already recorded: the answer is 202 ``accepted_projection_pending`` instead of the usual body.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from django.conf import settings
from rest_framework import exceptions

from domain.application import SafetyApplication
from projections.eventstore import get_application
from projections.runner import catch_up
from projections.tracking import AppliedVersion

T = TypeVar("T")


class ProjectionPending(exceptions.APIException):
    status_code = 202
    default_code = "accepted_projection_pending"
    default_detail = "操作已记录，台账正在更新，请稍后刷新查看"


def execute(command: Callable[[SafetyApplication], T]) -> T:
    """Commands return only after the read models reflect them (read-your-writes)."""
    app = get_application()
    recorded = app.recording()
    result = command(app)
    if not settings.KAFKA_BOOTSTRAP_SERVERS:
        catch_up(app, until=recorded())
    else:
        # Every aggregate the command saved (a joint form's police-only edit saves only its PoliceNotes).
        for originator, version in app.recorded_versions().items():
            wait_projected(originator, version)
    return result


def wait_projected(originator: UUID, version: int) -> None:
    deadline = time.monotonic() + settings.READ_YOUR_WRITES_TIMEOUT
    pause = 0.01
    while not AppliedVersion.objects.filter(originator_id=originator, version__gte=version).exists():
        if time.monotonic() > deadline:
            raise ProjectionPending()
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
