"""The directory's commands: units (学校、主管部门、派出所) and staff appointments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from domain.core import Core
from domain.directory.account import Account, account_id
from domain.directory.aggregate import Staff, Unit, school_code, staff_id
from domain.errors import (
    AlreadyExists,
    InvalidValue,
    SchoolCodeTaken,
    StaffNotFound,
    UnitNotFound,
)
from domain.policy import (
    CHANGE_ROLE,
    CHANGE_UNIT,
    CREATE_USER,
    DEACTIVATE_USER,
    REGISTER_UNIT,
    RESET_PASSWORD,
    Actor,
    Role,
    UnitKind,
    require_writer,
)


class DirectoryCommands(Core):
    """Units and staff."""

    def register_unit(
        self,
        *,
        actor: Actor,
        kind: UnitKind,
        name: str,
        district: str = "",
        parent: UUID | None = None,
        police_station: UUID | None = None,
        stage: str = "",
        boarding: bool = False,
        code: str = "",
        code_in_use: Callable[[str, str], bool] | None = None,
        occurred_at: datetime | None = None,
    ) -> Unit:
        """``code_in_use(district, code)``: whether a school of the district already goes by the code (the
        directory's read model answers it; codes are unique within a district)."""
        REGISTER_UNIT.check(actor)
        when = self._when(occurred_at)
        unit = Unit.register(
            kind=kind,
            name=name,
            district=district,
            parent=self.get_unit(parent) if parent else None,
            police_station=self.get_unit(police_station) if police_station else None,
            stage=stage,
            boarding=boarding,
            actor=actor.username,
            occurred_at=when,
            code=code,
        )
        if unit.code and code_in_use is not None and code_in_use(unit.district, unit.code):
            raise SchoolCodeTaken(field="code", district=unit.district, value=unit.code)
        self._save(unit)
        return unit

    def change_unit(
        self,
        unit_id: UUID,
        *,
        actor: Actor,
        effective_from: datetime,
        name: str | None = None,
        district: str | None = None,
        police_station: UUID | None = None,
        code: str | None = None,
        code_in_use: Callable[[str, str], bool] | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Unit:
        """``code_in_use(district, code)`` as for ``register_unit``: a new code must be free in the unit's district."""
        CHANGE_UNIT.check(actor)
        current = self.get_unit(unit_id)  # 404 before the input is judged
        try:
            station = self.get_unit(police_station) if police_station else None
        except UnitNotFound:
            raise InvalidValue("属地派出所不存在", field="police_station") from None
        wanted = school_code(code, current.kind) if code is not None else ""
        target = current.district if district is None else district.strip()
        if wanted and wanted != current.code and code_in_use is not None and code_in_use(target, wanted):
            raise SchoolCodeTaken(field="code", district=target, value=wanted)
        return self._change(
            Unit,
            unit_id,
            UnitNotFound,
            expected_version,
            occurred_at,
            lambda unit, when: unit.change(
                name=name,
                district=district,
                police_station=station,
                code=code,
                effective_from=effective_from,
                actor=actor.username,
                occurred_at=when,
            ),
        )

    def appoint_staff(
        self,
        *,
        actor: Actor,
        username: str,
        display_name: str,
        phone: str,
        unit: UUID | None,
        role: Role,
        effective_from: datetime | None = None,
        occurred_at: datetime | None = None,
    ) -> Staff:
        CREATE_USER.check(actor)
        when = self._when(occurred_at)
        if self._exists(staff_id(username)):
            raise AlreadyExists("用户名已存在", username=username)
        staff = Staff.appoint(
            username=username,
            display_name=display_name,
            phone=phone,
            unit_id=unit,
            unit_kind=self.get_unit(unit).kind if unit else None,
            role=role,
            effective_from=effective_from or when,
            actor=actor.username,
            occurred_at=when,
        )
        self._save(staff, conflict=AlreadyExists("用户名已存在", username=username))
        return staff

    def change_role(
        self,
        *,
        actor: Actor,
        username: str,
        unit: UUID | None,
        role: Role,
        effective_from: datetime | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Staff:
        CHANGE_ROLE.check(actor)
        unit_kind = self.get_unit(unit).kind if unit else None
        return self._change(
            Staff,
            staff_id(username),
            StaffNotFound,
            expected_version,
            occurred_at,
            lambda staff, when: staff.change_role(
                unit_id=unit,
                unit_kind=unit_kind,
                role=role,
                effective_from=effective_from or when,
                actor=actor.username,
                occurred_at=when,
            ),
        )

    def deactivate_staff(
        self,
        *,
        actor: Actor,
        username: str,
        effective_from: datetime | None = None,
        occurred_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Staff:
        DEACTIVATE_USER.check(actor)
        return self._change(
            Staff,
            staff_id(username),
            StaffNotFound,
            expected_version,
            occurred_at,
            lambda staff, when: staff.leave(
                effective_from=effective_from or when, actor=actor.username, occurred_at=when
            ),
        )

    def record_password_change(self, *, actor: Actor, username: str, occurred_at: datetime | None = None) -> Account:
        """Record that ``username``'s password changed: their own change (any role, auditors included: it is their
        login, not the ledger), or an administrator's reset of another's. The password is set in Django's auth
        table by the caller, in the same transaction; the event holds neither it nor its hash (``Account``)."""
        if actor.username != username:
            RESET_PASSWORD.check(actor)
        account, when = self._account(username, actor, occurred_at)
        if actor.username == username:
            account.change_password(actor=actor.username, occurred_at=when)
        else:
            account.reset_password(actor=actor.username, occurred_at=when)
        self._save(account)
        return account

    def acknowledge_notice(
        self, *, actor: Actor, hazard: UUID, hazard_version: int, occurred_at: datetime | None = None
    ) -> datetime:
        """签收 the notice caused by the hazard's event ``hazard_version``: when it was signed for (the first time —
        a second 签收 records nothing and answers the same). Whether the notice is addressed to the actor is the
        caller's to judge (its read model finds the notices of an actor); read-only roles do not sign."""
        require_writer(actor)
        account, when = self._account(actor.username, actor, occurred_at)
        signed = account.acknowledged_at(hazard, hazard_version)
        if signed is not None:
            return signed
        account.acknowledge(
            hazard=hazard,
            hazard_version=hazard_version,
            unit=actor.unit,
            role=actor.role.value,
            actor=actor.username,
            occurred_at=when,
        )
        self._save(account)
        return when

    def get_account(self, username: str) -> Account | None:
        """The user's account record, None before its first event."""
        if not self._exists(account_id(username)):
            return None
        return self._load(Account, account_id(username), StaffNotFound)

    def _account(self, username: str, actor: Actor, occurred_at: datetime | None) -> tuple[Account, datetime]:
        """The user's account, opened by this command when it has none yet (saved with the command's event)."""
        account = self.get_account(username)
        when = self._when(occurred_at, latest=account.last_occurred_at if account else None)
        if account is None:
            account = Account.open(username=username, actor=actor.username, occurred_at=when)
        return account, when
