"""Notifications (提醒): who must hear of a missed deadline, an escalation (上报) or 挂牌督办.

- deadline missed → the owner, the school's 校长, the district education bureau;
- escalation → the receiving unit;
- 挂牌督办 → the owner and the school.

Recipients are a user, a unit, or a role within a unit (the school's 校长 is whoever holds the role when the
notice is read). The projector keeps its own small state (hazard → school, owner; school → bureau), filled
from the same events in the same order, so it needs no other read model and runs as its own consumer group.
Each notice is keyed by the event that caused it (hazard, version) and a recipient: a replay changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from domain.directory.aggregate import Unit
from domain.hazard.aggregate import Hazard
from domain.policy import Actor, Role, UnitKind
from projections.base import Projector


class NotificationView(models.Model):
    hazard = models.UUIDField(db_index=True)
    hazard_version = models.IntegerField()
    school = models.UUIDField(db_index=True)
    kind = models.CharField("类型", max_length=30)  # deadline_missed | escalated | supervised
    recipient_user = models.CharField(max_length=150, blank=True, db_index=True)
    recipient_unit = models.UUIDField(null=True, db_index=True)
    recipient_role = models.CharField(max_length=30, blank=True)
    title = models.CharField("标题", max_length=200)
    message = models.TextField("内容")
    occurred_at = models.DateTimeField()

    class Meta:
        verbose_name = "提醒"
        verbose_name_plural = "提醒"
        ordering = ["-occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["hazard", "hazard_version", "recipient_user", "recipient_unit", "recipient_role"],
                name="one_notice_per_event_and_recipient",
            )
        ]


class NotificationHazard(models.Model):
    """The notifications group's own view of a hazard: enough to address a notice."""

    id = models.UUIDField(primary_key=True)
    school = models.UUIDField()
    description = models.CharField(max_length=200)
    owner = models.CharField(max_length=150, blank=True)
    owner_unit = models.UUIDField(null=True)
    version = models.IntegerField()


class NotificationUnit(models.Model):
    id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    parent = models.UUIDField(null=True)


projector = Projector("notifications", (NotificationView, NotificationHazard, NotificationUnit))

KIND_TITLES = {
    "deadline_missed": "隐患整改逾期",
    "escalated": "隐患上报",
    "supervised": "隐患挂牌督办",
}


def for_actor(actor: Actor) -> models.QuerySet[NotificationView]:
    """The notices meant for this user: addressed to them, to their unit, or to their role in their unit."""
    mine = models.Q(recipient_user=actor.username)
    if actor.unit is not None:
        mine |= models.Q(recipient_unit=actor.unit, recipient_role="") | models.Q(
            recipient_unit=actor.unit, recipient_role=actor.role.value
        )
    # One notice per event even when the user is addressed twice (the owner who is also the 校长).
    first = NotificationView.objects.filter(mine).values("hazard", "hazard_version").annotate(first=models.Min("id"))
    return NotificationView.objects.filter(id__in=first.values("first"))


@projector.on(Unit.Registered)
def unit_registered(event: Any) -> None:
    if UnitKind(event.kind) is UnitKind.SCHOOL:
        NotificationUnit.objects.get_or_create(
            id=event.originator_id, defaults={"name": event.name, "parent": event.parent}
        )


@projector.on(Hazard.Discovered)
def discovered(event: Any) -> None:
    NotificationHazard.objects.get_or_create(
        id=event.originator_id,
        defaults={"school": event.school, "description": event.description[:200], "version": event.originator_version},
    )


def _advance(event: Any) -> NotificationHazard | None:
    """The hazard's state before this event, or None when the event was applied already (a replay)."""
    row = NotificationHazard.objects.filter(id=event.originator_id, version__lt=event.originator_version).first()
    if row is not None:
        row.version = event.originator_version
    return row


@projector.on(Hazard.Assigned)
@projector.on(Hazard.Transferred)
def owner_changed(event: Any) -> None:
    if row := _advance(event):
        row.owner, row.owner_unit = event.owner, event.owner_unit
        row.save()


def _notify(row: NotificationHazard, event: Any, kind: str, message: str, recipients: list[dict[str, Any]]) -> None:
    title = f"{KIND_TITLES[kind]}：{row.description[:40]}"
    for recipient in recipients:
        NotificationView.objects.get_or_create(
            hazard=row.id,
            hazard_version=event.originator_version,
            recipient_user=recipient.get("user", ""),
            recipient_unit=recipient.get("unit"),
            recipient_role=recipient.get("role", ""),
            defaults={
                "school": row.school,
                "kind": kind,
                "title": title,
                "message": message,
                "occurred_at": event.occurred_at,
            },
        )
    row.save()


@projector.on(Hazard.DeadlineMissed)
def deadline_missed(event: Any) -> None:
    if row := _advance(event):
        school = NotificationUnit.objects.filter(id=row.school).first()
        recipients: list[dict[str, Any]] = [{"unit": row.school, "role": Role.SCHOOL_PRINCIPAL.value}]
        if event.owner or row.owner:
            recipients.insert(0, {"user": event.owner or row.owner})
        if school is not None and school.parent is not None:
            recipients.append({"unit": school.parent})
        school_name = school.name if school else ""
        message = f"{school_name}隐患“{row.description[:60]}”整改期限 {event.deadline.isoformat()} 已过，尚未整改销号。"
        _notify(row, event, "deadline_missed", message, recipients)


@projector.on(Hazard.Escalated)
def escalated(event: Any) -> None:
    if row := _advance(event):
        message = f"隐患“{row.description[:60]}”已上报贵单位：{event.reason}"
        _notify(row, event, "escalated", message, [{"unit": event.to_unit}])


@projector.on(Hazard.Supervised)
def supervised(event: Any) -> None:
    if row := _advance(event):
        recipients: list[dict[str, Any]] = [{"unit": row.school}]
        if row.owner:
            recipients.insert(0, {"user": row.owner})
        message = f"隐患“{row.description[:60]}”已被挂牌督办。{event.note}".strip()
        _notify(row, event, "supervised", message, recipients)
