"""Unit directory read models: units, staff (current) and staff intervals (who held which role when)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.db import connection, models
from django.utils import timezone
from eventsourcing.domain import Aggregate

from domain.directory.aggregate import Staff, Unit, default_code
from domain.policy import ROLE_LABELS, SYSTEM_ACTOR, UNIT_KIND_LABELS, Role, UnitKind
from projections import bulk
from projections.base import Projector
from projections.bitemporal import Bitemporal, in_force


class UnitView(models.Model):
    id = models.UUIDField(primary_key=True)
    kind = models.CharField("类型", max_length=32, choices=[(k.value, v) for k, v in UNIT_KIND_LABELS.items()])
    name = models.CharField("名称", max_length=200)
    code = models.CharField("学校代码", max_length=10, blank=True)
    district = models.CharField("区域", max_length=100, blank=True)
    parent = models.UUIDField("上级单位", null=True, blank=True)
    police_station = models.UUIDField("属地派出所", null=True, blank=True)
    stage = models.CharField("学段", max_length=50, blank=True)
    boarding = models.BooleanField("寄宿制", default=False)
    registered_at = models.DateTimeField("登记时间")
    version = models.IntegerField(default=0)

    class Meta:
        verbose_name = "单位"
        verbose_name_plural = "单位"
        ordering = ["kind", "name"]
        indexes = [models.Index(fields=["district"]), models.Index(fields=["police_station"])]

    def __str__(self) -> str:
        return self.name


class UnitVersion(Bitemporal):
    """A unit's name, district and 属地派出所 as they held from ``valid_from`` (bitemporal). The registration's row
    holds from the beginning (what a unit was called before any change is what it was registered as); each
    ``Changed`` adds a row from its ``effective_from``."""

    unit = models.UUIDField()
    version = models.IntegerField()
    name = models.CharField("名称", max_length=200)
    district = models.CharField("区域", max_length=100, blank=True)
    police_station = models.UUIDField("属地派出所", null=True, blank=True)

    class Meta:
        verbose_name = "单位变更记录"
        verbose_name_plural = "单位变更记录"
        ordering = ["unit", "version"]
        constraints = [models.UniqueConstraint(fields=["unit", "version"], name="unit_version_once")]
        indexes = [models.Index(fields=["unit", "valid_from"])]


class StaffView(models.Model):
    username = models.CharField("用户名", max_length=150, primary_key=True)
    staff_id = models.UUIDField(unique=True)
    display_name = models.CharField("姓名", max_length=100)
    phone = models.CharField("联系电话", max_length=50, blank=True)
    unit = models.UUIDField("单位", null=True, blank=True)
    role = models.CharField("角色", max_length=32, blank=True, choices=[(r.value, v) for r, v in ROLE_LABELS.items()])
    active = models.BooleanField("在任", default=True)
    version = models.IntegerField(default=0)

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = "人员"
        ordering = ["username"]

    def __str__(self) -> str:
        return f"{self.display_name}（{self.username}）"


class StaffInterval(Bitemporal):
    """One appointment (or leaving, ``role`` blank) of one person, bitemporal: who held which role when."""

    username = models.CharField(max_length=150)
    version = models.IntegerField()
    unit = models.UUIDField(null=True)
    role = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = "任职记录"
        verbose_name_plural = "任职记录"
        ordering = ["username", "version"]
        constraints = [models.UniqueConstraint(fields=["username", "version"], name="staff_interval_once")]
        indexes = [models.Index(fields=["unit", "valid_from"]), models.Index(fields=["username", "valid_from"])]


class Pending:
    """Registrations and appointments (nearly every directory event) waiting to be written in bulk; the rare
    other events are applied one by one, after what came before them in the batch has been written."""

    def __init__(self) -> None:
        self.units: list[Unit.Registered] = []
        self.staff: list[Staff.Appointed] = []

    def flush(self) -> None:
        _register(self.units)
        _appoint(self.staff)
        self.units, self.staff = [], []


DirectoryHandler = Callable[[Pending, Any], None]


class DirectoryProjector(Projector[DirectoryHandler]):
    def apply(self, event: Aggregate.Event) -> None:
        self.apply_batch([event])

    def apply_batch(self, events: Sequence[Aggregate.Event]) -> None:
        pending = Pending()
        for event in events:
            handler = self.handler_for(event)
            if handler is not None:
                handler(pending, event)
        pending.flush()


UNIT_FIELDS = [
    "id",
    "kind",
    "name",
    "code",
    "district",
    "parent",
    "police_station",
    "stage",
    "boarding",
    "registered_at",
    "version",
]
UNIT_VERSION_FIELDS = ["unit", "version", "name", "district", "police_station", "valid_from", "recorded_at"]
SINCE_EVER = datetime(1970, 1, 1, tzinfo=UTC)  # a registration's row holds from the beginning
STAFF_FIELDS = ["username", "staff_id", "display_name", "phone", "unit", "role", "active", "version"]
INTERVAL_FIELDS = ["username", "version", "unit", "role", "valid_from", "recorded_at", "next_valid", "next_recorded"]


def _register(events: list[Unit.Registered]) -> None:
    """Like ``unit_registered`` for each event: a unit already there is left as it is."""
    if not events:
        return
    known = set(
        UnitView.objects.filter(bulk.among("id", {e.originator_id for e in events})).values_list("id", flat=True)
    )
    codes = SchoolCodes(e.district for e in events if e.originator_id not in known)
    rows, versions = [], []
    for e in events:
        if e.originator_id not in known:
            known.add(e.originator_id)
            versions.append(_first_version(e))
            rows.append(
                (
                    e.originator_id,
                    UnitKind(e.kind).value,
                    e.name,
                    codes.of(e),
                    e.district,
                    e.parent,
                    e.police_station,
                    e.stage,
                    e.boarding,
                    e.occurred_at,
                    e.originator_version,
                )
            )
    bulk.insert(UnitView, UNIT_FIELDS, rows)
    bulk.insert(UnitVersion, UNIT_VERSION_FIELDS, versions)


def _first_version(e: Unit.Registered) -> tuple[object, ...]:
    return (e.originator_id, e.originator_version, e.name, e.district, e.police_station, SINCE_EVER, e.timestamp)


def _appoint(events: list[Staff.Appointed]) -> None:
    """Like ``staff_appointed`` for each event: a username already there is left as it is."""
    if not events:
        return
    names = {e.username for e in events}
    known = set(StaffView.objects.filter(bulk.among("username", names)).values_list("username", flat=True))
    intervals = set(StaffInterval.objects.filter(bulk.among("username", names)).values_list("username", "version"))
    staff, appointments, ended = [], [], []
    for e in events:
        if e.username in known:
            continue
        known.add(e.username)
        staff.append((e.username, e.originator_id, e.display_name, e.phone, e.unit, e.role, True, e.originator_version))
        if (e.username, e.originator_version) not in intervals:
            ended.append((e.effective_from, e.timestamp, e.username, e.originator_version - 1))
            appointments.append(
                (e.username, e.originator_version, e.unit, e.role, e.effective_from, e.timestamp, None, None)
            )
    bulk.insert(StaffView, STAFF_FIELDS, staff)
    ended = [r for r in ended if r[3] > 0]
    bulk.update(StaffInterval, ["next_valid", "next_recorded"], ended, key=["username", "version"])
    bulk.insert(StaffInterval, INTERVAL_FIELDS, appointments)


projector = DirectoryProjector("directory", (UnitView, UnitVersion, StaffView, StaffInterval), consumes=(Unit, Staff))


class SchoolCodes:
    """Schools' codes as registered, or the default the directory gives a school registered without one: the
    first free "S001", "S002", … in its district, in the order of the log (so a rebuild gives the same)."""

    def __init__(self, districts: Iterable[str]) -> None:
        wanted = set(districts)
        self.taken: dict[str, set[str]] = {d: set() for d in wanted}
        if wanted:
            rows = UnitView.objects.filter(bulk.among("district", wanted), kind=UnitKind.SCHOOL.value)
            for district, code in rows.values_list("district", "code"):
                self.taken[district].add(code)

    def of(self, event: Unit.Registered) -> str:
        if UnitKind(event.kind) is not UnitKind.SCHOOL:
            return ""
        taken = self.taken.setdefault(event.district, set())
        code = getattr(event, "code", "") or default_code({c for c in taken if c})
        taken.add(code)
        return code


def code_taken(district: str, code: str) -> bool:
    """Whether a school of ``district`` already goes by ``code`` (codes are unique within a district)."""
    return bool(code) and UnitView.objects.filter(district=district, code=code, kind=UnitKind.SCHOOL.value).exists()


def code_of(school: UUID) -> str:
    """The school's code in the directory: its own, or the default given at registration ("" if unknown)."""
    return UnitView.objects.filter(id=school).values_list("code", flat=True).first() or ""


