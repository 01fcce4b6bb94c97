"""Notifications (提醒): who must hear of a missed deadline, an escalation (上报) or 挂牌督办.

- deadline missed → the owner, the school's 校长, the district education bureau;
- escalation → the receiving unit;
- 挂牌督办 → the owner and the school.

Recipients are a user, a unit, or a role within a unit (the school's 校长 is whoever holds the role when the
notice is read). The projector keeps its own small state (hazard → school, owner; school → bureau), filled
from the same events in the same order, so it needs no other read model and runs as its own consumer group.
Each notice is keyed by the event that caused it (hazard, version) and a recipient: a replay changes nothing.
A batch is applied in memory (``Batch``) and written in bulk, in the caller's transaction.

签收: a user signs for a notice (``Account.NoticeAcknowledged``, an event of the directory); a notice addressed to a
user is signed when that user signs it, one to a unit (or a role in it) when anyone of that unit (holding that role)
signs it (``receipts``). The sender of a 督办 or 上报 (the event's actor and unit) sees who has not signed yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from django.db import models
from eventsourcing.domain import Aggregate

from domain.directory.account import Account
from domain.directory.aggregate import Unit
from domain.hazard.aggregate import Hazard
from domain.policy import Actor, Role, UnitKind
from projections import bulk
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
    # who caused it: the actor of a 督办 or 上报 and their unit ("" and None for a missed deadline, the system's)
    sender = models.CharField(max_length=150, blank=True, default="", db_index=True)
    sender_unit = models.UUIDField(null=True, default=None, db_index=True)

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


class NotificationAck(models.Model):
    """One user's 签收 of one notice (the notice is known by its hazard event), with the unit and role they held."""

    username = models.CharField(max_length=150)
    hazard = models.UUIDField(db_index=True)
    hazard_version = models.IntegerField()
    unit = models.UUIDField(null=True)
    role = models.CharField(max_length=30, blank=True)
    acknowledged_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "hazard", "hazard_version"], name="one_ack_per_user_and_notice")
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


KIND_TITLES = {
    "deadline_missed": "隐患整改逾期",
    "escalated": "隐患上报",
    "supervised": "隐患挂牌督办",
}
NOTICE_FIELDS = [
    "hazard",
    "hazard_version",
    "school",
    "kind",
    "recipient_user",
    "recipient_unit",
    "recipient_role",
    "title",
    "message",
    "occurred_at",
    "sender",
    "sender_unit",
]
ACK_FIELDS = ["username", "hazard", "hazard_version", "unit", "role", "acknowledged_at"]
HAZARD_FIELDS = ["id", "school", "description", "owner", "owner_unit", "version"]
UNIT_FIELDS = ["id", "name", "parent"]


def for_actor(actor: Actor) -> models.QuerySet[NotificationView]:
    """The notices meant for this user: addressed to them, to their unit, or to their role in their unit."""
    mine = models.Q(recipient_user=actor.username)
    if actor.unit is not None:
        mine |= models.Q(recipient_unit=actor.unit, recipient_role="") | models.Q(
            recipient_unit=actor.unit, recipient_role=actor.role.value
        )
    # One notice per event even when the user is addressed twice (the owner who is also the 校长).
    first = NotificationView.objects.filter(mine).values("hazard", "hazard_version").annotate(first=models.Min("id"))
    return NotificationView.objects.filter(id__in=first.values("first")).annotate(
        acknowledged_at=models.Subquery(
            NotificationAck.objects.filter(
                username=actor.username,
                hazard=models.OuterRef("hazard"),
                hazard_version=models.OuterRef("hazard_version"),
            ).values("acknowledged_at")[:1]
        )
    )


def sent_by(actor: Actor) -> models.QuerySet[NotificationView]:
    """The notices of the 督办 and 上报 the actor (or their unit) sent, one row per recipient."""
    mine = models.Q(sender=actor.username)
    if actor.unit is not None:
        mine |= models.Q(sender_unit=actor.unit)
    return NotificationView.objects.filter(mine).exclude(sender="")


