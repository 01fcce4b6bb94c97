"""Every event class has a version, the upcasters from version 1 to it, and the fields recorded for that version in
``tests/golden/event_shapes.json``: a class whose fields change without a new version and an upcaster fails here,
saying what to do (README "Changing an event")."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from eventshapes import (
    SHAPES,
    all_event_classes,
    dump_shapes,
    fields_of,
    load_shapes,
    shape_problems,
    unknown_topics,
)
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from domain.eventversions import added, renamed, versions
from domain.hazard.aggregate import Hazard

GOLDEN = SHAPES.parent


def test_every_event_class_has_its_version_its_upcasters_and_its_recorded_shape() -> None:
    classes = all_event_classes()
    assert len(classes) >= 37
    assert shape_problems(classes, load_shapes()) == []
    assert unknown_topics(classes, load_shapes()) == []


def test_the_fields_added_after_the_first_release_are_upcast_from_version_1() -> None:
    discovered: Any = Hazard.Discovered  # type: ignore[attr-defined]
    assert discovered.class_version == 2
    state: dict[str, Any] = {"description": "楼梯扶手松动"}
    discovered.upcast_v1_v2(state)
    assert state == {"description": "楼梯扶手松动", "code": "", "attachments": []}
    kept: dict[str, Any] = {"code": "HM01", "attachments": ["a photo"]}  # recorded after the field existed
    discovered.upcast_v1_v2(kept)
    assert kept == {"code": "HM01", "attachments": ["a photo"]}
    assert Hazard.Assigned.class_version == 1  # type: ignore[attr-defined]


def test_the_manifest_is_kept_in_its_own_format() -> None:
    assert SHAPES.read_text(encoding="utf-8") == dump_shapes(load_shapes())


def golden_logs() -> list[Path]:
    """Every SQLite file of a golden installation that holds an event log (``stored_events``)."""
    logs = []
    for path in sorted(GOLDEN.glob("*/*.sqlite3")):
        with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'stored_events'").fetchone():
                logs.append(path)
    return logs


@pytest.mark.parametrize("path", golden_logs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_event_in_a_golden_log_has_the_fields_recorded_for_its_version(path: Path) -> None:
    shapes = load_shapes()
    with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as db:
        rows = db.execute("SELECT topic, state FROM stored_events").fetchall()
    assert rows
    for topic, state in rows:
        stored = json.loads(state)
        version = str(stored.pop("class_version", 1))
        assert sorted(stored) == shapes[topic][version], topic


# --- the check itself, on an example aggregate (not a real event) ----------------------------------------------


@versions()
class Poster(Aggregate):
    @event("Posted")
    def __init__(self, *, title: str) -> None:
        self.title = title


@versions()
class PosterWithAudience(Aggregate):  # a field added without a new version
    @event("Posted")
    def __init__(self, *, title: str, audience: str = "all") -> None:
        self.title, self.audience = title, audience


@versions(Posted=[added(audience="all")])
class PosterV2(Aggregate):  # a field added with a new version and its upcaster
    @event("Posted")
    def __init__(self, *, title: str, audience: str = "all") -> None:
        self.title, self.audience = title, audience


@versions(Posted=[renamed(headline="heading")])  # the upcaster renames a field the class never had
class PosterMisRenamed(Aggregate):
    @event("Posted")
    def __init__(self, *, headline: str) -> None:
        self.headline = headline


def posted(aggregate: type[Aggregate]) -> Any:
    return aggregate.Posted  # type: ignore[attr-defined]


def recorded_as(aggregate: type[Aggregate], *versions_fields: list[str]) -> dict[str, dict[str, list[str]]]:
    """The manifest as if ``aggregate``'s Posted had been recorded with these fields at versions 1, 2, …"""
    return {get_topic(posted(aggregate)): {str(n): f for n, f in enumerate(versions_fields, start=1)}}


V1 = ["originator_topic", "timestamp", "title"]


def test_a_class_matching_its_recorded_shape_passes() -> None:
    assert fields_of(posted(Poster)) == V1
    assert shape_problems([posted(Poster)], recorded_as(Poster, V1)) == []


def test_a_field_added_without_a_new_version_fails_saying_what_to_do() -> None:
    [problem] = shape_problems([posted(PosterWithAudience)], recorded_as(PosterWithAudience, V1))
    assert "PosterWithAudience.Posted: its fields differ from those recorded for version 1" in problem
    assert "added ['audience'], removed []" in problem
    assert "without a new version" in problem
    assert "Give the class the next version with an upcaster" in problem
    assert "domain.eventversions.added" in problem
    assert "tests/golden/event_shapes.json" in problem
    assert "Changing an event" in problem


def test_a_new_version_must_be_recorded_and_its_upcaster_must_give_its_shape() -> None:
    v2 = [*V1, "audience"]
    [unrecorded] = shape_problems([posted(PosterV2)], recorded_as(PosterV2, V1))
    assert "version 2 is not recorded in tests/golden/event_shapes.json" in unrecorded
    assert json.dumps(sorted(v2)) in unrecorded  # what to add
    assert shape_problems([posted(PosterV2)], recorded_as(PosterV2, V1, sorted(v2))) == []

    mis = recorded_as(PosterMisRenamed, V1, ["headline", "originator_topic", "timestamp"])
    [wrong] = shape_problems([posted(PosterMisRenamed)], mis)
    assert "upcast_v1_v2 turns version 1's fields into" in wrong
    assert "'title'" in wrong


def test_a_new_class_and_a_missing_upcaster_fail_saying_what_to_do() -> None:
    [new] = shape_problems([posted(Poster)], {})
    assert "a new event class, not in tests/golden/event_shapes.json" in new
    assert f'"{get_topic(posted(Poster))}": {{"1": {json.dumps(V1)}}}' in new

    class Unversioned(Aggregate):
        @event("Posted")
        def __init__(self, *, title: str) -> None:
            self.title = title

    [bare] = shape_problems([posted(Unversioned)], {})
    assert "no class_version of its own" in bare

    @versions(Posted=[added(audience="all"), added(pinned=False)])
    class Gap(Aggregate):
        @event("Posted")
        def __init__(self, *, title: str, audience: str = "all", pinned: bool = False) -> None:
            self.title, self.audience, self.pinned = title, audience, pinned

    delattr(posted(Gap), "upcast_v2_v3")
    [gap] = shape_problems([posted(Gap)], {})
    assert "version 3 needs exactly the upcasters ['upcast_v1_v2', 'upcast_v2_v3'], has ['upcast_v1_v2']" in gap


def test_a_recorded_topic_no_class_has_any_more_fails() -> None:
    shapes = {**recorded_as(Poster, V1), "test_event_versions:Gone.Posted": {"1": V1}}
    [problem] = unknown_topics([posted(Poster)], shapes)
    assert problem.startswith("test_event_versions:Gone.Posted: recorded in tests/golden/event_shapes.json")
    assert "domain.topics.RENAMED" in problem


def test_versions_refuses_a_name_that_is_no_event_class() -> None:
    with pytest.raises(TypeError, match="has no event class Publish"):

        @versions(Publish=[added(audience="all")])
        class Typo(Aggregate):
            @event("Posted")
            def __init__(self, *, title: str) -> None:
                self.title = title