@projector.on(Unit.Registered)
def unit_registered(pending: Pending, event: Unit.Registered) -> None:
    pending.units.append(event)  # written in bulk by ``_register``


@projector.on(Unit.Changed)
def unit_changed(pending: Pending, event: Unit.Changed) -> None:
    """The current state (``UnitView``, which scope uses) takes the change at once; ``UnitVersion`` keeps what held
    before ``effective_from``. (The hazard ledger's copy of the school's district and station follows in
    ``projections.hazard.projector``, projected after this.)"""
    pending.flush()
    rows = UnitView.objects.filter(id=event.originator_id, version=event.originator_version - 1)
    code = getattr(event, "code", None)  # None: unchanged, and absent from changes recorded before codes could change
    if not rows.update(
        name=event.name,
        district=event.district,
        police_station=event.police_station,
        version=event.originator_version,
        **({"code": code} if code is not None else {}),
    ):
        return  # already applied
    UnitVersion.objects.filter(unit=event.originator_id, version__lt=event.originator_version).filter(
        next_recorded__isnull=True
    ).update(next_valid=event.effective_from, next_recorded=event.timestamp)
    UnitVersion.objects.create(
        unit=event.originator_id,
        version=event.originator_version,
        name=event.name,
        district=event.district,
        police_station=event.police_station,
        valid_from=event.effective_from,
        recorded_at=event.timestamp,
    )


