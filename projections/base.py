"""How events reach projection code: one way, a handler per event class.

A projector names the aggregates it consumes; for every event class of those aggregates it registers a handler
(``@projector.on(Hazard.Assigned)``) or says it has nothing to do (``projector.ignore(Hazard.Voided)``). An event
is dispatched by its class (``handler_for``): an event of another aggregate is not the projector's; an event of a
consumed aggregate with neither a handler nor an ``ignore`` raises ``UnhandledEvent`` — the batch and its position
roll back, nothing is skipped in silence. ``tests/unit/test_projection_handlers.py`` finds such a class before it
is ever recorded (``missing``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from django.db import models
from eventsourcing.domain import Aggregate

Handler = Callable[[Any], None]
H = TypeVar("H", bound=Callable[..., Any])
_IGNORED: Any = object()  # in the route cache: an event class the projector has nothing to do with


class UnhandledEvent(RuntimeError):
    """An event of an aggregate a projector consumes, with neither a handler nor an ``ignore`` there."""


def event_classes(aggregate: type[Aggregate]) -> list[type[Aggregate.Event]]:
    """The event classes an aggregate records: those defined on it, without its ``Event`` base and without the
    ``Created`` the library defines where ``@event("Discovered")`` on ``__init__`` names the created event."""
    base: Any = aggregate.Event  # type: ignore[attr-defined]
    defined = [v for v in vars(aggregate).values() if isinstance(v, type) and issubclass(v, base) and v is not base]
    created: Any = getattr(aggregate, "Created", None)
    if any(c is not created and issubclass(c, Aggregate.Created) for c in defined):
        defined = [c for c in defined if c is not created]
    return defined


class Handlers(Generic[H]):
    """Handlers of one kind (what they take is up to their projector), one per event class of the consumed
    aggregates, each class handled or explicitly ignored."""

    def __init__(self, owner: str, consumes: Iterable[type[Aggregate]]) -> None:
        self.owner = owner
        self.consumes = tuple(consumes)
        self.handlers: dict[type[Aggregate.Event], H] = {}
        self.ignored: set[type[Aggregate.Event]] = set()
        self._route: dict[type, Any] = {}  # event class → handler or _IGNORED, resolved once per class

    def on(self, *classes: type[Aggregate.Event]) -> Callable[[H], H]:
        def register(handler: H) -> H:
            for cls in classes:
                self._check_new(cls)
                self.handlers[cls] = handler
            return handler

        return register

    def ignore(self, *classes: type[Aggregate.Event]) -> None:
        """The projector has nothing to do with these events of aggregates it consumes. (Where a row takes only
        the event one version ahead of it, the projector still moves the version: the ledger, inspections.)"""
        for cls in classes:
            self._check_new(cls)
            self.ignored.add(cls)

    def _check_new(self, cls: type[Aggregate.Event]) -> None:
        if not any(cls in event_classes(a) for a in self.consumes):
            raise TypeError(f"{self.owner}: {cls.__qualname__} is not an event of an aggregate it consumes")
        if cls in self.handlers or cls in self.ignored:
            raise TypeError(f"{self.owner}: {cls.__qualname__} is registered twice")
        self._route.clear()

    def handler_for(self, event: Aggregate.Event) -> H | None:
        """The event's handler; None for an event this projector ignores or does not consume."""
        cls = type(event)
        route = self._route.get(cls)
        if route is None:
            route = self._route[cls] = self._resolve(cls)
        return None if route is _IGNORED else route  # type: ignore[no-any-return]

    def handler_of(self, cls: type) -> H | None:
        """The handler of an event class (for events known by their class's name, as in Kafka envelopes)."""
        route = self._route.get(cls)
        if route is None:
            route = self._route[cls] = self._resolve(cls)
        return None if route is _IGNORED else route  # type: ignore[no-any-return]

    def _resolve(self, cls: type) -> Any:
        handler = self.handlers.get(cls)
        if handler is not None:
            return handler
        if cls in self.ignored or not self.consumed(cls):
            return _IGNORED
        raise UnhandledEvent(
            f"projector {self.owner!r} consumes {cls.__qualname__} but has no handler for it and does not "
            f"ignore it: register one with @projector.on({cls.__qualname__}) or projector.ignore(...)"
        )

    def consumed(self, cls: type) -> bool:
        """Whether events of this class are the projector's (of an aggregate it consumes)."""
        return any(issubclass(cls, a.Event) for a in self.consumes)  # type: ignore[attr-defined]

    def mine(self, events: Iterable[Aggregate.Event]) -> list[Aggregate.Event]:
        """The events with a handler here, in order (raising for an unhandled one)."""
        return [e for e in events if self.handler_for(e) is not None]

    def missing(self) -> list[type[Aggregate.Event]]:
        """Event classes of the consumed aggregates with neither a handler nor an ``ignore``."""
        return [
            cls
            for aggregate in self.consumes
            for cls in event_classes(aggregate)
            if cls not in self.handlers and cls not in self.ignored
        ]


class Projector(Generic[H]):
    """Applies the events of the aggregates it consumes; each handler must be safe to replay (guarded by row
    version). By default a handler takes the event; projectors that work a batch at a time give theirs what they
    need (a batch's rows) and may take their handlers from the module that defines the read model."""

    def __init__(
        self,
        name: str,
        models_: tuple[type[models.Model], ...],
        consumes: Iterable[type[Aggregate]] = (),
        handlers: Handlers[H] | None = None,
    ) -> None:
        self.name = name
        self.models = models_
        self.handlers: Handlers[H] = handlers if handlers is not None else Handlers(name, consumes)

    def on(self, *classes: type[Aggregate.Event]) -> Callable[[H], H]:
        return self.handlers.on(*classes)

    def ignore(self, *classes: type[Aggregate.Event]) -> None:
        self.handlers.ignore(*classes)

    def handler_for(self, event: Aggregate.Event) -> H | None:
        return self.handlers.handler_for(event)

    def missing(self) -> list[type[Aggregate.Event]]:
        return self.handlers.missing()

    def apply(self, event: Aggregate.Event) -> None:
        handler = self.handler_for(event)
        if handler is not None:
            handler(event)

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        """Apply a batch in log order (projectors with many events override this to work in bulk)."""
        for event in events:
            self.apply(event)

    def clear(self) -> None:
        for model in reversed(self.models):
            model.objects.all().delete()