def receipts(notices: Sequence[NotificationView]) -> dict[int, NotificationAck | None]:
    """For each notice row (one recipient), the 签收 that answers it, or None while nobody has signed: a user's own,
    or for a unit (a role in a unit) the first of anyone who signed while holding it."""
    keys = {(n.hazard, n.hazard_version) for n in notices}
    acks: dict[tuple[UUID, int], list[NotificationAck]] = {}
    if keys:
        hazards = bulk.among("hazard", {hazard for hazard, _ in keys})
        for ack in NotificationAck.objects.filter(hazards).order_by("acknowledged_at", "id"):
            if (ack.hazard, ack.hazard_version) in keys:
                acks.setdefault((ack.hazard, ack.hazard_version), []).append(ack)
    found: dict[int, NotificationAck | None] = {}
    for n in notices:
        signed = acks.get((n.hazard, n.hazard_version), [])
        if n.recipient_user:
            match = [a for a in signed if a.username == n.recipient_user]
        else:
            match = [a for a in signed if a.unit == n.recipient_unit and n.recipient_role in ("", a.role)]
        found[n.id] = match[0] if match else None
    return found


class Batch:
    """The projector's state for one batch: the rows it touches, loaded once, changed in memory, written in bulk."""

    def __init__(self, events: Sequence[Aggregate.Event]) -> None:
        hazards = {e.originator_id for e in events if isinstance(e, Hazard.Event)}
        self.hazards = bulk.by_pk(NotificationHazard, hazards)
        schools = {h.school for h in self.hazards.values()}
        schools |= {e.school for e in events if isinstance(e, Hazard.Discovered)}
        schools |= {e.originator_id for e in events if isinstance(e, Unit.Registered)}
        self.units = bulk.by_pk(NotificationUnit, schools)
        self.stored_hazards, self.stored_units = set(self.hazards), set(self.units)
        self.changed: set[UUID] = set()
        self.notices: list[tuple[Any, ...]] = []
        self.acks: list[tuple[Any, ...]] = []

    def advance(self, event: Any) -> NotificationHazard | None:
        """The hazard's state before this event, or None when the event was applied already (a replay)."""
        row = self.hazards.get(event.originator_id)
        if row is None or row.version >= event.originator_version:
            return None
        row.version = event.originator_version
        self.changed.add(row.id)
        return row

    def notify(
        self,
        row: NotificationHazard,
        event: Any,
        kind: str,
        message: str,
        recipients: list[Recipient],
        sender: tuple[str, UUID | None] = ("", None),
    ) -> None:
        title = f"{KIND_TITLES[kind]}：{row.description[:40]}"
        for user, unit, role in dict.fromkeys(recipients):
            self.notices.append(
                (
                    row.id,
                    event.originator_version,
                    row.school,
                    kind,
                    user,
                    unit,
                    role,
                    title,
                    message,
                    event.occurred_at,
                    *sender,
                )
            )

    def write(self) -> None:
        hazards = [[getattr(self.hazards[h], f) for f in HAZARD_FIELDS] for h in self.changed]
        bulk.insert(NotificationHazard, HAZARD_FIELDS, (h for h in hazards if h[0] not in self.stored_hazards))
        bulk.upsert(NotificationHazard, HAZARD_FIELDS, (h for h in hazards if h[0] in self.stored_hazards), key=["id"])
        units = [u for i, u in self.units.items() if i not in self.stored_units]
        bulk.insert(NotificationUnit, UNIT_FIELDS, ([u.id, u.name, u.parent] for u in units))
        bulk.insert(NotificationView, NOTICE_FIELDS, self.notices)
        if self.acks:  # a replay of a 签收 already applied changes nothing
            keys = {(a[0], a[1], a[2]) for a in self.acks}
            stored = set(
                NotificationAck.objects.filter(bulk.among("username", {k[0] for k in keys})).values_list(
                    "username", "hazard", "hazard_version"
                )
            )
            fresh = {(a[0], a[1], a[2]): a for a in self.acks if (a[0], a[1], a[2]) not in stored}
            bulk.insert(NotificationAck, ACK_FIELDS, fresh.values())


Recipient = tuple[str, UUID | None, str]  # user, unit, role within the unit
Handler = Callable[[Batch, Any], None]