@projector.on(Staff.Appointed)
def staff_appointed(pending: Pending, event: Staff.Appointed) -> None:
    pending.staff.append(event)  # written in bulk by ``_appoint``


@projector.on(Staff.RoleChanged)
def staff_role_changed(pending: Pending, event: Staff.RoleChanged) -> None:
    pending.flush()
    username = _advance(event)
    if username:
        StaffView.objects.filter(username=username).update(unit=event.unit, role=event.role)
        _record_interval(username, event, event.unit, event.role)


@projector.on(Staff.Left)
def staff_left(pending: Pending, event: Staff.Left) -> None:
    pending.flush()
    username = _advance(event)
    if username:
        StaffView.objects.filter(username=username).update(active=False)
        _record_interval(username, event, None, "")


def _advance(event: Staff.Event) -> str | None:
    """Move the staff row to this event's version; None if the event was already applied."""
    rows = StaffView.objects.filter(staff_id=event.originator_id, version=event.originator_version - 1)
    username = rows.values_list("username", flat=True).first()
    if username is None:
        return None
    rows.update(version=event.originator_version)
    return username


def _record_interval(username: str, event: Staff.Event, unit: UUID | None, role: str) -> None:
    if StaffInterval.objects.filter(username=username, version=event.originator_version).exists():
        return
    StaffInterval.objects.filter(username=username, version=event.originator_version - 1).update(
        next_valid=event.effective_from, next_recorded=event.timestamp
    )
    StaffInterval.objects.create(
        username=username,
        version=event.originator_version,
        unit=unit,
        role=role,
        valid_from=event.effective_from,
        recorded_at=event.timestamp,
    )


