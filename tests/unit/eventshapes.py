"""The recorded shapes of the event classes (``tests/golden/event_shapes.json``) and the check of today's classes
against them (README "Changing an event"; ``test_event_versions.py``)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, resolve_topic

import domain
from projections.base import event_classes

SHAPES = Path(__file__).resolve().parent.parent / "golden" / "event_shapes.json"
Shapes = dict[str, dict[str, list[str]]]  # topic → version ("1", "2", …) → sorted field names
HOW = (
    "An event's shape never changes in place: the log keeps the events already recorded in it forever. "
    "Give the class the next version with an upcaster from the recorded one (``domain.eventversions.added`` for "
    "a field added with a default, ``renamed`` for a renamed one, in its aggregate's ``@versions``) and record the "
    "new version's fields beside the old ones in tests/golden/event_shapes.json (README: Changing an event)."
)


def aggregates() -> list[type[Aggregate]]:
    """Every aggregate class the domain defines."""
    for found in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(found.name)
    found_classes: list[type[Aggregate]] = []
    pending: list[type[Any]] = [Aggregate]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("domain."):
                found_classes.append(sub)
    return sorted(set(found_classes), key=get_topic)


def all_event_classes() -> list[type[Any]]:
    return [cls for aggregate in aggregates() for cls in event_classes(aggregate)]


def fields_of(event_class: type[Any]) -> list[str]:
    """The names in an event's stored state (the library keeps the originator's id and version apart)."""
    names = {f.name for f in dataclasses.fields(event_class)} - {"originator_id", "originator_version"}
    return sorted(names)


def upcasters_of(event_class: type[Any]) -> list[str]:
    return sorted(name for name in dir(event_class) if name.startswith("upcast_v"))


def load_shapes(path: Path = SHAPES) -> Shapes:
    shapes: Shapes = json.loads(path.read_text(encoding="utf-8"))
    return shapes


def shape_problems(classes: Iterable[type[Any]], shapes: Shapes) -> list[str]:
    """What is wrong between today's event classes and the recorded shapes, each saying what to do."""
    problems: list[str] = []
    for cls in classes:
        topic, fields = get_topic(cls), fields_of(cls)
        version = cls.__dict__.get("class_version")
        if not isinstance(version, int) or version < 1:
            problems.append(
                f"{topic}: no class_version of its own — give its aggregate ``@versions`` (domain.eventversions)"
            )
            continue
        wanted = [f"upcast_v{n}_v{n + 1}" for n in range(1, version)]
        if upcasters_of(cls) != wanted:
            problems.append(f"{topic}: version {version} needs exactly the upcasters {wanted}, has {upcasters_of(cls)}")
            continue
        recorded = shapes.get(topic)
        if recorded is None:
            entry = json.dumps({topic: {"1": fields}}, ensure_ascii=False)
            problems.append(
                f"{topic}: a new event class, not in tests/golden/event_shapes.json — if it has never been recorded "
                f"in a log, add it at version 1: {entry}; if it is a renamed or moved class, keep its old topic "
                "readable (domain.topics.RENAMED)"
            )
            continue
        if str(version) not in recorded:
            problems.append(
                f"{topic}: version {version} is not recorded in tests/golden/event_shapes.json — add "
                f'"{version}": {json.dumps(fields)} beside the earlier versions (never change those)'
            )
            continue
        if recorded[str(version)] != fields:
            added = sorted(set(fields) - set(recorded[str(version)]))
            removed = sorted(set(recorded[str(version)]) - set(fields))
            problems.append(
                f"{topic}: its fields differ from those recorded for version {version} (added {added}, removed "
                f"{removed}) without a new version. {HOW}"
            )
            continue
        for n in range(1, version):
            before, after = recorded.get(str(n)), recorded.get(str(n + 1))
            if before is None or after is None:
                problems.append(f"{topic}: version {n if before is None else n + 1} is not recorded")
                continue
            state: dict[str, Any] = dict.fromkeys(before)
            getattr(cls, f"upcast_v{n}_v{n + 1}")(state)
            if sorted(state) != after:
                problems.append(
                    f"{topic}: upcast_v{n}_v{n + 1} turns version {n}'s fields into {sorted(state)}, "
                    f"not version {n + 1}'s {after}"
                )
    return problems


def unknown_topics(classes: Iterable[type[Any]], shapes: Shapes) -> list[str]:
    """Recorded topics no event class has today that do not resolve to one either (a renamed class unregistered)."""
    today = {get_topic(cls) for cls in classes}
    problems = []
    for topic in sorted(set(shapes) - today):
        try:
            resolved = resolve_topic(topic)
        except Exception:  # noqa: BLE001 — any failure to resolve is the problem reported
            resolved = None
        if not (isinstance(resolved, type) and resolved in set(classes)):
            problems.append(
                f"{topic}: recorded in tests/golden/event_shapes.json but no event class has it: events stored under "
                "it must stay readable — map it to the class's topic today in domain.topics.RENAMED"
            )
    return problems


def dump_shapes(shapes: Shapes) -> str:
    """The manifest's text: one line per version of each class, in topic order."""
    lines = []
    for topic in sorted(shapes):
        versions = sorted(shapes[topic].items(), key=lambda item: int(item[0]))
        inner = ",\n".join(f"    {json.dumps(v)}: {json.dumps(fields)}" for v, fields in versions)
        lines.append(f"  {json.dumps(topic)}: {{\n{inner}\n  }}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
