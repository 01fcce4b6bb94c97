"""Run a command through the application, then bring the in-process read models up to date."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from api.eventstore import get_application
from domain.application import SafetyApplication
from projections.runner import catch_up

T = TypeVar("T")


def execute(command: Callable[[SafetyApplication], T]) -> T:
    """Commands return only after the read models reflect them (read-your-writes), unless Kafka projects."""
    app = get_application()
    result = command(app)
    if not settings.KAFKA_BOOTSTRAP_SERVERS:
        catch_up(app)
    return result