# --- queries -------------------------------------------------------------------------------------


def boarding(school: UUID) -> bool:
    """The school's 寄宿制 flag now: whether it has a dormitory (the joint form's "/" there depends on it)."""
    return bool(UnitView.objects.filter(id=school).values_list("boarding", flat=True).first())


def staff_at(unit: UUID, at: datetime, known_at: datetime | None = None) -> list[dict[str, object]]:
    """Who held which role in ``unit`` at ``at``, as known at ``known_at`` (default: now)."""
    known = known_at or timezone.now()
    rows = list(
        StaffInterval.objects.filter(in_force(at, known), unit=unit).exclude(role="").order_by("role", "username")
    )
    names = dict(
        StaffView.objects.filter(username__in=[r.username for r in rows]).values_list("username", "display_name")
    )
    return [
        {
            "username": r.username,
            "display_name": names.get(r.username, ""),
            "role": r.role,
            "from": r.valid_from,
            "to": r.valid_to(known),
        }
        for r in rows
    ]


def appointment_at(username: str, at: datetime, known_at: datetime | None = None) -> StaffInterval | None:
    """The appointment ``username`` held at ``at`` as known at ``known_at`` (None: none, or left)."""
    row = StaffInterval.objects.filter(in_force(at, known_at or timezone.now()), username=username).first()
    return row if row is not None and row.role else None


def appointment_now(username: Any, now: datetime | None = None) -> dict[str, Any]:
    """``role`` and ``unit`` of ``appointment_at(username, now)`` as subqueries (``username`` an ``OuterRef``):
    annotated on the query that finds the user, a request's login and its appointment are one round trip."""
    now = now or timezone.now()
    rows = StaffInterval.objects.filter(in_force(now, now), username=username).order_by("username", "version")
    return {
        "appointment_role": models.Subquery(rows.values("role")[:1]),
        "appointment_unit": models.Subquery(rows.values("unit")[:1]),
    }


def holders(unit: UUID, role: str, at: datetime, known_at: datetime) -> list[str]:
    """Usernames holding ``role`` in ``unit`` at ``at`` as known at ``known_at``."""
    rows = StaffInterval.objects.filter(in_force(at, known_at), unit=unit, role=role).order_by("username")
    return list(rows.values_list("username", flat=True))


SYSTEM_NAME = "系统"


_UNIT_NAMES = bulk.KeyedQuery(
    lambda ids: UnitView.objects.filter(bulk.among("id", ids)).order_by().values_list("id", "name")
)
_PEOPLE_NAMES = bulk.KeyedQuery(
    lambda usernames: (
        StaffView.objects.filter(bulk.among("username", usernames)).order_by().values_list("username", "display_name")
    )
)


