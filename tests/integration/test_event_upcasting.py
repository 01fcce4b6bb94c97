"""The worked examples of README "Changing an event", each on a small example aggregate (never a real event): an
event written by version 1 of a class is stored in the installation's own event store, then loaded by today's
class — version 2 with its upcaster. And an event stored under the topic of a class since renamed still loads.

Upcasting happens on read: the stored bytes, and so the hash chain over them, stay as they were written.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import TopicError, get_topic

from domain.application import SafetyApplication
from domain.eventversions import added, renamed, versions
from domain.topics import register_renamed_topics
from projections import integrity
from projections.runner import catch_up

# --- (a) a field added with a default --------------------------------------------------------------------------


class NoticeV1(Aggregate):
    """``Notice`` as the first release wrote it (here under another name, so both can be defined in one file)."""

    @event("Posted")
    def __init__(self, *, title: str) -> None:
        self.title = title


@versions(Posted=[added(audience="全体师生")])  # version 2: events of version 1 had no audience: everyone
class Notice(Aggregate):
    @event("Posted")
    def __init__(self, *, title: str, audience: str) -> None:
        self.title, self.audience = title, audience


# --- (b) a field renamed ---------------------------------------------------------------------------------------


class MemoV1(Aggregate):
    @event("Started")
    def __init__(self) -> None:
        self.texts: list[str] = []

    @event("Noted")
    def note(self, *, text: str) -> None:
        self.texts.append(text)


@versions(Noted=[renamed(body="text")])  # version 2: ``text`` is called ``body`` now
class Memo(Aggregate):
    @event("Started")
    def __init__(self) -> None:
        self.bodies: list[str] = []

    @event("Noted")
    def note(self, *, body: str) -> None:
        self.bodies.append(body)


def stored_by_release_1(app: SafetyApplication, aggregate: Aggregate, today: type[Aggregate]) -> list[StoredEvent]:
    """What the first release stored for ``aggregate`` (of the ``…V1`` class), as if that class had had today's
    name: the same bytes, with its topics (the events' and, in the created event, the aggregate's) renamed."""
    old, new = f":{type(aggregate).__name__}", f":{today.__name__}"
    stored = []
    for domain_event in aggregate.collect_events():
        record = app.mapper.to_stored_event(domain_event)
        assert b"class_version" not in record.state  # version 1 writes none
        state = bytes(record.state).replace(
            f'"{get_topic(type(aggregate))}"'.encode(), f'"{get_topic(today)}"'.encode()
        )
        stored.append(
            StoredEvent(record.originator_id, record.originator_version, record.topic.replace(old, new), state)
        )
    return stored


def store(app: SafetyApplication, records: list[StoredEvent]) -> None:
    app.recorder.insert_events(records)
    catch_up(app)  # chained like any event recorded outside a command


def stored_states(app: SafetyApplication, originator: UUID) -> list[bytes]:
    return [bytes(e.state) for e in app.recorder.select_events(originator)]


def verified(app: SafetyApplication) -> integrity.Report:
    report = integrity.verify(integrity.stored_events(app.recorder))
    assert report.ok, report.problems
    return report


def test_example_a_field_added_with_a_default(app: SafetyApplication) -> None:
    written = NoticeV1(title="消防演练通知")
    store(app, stored_by_release_1(app, written, Notice))
    before = stored_states(app, written.id)
    head = verified(app).head

    notice: Any = app.repository.get(written.id)
    assert type(notice) is Notice
    assert (notice.title, notice.audience) == ("消防演练通知", "全体师生")  # the upcaster's default

    later = Notice(title="防汛演练通知", audience="初三年级")  # today's class writes version 2, with its audience
    app.save(later)
    [v2] = stored_states(app, later.id)
    assert b'"class_version":2' in v2.replace(b" ", b"")
    assert app.repository.get(later.id).audience == "初三年级"  # type: ignore[attr-defined]

    assert stored_states(app, written.id) == before  # read, never rewritten
    catch_up(app)
    assert verified(app).head["position"] > head["position"]  # type: ignore[index]


def test_example_a_field_renamed(app: SafetyApplication) -> None:
    written = MemoV1()
    written.note(text="东门护栏松动")
    written.note(text="已通知后勤")
    store(app, stored_by_release_1(app, written, Memo))
    before = stored_states(app, written.id)
    verified(app)

    memo: Any = app.repository.get(written.id)
    assert type(memo) is Memo
    assert memo.bodies == ["东门护栏松动", "已通知后勤"]  # ``text`` read as ``body``
    memo.note(body="护栏已修复")
    app.save(memo)
    events: list[Any] = list(app.repository.event_store.get(written.id))
    assert [e.body for e in events[1:]] == ["东门护栏松动", "已通知后勤", "护栏已修复"]  # every one a version 2
    assert stored_states(app, written.id)[:3] == before
    catch_up(app)
    verified(app)


# --- a renamed (or moved) class: its old topic stays readable ----------------------------------------------------


class Bulletin(Aggregate):  # was ``examples.noticeboard:Board`` with the event ``Board.Pinned``
    @event("Pinned")
    def __init__(self, *, title: str) -> None:
        self.title = title


def test_an_event_stored_under_the_topic_of_a_renamed_class_loads(app: SafetyApplication) -> None:
    old_class, old_event = "examples.noticeboard:Board", "examples.noticeboard:Board.Pinned"
    written = Bulletin(title="开学安全第一课")
    [record] = [app.mapper.to_stored_event(e) for e in written.collect_events()]
    state = bytes(record.state).replace(f'"{get_topic(Bulletin)}"'.encode(), f'"{old_class}"'.encode())
    app.recorder.insert_events([StoredEvent(record.originator_id, 1, old_event, state)])
    with pytest.raises(TopicError):  # nothing says where the class went: neither a load nor a catch-up reads it
        app.repository.get(written.id)
    with pytest.raises(TopicError):
        catch_up(app)

    register_renamed_topics({old_class: get_topic(Bulletin), old_event: get_topic(Bulletin.Pinned)})  # type: ignore[attr-defined]

    catch_up(app)
    bulletin: Any = app.repository.get(written.id)
    assert type(bulletin) is Bulletin and bulletin.title == "开学安全第一课"
    [stored] = app.recorder.select_events(written.id)
    assert stored.topic == old_event  # the log keeps the topic it was stored under; the chain hashes it as stored
    verified(app)
