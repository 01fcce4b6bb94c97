"""The unit directory: units (学校、派出所、教育局、公安局) and staff whose roles change over time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import EffectiveFromOutOfOrder, InvalidValue, RoleNotForUnit, StaffAlreadyLeft
from domain.eventversions import added, versions
from domain.policy import Role, UnitKind, role_fits_unit

STAFF_NAMESPACE = uuid5(NAMESPACE_URL, "school-safety/staff")


@versions(
    Registered=[added(code="")],  # no school code before codes existed
    Changed=[added(code=None)],  # None: unchanged, as in every change recorded before codes could change
)
class Unit(Aggregate):
    """A registered unit; schools name their 属地派出所 (police station)."""

    @event("Registered")
    def __init__(
        self,
        *,
        kind: str,
        name: str,
        district: str,
        parent: UUID | None,
        police_station: UUID | None,
        stage: str,
        boarding: bool,
        actor: str,
        occurred_at: datetime,
        code: str = "",  # "" in version 1 events, recorded before school codes existed (upcast)
    ) -> None:
        self.kind = UnitKind(kind)
        self.name = name
        self.code = code
        self.district = district
        self.parent = parent
        self.police_station = police_station
        self.stage = stage
        self.boarding = boarding
        self.changed_from: datetime | None = None  # the latest change's effective_from
        self.last_occurred_at = occurred_at

    @classmethod
    def register(
        cls,
        *,
        kind: UnitKind,
        name: str,
        district: str,
        parent: Unit | None,
        police_station: Unit | None,
        stage: str,
        boarding: bool,
        actor: str,
        occurred_at: datetime,
        code: str = "",
    ) -> Unit:
        if not name.strip():
            raise InvalidValue("单位名称不能为空", field="name")
        code = school_code(code, kind)
        if kind is UnitKind.SCHOOL:
            if police_station is None or police_station.kind is not UnitKind.POLICE_STATION:
                raise InvalidValue("学校必须指定属地派出所", field="police_station")
        elif police_station is not None:
            raise InvalidValue("只有学校可以指定属地派出所", field="police_station")
        return cls(
            kind=kind.value,
            name=name.strip(),
            district=district.strip(),
            parent=parent.id if parent else None,
            police_station=police_station.id if police_station else None,
            stage=stage,
            boarding=boarding,
            actor=actor,
            occurred_at=occurred_at,
            code=code,
        )

    def change(
        self,
        *,
        name: str | None,
        district: str | None,
        police_station: Unit | None,
        effective_from: datetime,
        actor: str,
        occurred_at: datetime,
        code: str | None = None,
    ) -> None:
        """A new name, district, 属地派出所 or school code from ``effective_from`` (business time) on; what held
        before stays what reports of an earlier moment show. Changes come in business-time order, like
        appointments. A new code prefixes the hazards discovered after it; numbers given before stay."""
        new_code = self.code if code is None else school_code(code, self.kind)
        new_name = self.name if name is None else name.strip()
        new_district = self.district if district is None else district.strip()
        new_station = self.police_station if police_station is None else police_station.id
        if not new_name:
            raise InvalidValue("单位名称不能为空", field="name")
        if police_station is not None and (
            self.kind is not UnitKind.SCHOOL or police_station.kind is not UnitKind.POLICE_STATION
        ):
            raise InvalidValue("只有学校可以指定属地派出所，且须为派出所", field="police_station")
        if (new_name, new_district, new_station, new_code) == (
            self.name,
            self.district,
            self.police_station,
            self.code,
        ):
            raise InvalidValue("没有要变更的内容", field="name")
        if self.changed_from is not None and effective_from < self.changed_from:
            raise EffectiveFromOutOfOrder(
                "生效时间不能早于该单位最近一次变更", effective_from=effective_from.isoformat()
            )
        self._changed(
            name=new_name,
            district=new_district,
            police_station=new_station,
            effective_from=effective_from,
            actor=actor,
            occurred_at=occurred_at,
            code=None if new_code == self.code else new_code,
        )

    @event("Changed")
    def _changed(
        self,
        *,
        name: str,
        district: str,
        police_station: UUID | None,
        effective_from: datetime,
        actor: str,
        occurred_at: datetime,
        code: str | None = None,  # None: unchanged (and in version 1 events, before codes could change)
    ) -> None:
        self.name, self.district, self.police_station = name, district, police_station
        if code is not None:
            self.code = code
        self.changed_from = effective_from
        self.last_occurred_at = occurred_at


SCHOOL_CODE = re.compile(r"[A-Z0-9]{1,10}")
DEFAULT_CODE = re.compile(r"S[0-9]+")  # kept for the codes the directory gives schools registered without one


def school_code(code: str, kind: UnitKind) -> str:
    """A school's short code (学校代码, the prefix of its hazard numbers), upper-cased; "" for none given."""
    code = code.strip().upper()
    if not code:
        return ""
    if kind is not UnitKind.SCHOOL:
        raise InvalidValue("只有学校可以登记学校代码", field="code")
    if not SCHOOL_CODE.fullmatch(code):
        raise InvalidValue("学校代码只能由1至10位字母或数字组成", field="code", value=code)
    if DEFAULT_CODE.fullmatch(code):
        raise InvalidValue("“S+数字”形式的代码留作系统默认代码，请另选", field="code", value=code)
    return code