class DisplayNames:
    """The one place ids become names: units by id → 单位名称, people by username → 姓名 (display_name).

    Read in bulk: ``load`` fetches every name a page will show in two queries; a name not loaded yet is read
    when first asked. Current names (a renamed unit reads by its new name everywhere)."""

    def __init__(self) -> None:
        self.units: dict[UUID, str] = {}
        self.people: dict[str, str] = {}

    @classmethod
    def everyone(cls) -> DisplayNames:
        """Every unit and person, read once (for reports that name many of both)."""
        names = cls()
        names.units = dict(UnitView.objects.values_list("id", "name"))
        names.people = dict(StaffView.objects.values_list("username", "display_name"))
        return names

    def load(self, units: Iterable[UUID | str | None] = (), people: Iterable[str | None] = ()) -> DisplayNames:
        wanted_units = {_uuid(u) for u in units} - self.units.keys() - {None}
        wanted_people = {p for p in people if p} - self.people.keys()
        self.units.update(dict.fromkeys(wanted_units, ""))  # unknown ids are not asked again
        self.people.update(dict.fromkeys(wanted_people, ""))
        if wanted_units and wanted_people and connection.vendor == "postgresql":
            self._load_both(wanted_units, wanted_people)
            return self
        if wanted_units:
            self.units.update(_UNIT_NAMES.rows(list(wanted_units)))
        if wanted_people:
            self.people.update(_PEOPLE_NAMES.rows(list(wanted_people)))
        return self

    def _load_both(self, units: set[UUID | None], people: set[str]) -> None:
        """Units and people in one round trip (a list naming schools and owners is read in one more query, not
        two)."""
        unit, staff = UnitView._meta.db_table, StaffView._meta.db_table
        sql = (
            f"SELECT id, NULL, name FROM {unit} WHERE id = ANY(%s)"
            f" UNION ALL SELECT NULL, username, display_name FROM {staff} WHERE username = ANY(%s)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(units), list(people)])
            for unit_id, username, name in cursor.fetchall():
                if username is None:
                    self.units[unit_id] = name
                else:
                    self.people[username] = name

    def unit_name(self, unit: UUID | str | None) -> str | None:
        """The unit's name; None for no unit or an id the directory does not know."""
        key = _uuid(unit)
        if key is None:
            return None
        if key not in self.units:
            self.load(units=[key])
        return self.units[key] or None

    def person_name(self, username: str | None) -> str | None:
        """The person's display name; None for nobody or a username the directory does not know."""
        if not username:
            return None
        if username == SYSTEM_ACTOR.username:
            return SYSTEM_NAME
        if username not in self.people:
            self.load(people=[username])
        return self.people[username] or None


def unit_names(units: Iterable[UUID | str | None]) -> dict[UUID, str]:
    """Names of the units among ``units`` the directory knows, by id (one query)."""
    return {unit: name for unit, name in DisplayNames().load(units=units).units.items() if name}


def person_names(usernames: Iterable[str | None]) -> dict[str, str]:
    """Display names of the people among ``usernames`` the directory knows, by username (one query)."""
    return {username: name for username, name in DisplayNames().load(people=usernames).people.items() if name}


def _uuid(value: UUID | str | None) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None

def units_at(ids: Iterable[UUID], at: datetime, known_at: datetime) -> dict[UUID, UnitVersion]:
    """Each unit's name, district and 属地派出所 at ``at`` as known at ``known_at``. A unit registered after
    ``known_at`` (a report of a moment before it was entered) is read as the directory knows it now at ``at``."""
    wanted = set(ids)
    found = {row.unit: row for row in UnitVersion.objects.filter(in_force(at, known_at), unit__in=wanted)}
    missing = wanted - found.keys()
    if missing:
        found.update(
            (row.unit, row) for row in UnitVersion.objects.filter(in_force(at, timezone.now()), unit__in=missing)
        )
    return found


def names_at(ids: Iterable[UUID], at: datetime, known_at: datetime) -> dict[UUID, str]:
    """Units' names as they were at ``at`` (as known at ``known_at``), else as they are now."""
    wanted = set(ids)
    names = dict(UnitView.objects.filter(id__in=wanted).values_list("id", "name"))
    names.update((unit, row.name) for unit, row in units_at(wanted, at, known_at).items())
    return names


class StaffDirectoryView:
    """The domain's ``StaffDirectory`` port, answered from the bitemporal staff intervals."""

    def holders(self, unit: UUID, role: Role, at: datetime, known_at: datetime) -> list[str]:
        return holders(unit, role.value, at, known_at)

    def appointment(self, username: str, at: datetime, known_at: datetime) -> tuple[UUID | None, Role] | None:
        row = appointment_at(username, at, known_at)
        return (row.unit, Role(row.role)) if row is not None else None
