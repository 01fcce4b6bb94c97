"""Roles, unit kinds and who may act (DESIGN §5 "Who may act"): pure rules over an Actor."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.errors import NotPermitted, ReadOnlyRole


class UnitKind(StrEnum):
    CITY_EDU_BUREAU = "city_edu_bureau"
    DISTRICT_EDU_BUREAU = "district_edu_bureau"
    SCHOOL = "school"
    CITY_POLICE_BUREAU = "city_police_bureau"
    POLICE_STATION = "police_station"


class Role(StrEnum):
    SCHOOL_STAFF = "school_staff"
    SCHOOL_PRINCIPAL = "school_principal"
    STATION_OFFICER = "station_officer"
    STATION_CHIEF = "station_chief"
    EDU_INSPECTOR = "edu_inspector"
    EDU_LEADER = "edu_leader"
    POLICE_OFFICER = "police_officer"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SYSTEM = "system"


ROLE_LABELS: dict[Role, str] = {
    Role.SCHOOL_STAFF: "学校工作人员",
    Role.SCHOOL_PRINCIPAL: "校长",
    Role.STATION_OFFICER: "派出所民警",
    Role.STATION_CHIEF: "所长",
    Role.EDU_INSPECTOR: "教育局督查人员",
    Role.EDU_LEADER: "教育局领导",
    Role.POLICE_OFFICER: "市公安局民警",
    Role.AUDITOR: "审计/督导人员",
    Role.ADMIN: "系统管理员",
    Role.SYSTEM: "系统",
}

UNIT_KIND_LABELS: dict[UnitKind, str] = {
    UnitKind.CITY_EDU_BUREAU: "市教育局",
    UnitKind.DISTRICT_EDU_BUREAU: "区教育局",
    UnitKind.SCHOOL: "学校",
    UnitKind.CITY_POLICE_BUREAU: "市公安局",
    UnitKind.POLICE_STATION: "派出所",
}

SCHOOL_ROLES = frozenset({Role.SCHOOL_STAFF, Role.SCHOOL_PRINCIPAL})
STATION_ROLES = frozenset({Role.STATION_OFFICER, Role.STATION_CHIEF})
EDU_BUREAU_ROLES = frozenset({Role.EDU_INSPECTOR, Role.EDU_LEADER})
BUREAU_ROLES = EDU_BUREAU_ROLES | {Role.POLICE_OFFICER}
EDU_BUREAU_KINDS = frozenset({UnitKind.CITY_EDU_BUREAU, UnitKind.DISTRICT_EDU_BUREAU})
BUREAU_KINDS = EDU_BUREAU_KINDS | {UnitKind.CITY_POLICE_BUREAU}
POLICE_KINDS = frozenset({UnitKind.CITY_POLICE_BUREAU, UnitKind.POLICE_STATION})

# Which roles a person may hold in which kind of unit; auditors and admins sit in any unit.
ROLES_BY_UNIT_KIND: dict[UnitKind, frozenset[Role]] = {
    UnitKind.SCHOOL: SCHOOL_ROLES,
    UnitKind.POLICE_STATION: STATION_ROLES,
    UnitKind.CITY_EDU_BUREAU: EDU_BUREAU_ROLES,
    UnitKind.DISTRICT_EDU_BUREAU: EDU_BUREAU_ROLES,
    UnitKind.CITY_POLICE_BUREAU: frozenset({Role.POLICE_OFFICER}),
}
UNIT_INDEPENDENT_ROLES = frozenset({Role.AUDITOR, Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    """The user acting, with the role and unit they hold at the time of the command."""

    username: str
    role: Role
    unit: UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_bureau(self) -> bool:
        return self.role in BUREAU_ROLES


SYSTEM_ACTOR = Actor(username="system", role=Role.SYSTEM)


def role_fits_unit(role: Role, kind: UnitKind) -> bool:
    return role in UNIT_INDEPENDENT_ROLES or role in ROLES_BY_UNIT_KIND[kind]


def require_role(actor: Actor, allowed: frozenset[Role] | set[Role], action: str) -> None:
    """Refuse unless the actor holds one of the allowed roles (admins may do everything but sign)."""
    if actor.role is Role.AUDITOR:
        raise ReadOnlyRole()
    if actor.is_admin or actor.role in allowed:
        return
    raise NotPermitted(f"当前角色无权{action}", role=actor.role.value, action=action)


def require_writer(actor: Actor) -> None:
    if actor.role is Role.AUDITOR:
        raise ReadOnlyRole()


@dataclass(frozen=True)
class Requirement:
    """Who may run a command, judged from the actor alone: the API checks it before reading the command's input,
    so a caller without the right gets 403 — not a 400 about the body, nor a 409 about the target."""

    roles: frozenset[Role]
    action: str

    def check(self, actor: Actor) -> None:
        require_role(actor, self.roles, self.action)


ADMINS_ONLY: frozenset[Role] = frozenset()  # require_role lets admins do everything but sign
REGISTER_UNIT = Requirement(ADMINS_ONLY, "登记单位")
CHANGE_UNIT = Requirement(ADMINS_ONLY, "变更单位名称、区域或属地派出所")
CREATE_USER = Requirement(ADMINS_ONLY, "创建用户")
CHANGE_ROLE = Requirement(ADMINS_ONLY, "调整任职")
DEACTIVATE_USER = Requirement(ADMINS_ONLY, "停用用户")
RESET_PASSWORD = Requirement(ADMINS_ONLY, "重置他人密码")
LAUNCH_CAMPAIGN = Requirement(EDU_BUREAU_ROLES, "发起专项排查")
AMEND_CAMPAIGN = Requirement(EDU_BUREAU_ROLES, "修改专项排查")  # and only the issuing bureau's (judged on the campaign)
