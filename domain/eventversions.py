"""Event versions (README "Changing an event"): the log is forever, so an event's shape never changes in silence.

Every event class carries its version as the eventsourcing library's ``class_version``; the library writes it into
the stored state of every event of a class whose version is above 1 and, when it reads an older one, calls the
class's upcasters ``upcast_v1_v2``, ``upcast_v2_v3``, … in turn on the decoded state before the event is made.
Upcasting happens on read only: the stored bytes (and so the hash chain over them) never change.

The event classes are made by ``@event("Name")`` from the methods' signatures, so their versions and upcasters are
given beside the aggregate with ``@versions``: version 1 + the number of upcasters given for a class, 1 for the
others. ``tests/golden/event_shapes.json`` records each version's fields; ``tests/unit/test_event_versions.py``
fails when a class's fields change without a new version and its upcaster.

Version 1 of a class is every event recorded before versions existed: a field added later is absent from some of
them and present in others, so an upcaster from version 1 only fills what is missing (``added``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

Upcaster = Callable[[dict[str, Any]], None]
A = TypeVar("A", bound=type[Aggregate])


def added(**defaults: Any) -> Upcaster:
    """An upcaster for fields added with a default: an older event lacking one gets the default (as stored: a list
    for a tuple, an ISO string never — the state is already decoded), one that has it keeps its own."""

    def upcast(state: dict[str, Any]) -> None:
        for name, value in defaults.items():
            if name not in state:
                state[name] = copy.deepcopy(value)

    upcast.__doc__ = f"added with their defaults: {', '.join(sorted(defaults))}"
    return upcast


def renamed(**old_names: str) -> Upcaster:
    """An upcaster for renamed fields (``new_name="old_name"``): an older event's value moves to the new name."""

    def upcast(state: dict[str, Any]) -> None:
        for new, old in old_names.items():
            if old in state:
                state[new] = state.pop(old)

    upcast.__doc__ = "renamed: " + ", ".join(f"{old} → {new}" for new, old in sorted(old_names.items()))
    return upcast


def event_classes_of(aggregate: type[Aggregate]) -> dict[str, type[Any]]:
    """The event classes defined on an aggregate by name (its ``Event`` base left out)."""
    base: Any = aggregate.Event
    return {
        name: value
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, base) and value is not base
    }


def versions(**upcasters: Sequence[Upcaster]) -> Callable[[A], A]:
    """Give each event class of the decorated aggregate its ``class_version`` — 1 + the number of upcasters named
    for it, in order (v1→v2 first) — and those upcasters as ``upcast_v1_v2``, …; every other event class is
    version 1. A name that is not an event class of the aggregate is refused."""

    def decorate(aggregate: A) -> A:
        classes = event_classes_of(aggregate)
        unknown = sorted(set(upcasters) - set(classes))
        if unknown:
            raise TypeError(f"{aggregate.__name__} has no event class {', '.join(unknown)}")
        for name, cls in classes.items():
            steps = tuple(upcasters.get(name, ()))
            cls.class_version = 1 + len(steps)
            for n, step in enumerate(steps, start=1):
                setattr(cls, f"upcast_v{n}_v{n + 1}", staticmethod(step))
        return aggregate

    return decorate