class NotificationProjector(Projector[Handler]):
    def __init__(self) -> None:
        super().__init__(
            "notifications",
            (NotificationView, NotificationAck, NotificationHazard, NotificationUnit),
            (Unit, Hazard, Account),
        )

    def apply(self, event: Aggregate.Event) -> None:
        self.apply_batch([event])

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        mine = self.handlers.mine(events)
        if not mine:
            return
        batch = Batch(mine)
        for event in mine:
            self.handler_for(event)(batch, event)  # type: ignore[misc]
        with bulk.together(len(mine) < bulk.FEW):
            batch.write()


projector = NotificationProjector()
# A renamed school keeps its registered name in the notices: a parallel rebuild (``projections.rebuild``) projects
# every directory event before any hazard's, so a rename applied here would reach the notices of misses recorded
# before it, and a rebuild would not give back the notices' text. (Following renames needs the names in force over
# time here — not done yet.)
projector.ignore(Unit.Changed)
# An account's opening and password changes are nobody's notice.
projector.ignore(Account.Opened, Account.PasswordChanged, Account.PasswordReset)
# Nothing to tell anyone: the notices are of missed deadlines, escalations and supervision; a hazard's state
# otherwise matters here only for its owner (Assigned, Transferred).
projector.ignore(
    Hazard.PlanRecorded,
    Hazard.InterimMeasuresRecorded,
    Hazard.ProgressReported,
    Hazard.DeadlineExtended,
    Hazard.Rectified,
    Hazard.Verified,
    Hazard.Rejected,
    Hazard.Reopened,
    Hazard.Voided,
)


@projector.on(Unit.Registered)
def unit_registered(batch: Batch, event: Any) -> None:
    if UnitKind(event.kind) is UnitKind.SCHOOL and event.originator_id not in batch.units:
        batch.units[event.originator_id] = NotificationUnit(
            id=event.originator_id, name=event.name, parent=event.parent
        )


@projector.on(Hazard.Discovered)
def discovered(batch: Batch, event: Any) -> None:
    if event.originator_id not in batch.hazards:
        batch.hazards[event.originator_id] = bulk.new_row(  # a rebuild makes one per hazard: no Model.__init__
            NotificationHazard,
            (
                ("id", event.originator_id),
                ("school", event.school),
                ("description", event.description[:200]),
                ("owner", ""),
                ("owner_unit", None),
                ("version", event.originator_version),
            ),
        )
        batch.changed.add(event.originator_id)


@projector.on(Hazard.Assigned, Hazard.Transferred)
def owner_changed(batch: Batch, event: Any) -> None:
    if row := batch.advance(event):
        row.owner, row.owner_unit = event.owner, event.owner_unit


@projector.on(Hazard.DeadlineMissed)
def deadline_missed(batch: Batch, event: Any) -> None:
    if row := batch.advance(event):
        school = batch.units.get(row.school) or NotificationUnit.objects.filter(id=row.school).first()
        recipients: list[Recipient] = [("", row.school, Role.SCHOOL_PRINCIPAL.value)]
        if event.owner or row.owner:
            recipients.insert(0, (event.owner or row.owner, None, ""))
        if school is not None and school.parent is not None:
            recipients.append(("", school.parent, ""))
        school_name = school.name if school else ""
        message = f"{school_name}隐患“{row.description[:60]}”整改期限 {event.deadline.isoformat()} 已过，尚未整改销号。"
        batch.notify(row, event, "deadline_missed", message, recipients)


@projector.on(Hazard.Escalated)
def escalated(batch: Batch, event: Any) -> None:
    if row := batch.advance(event):
        message = f"隐患“{row.description[:60]}”已上报贵单位：{event.reason}"
        sender = (event.actor, None) if event.actor else ("", None)
        batch.notify(row, event, "escalated", message, [("", event.to_unit, "")], sender)


@projector.on(Hazard.Supervised)
def supervised(batch: Batch, event: Any) -> None:
    if row := batch.advance(event):
        recipients: list[Recipient] = [("", row.school, "")]
        if row.owner:
            recipients.insert(0, (row.owner, None, ""))
        message = f"隐患“{row.description[:60]}”已被挂牌督办。{event.note}".strip()
        batch.notify(row, event, "supervised", message, recipients, (event.actor, event.by_unit))


@projector.on(Account.NoticeAcknowledged)
def acknowledged(batch: Batch, event: Any) -> None:
    batch.acks.append((event.actor, event.hazard, event.hazard_version, event.unit, event.role, event.occurred_at))