def default_code(taken: set[str]) -> str:
    """The first "S001", "S002", … not among ``taken``: a school registered without a code gets one, in the
    order the directory registers the schools of its district."""
    n = len(taken) + 1
    while f"S{n:03d}" in taken:
        n += 1
    return f"S{n:03d}"


@dataclass(frozen=True)
class Appointment:
    """One interval of a person holding a role in a unit, from ``effective_from``."""

    unit: UUID | None
    role: Role | None  # None: left (离任)
    effective_from: datetime


def staff_id(username: str) -> UUID:
    return uuid5(STAFF_NAMESPACE, username)


@versions()  # every event class at version 1
class Staff(Aggregate):
    """A person and the roles they held over time; answers "who was 校长 on 7/20"."""

    @staticmethod
    def create_id(username: str, **_: object) -> UUID:
        return staff_id(username)

    @event("Appointed")
    def __init__(
        self,
        *,
        username: str,
        display_name: str,
        phone: str,
        unit: UUID | None,
        role: str,
        effective_from: datetime,
        actor: str,
        occurred_at: datetime,
    ) -> None:
        self.username = username
        self.display_name = display_name
        self.phone = phone
        self.appointments = [Appointment(unit, Role(role), effective_from)]
        self.last_occurred_at = occurred_at

    @classmethod
    def appoint(
        cls,
        *,
        username: str,
        display_name: str,
        phone: str,
        unit_id: UUID | None,
        unit_kind: UnitKind | None,
        role: Role,
        effective_from: datetime,
        actor: str,
        occurred_at: datetime,
    ) -> Staff:
        _check_role_fits(role, unit_kind)
        if not username.strip():
            raise InvalidValue("用户名不能为空", field="username")
        return cls(
            username=username,
            display_name=display_name,
            phone=phone,
            unit=unit_id,
            role=role.value,
            effective_from=effective_from,
            actor=actor,
            occurred_at=occurred_at,
        )

    @property
    def current(self) -> Appointment:
        return self.appointments[-1]

    @property
    def has_left(self) -> bool:
        return self.current.role is None

    def appointment_at(self, moment: datetime) -> Appointment | None:
        """The appointment in force at ``moment`` (None before the first one or after leaving)."""
        found = None
        for appointment in self.appointments:
            if appointment.effective_from <= moment:
                found = appointment
        return found if found is not None and found.role is not None else None

    def change_role(
        self,
        *,
        unit_id: UUID | None,
        unit_kind: UnitKind | None,
        role: Role,
        effective_from: datetime,
        actor: str,
        occurred_at: datetime,
    ) -> None:
        _check_role_fits(role, unit_kind)
        self._check_effective_from(effective_from)
        self._role_changed(
            unit=unit_id, role=role.value, effective_from=effective_from, actor=actor, occurred_at=occurred_at
        )

    @event("RoleChanged")
    def _role_changed(
        self, *, unit: UUID | None, role: str, effective_from: datetime, actor: str, occurred_at: datetime
    ) -> None:
        self.appointments.append(Appointment(unit, Role(role), effective_from))
        self.last_occurred_at = occurred_at

    def leave(self, *, effective_from: datetime, actor: str, occurred_at: datetime) -> None:
        self._check_effective_from(effective_from)
        self._left(effective_from=effective_from, actor=actor, occurred_at=occurred_at)

    @event("Left")
    def _left(self, *, effective_from: datetime, actor: str, occurred_at: datetime) -> None:
        self.appointments.append(Appointment(None, None, effective_from))
        self.last_occurred_at = occurred_at

    def _check_effective_from(self, effective_from: datetime) -> None:
        if self.has_left:
            raise StaffAlreadyLeft(username=self.username)
        if effective_from < self.current.effective_from:
            raise EffectiveFromOutOfOrder(effective_from=effective_from.isoformat())


def _check_role_fits(role: Role, unit_kind: UnitKind | None) -> None:
    if role is Role.SYSTEM:
        raise InvalidValue("不能任命系统角色", field="role")
    if unit_kind is None:
        if role not in (Role.AUDITOR, Role.ADMIN):
            raise RoleNotForUnit("该角色必须属于某个单位", role=role.value)
        return
    if not role_fits_unit(role, unit_kind):
        raise RoleNotForUnit(role=role.value, unit_kind=unit_kind.value)
