"""A projector: a map from event class to a small function that applies it to a read model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from eventsourcing.domain import Aggregate

Handler = Callable[[Any], None]


class Projector:
    """Applies the events it knows; each handler must be safe to replay (guarded by row version)."""

    def __init__(self, name: str, models_: tuple[type[models.Model], ...]) -> None:
        self.name = name
        self.models = models_
        self.handlers: dict[type[Aggregate.Event], Handler] = {}

    def on(self, event_class: type[Aggregate.Event]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.handlers[event_class] = handler
            return handler

        return register

    def apply(self, event: Aggregate.Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            handler(event)

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        """Apply a batch in log order (projectors with many events override this to work in bulk)."""
        for event in events:
            self.apply(event)

    def clear(self) -> None:
        for model in reversed(self.models):
            model.objects.all().delete()
