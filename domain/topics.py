"""Topics of renamed or moved event classes (README "Changing an event"): the log keeps the topic each event was
stored under forever, so a class that is renamed or moved keeps its old topic readable here.

``RENAMED`` maps each old topic (``module:Aggregate.Event`` as stored) to the class's topic today; an entry is
never removed. ``register_renamed_topics`` (run when ``domain.application`` is imported) registers each old topic
with the library (``eventsourcing.utils.register_topic``), so events stored under it load as today's class.
The bytes stored under the old topic, and so the hash chain over them, do not change.
"""

from __future__ import annotations

from collections.abc import Mapping

from eventsourcing.utils import register_topic, resolve_topic

RENAMED: dict[str, str] = {}  # none yet: no event class has been renamed or moved since the first release


def register_renamed_topics(renamed: Mapping[str, str] = RENAMED) -> None:
    for old, today in renamed.items():
        register_topic(old, resolve_topic(today))
