"""Run a command: its events, every read-model row they change, their chain links, the tracking position and
whatever else the command writes commit in one transaction (``projections.djangorecorder.execute_inline``), so
the answer — read from the read models — shows the command's own effect, and a client told of an error has
nothing recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from api.metrics import CommandTimer
from domain.application import SafetyApplication
from domain.attachments import Attachments
from domain.policy import Actor
from projections.attachments import pin
from projections.djangorecorder import execute_inline
from projections.eventstore import get_application

T = TypeVar("T")


def execute(command: Callable[[SafetyApplication], T]) -> T:
    """Commands return only after the read models reflect them (read-your-writes), in the same transaction."""
    with CommandTimer() as timer:
        return execute_inline(get_application(), command, recorded=timer.recorded)


def attached(actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """A command's validated input with its ``attachments`` ids (``api.common.AttachmentIds``) made references,
    each upload pinned. Call inside the command (``execute(lambda app: ...(**attached(actor, data)))``): the pins
    commit or roll back with the command, under the row locks the purge of unpinned uploads takes."""
    if "attachments" not in data:
        return data
    return {**data, "attachments": pin(actor, data["attachments"])}


def attached_by_key(actor: Actor, ids: dict[str, list[UUID]]) -> dict[str, Attachments]:
    """``attached`` for attachments given per key (a joint form's fields): every upload pinned in one locking pass,
    in the command's transaction, each key's references in the order given."""
    refs = iter(pin(actor, [pk for key in ids for pk in ids[key]]))
    return {key: tuple(next(refs) for _ in ids[key]) for key in ids}

