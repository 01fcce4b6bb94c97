"""DESIGN §5 as one table: every role × every /api/v1/ endpoint × own school / other school / other station /
other district, answered 200/201/204, 401, 403 or 404 as §5 says; police-only content (§6) only for police units;
deactivated users and revoked tokens refused. Reports and submissions also take two units as targets: one above
the caller (their district bureau, the city police bureau) and one their content merely mentions (a school's
station); none of their answers may name a school, or hold a hazard of one, that the caller may not see.

The table lists every URL pattern and method of the API (derived from the URL resolver: an endpoint without a
row fails ``test_every_api_endpoint_and_method_has_a_row``). One test per row walks all users × relations and
lists every cell that differs, so a regression shows as a readable diff of the matrix.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils.timezone import now
from PIL import Image
from reporthelpers import pdf_text
from rest_framework.test import APIClient

from api import demo
from api.jointforms.service import cutoff_counts
from api.services import execute
from domain.application import SafetyApplication
from domain.campaign.templates import get_template
from domain.hazard.aggregate import Severity
from domain.inspection.aggregate import InspectionKind
from domain.policy import Actor, Role, UnitKind
from domain.timerules import business_date
from projections.attachmentmedia import process
from projections.attachments import store_upload

from apihelpers import API, POLICE_FILLED, SCHOOL_FILLED, ok, refused

pytestmark = pytest.mark.usefixtures("rectify_without_photo")  # roles and scope here; photos: test_attach_photos.py

Login = Callable[[str], APIClient]
SECRET = "线索：校门口有可疑人员（机密-MATRIX-0417）"
FAR = date(2099, 1, 1)

# --- who is who (the demo district of api/demo.py, plus a second district) -----------------------------

ROLES: dict[str, str] = {name: role.value for name, _, _, role in demo.STAFF} | {"admin": "admin", "anonymous": ""}
USERS = tuple(ROLES)  # every demo login, the superuser, and nobody signed in
POLICE = {"hm_officer", "hm_chief", "ql_chief", "cz_police"}  # users of police units (§6 police-only content)

SCHOOL = frozenset({"school_staff", "school_principal"})
STATION = frozenset({"station_officer", "station_chief"})
EDU_BUREAU = frozenset({"edu_inspector", "edu_leader"})
BUREAU = EDU_BUREAU | {"police_officer"}
ADMIN = frozenset({"admin"})
PARTY = SCHOOL | STATION  # the two parties of a joint form; an admin is neither (§6), so never fills or signs
SIGNERS = frozenset({"school_principal", "station_chief"})
READERS = None  # every signed-in user, the auditor included

# Relations of the target to the user: the user's own school; another school (of the same 属地派出所 where there
# is one: 兰陵幼儿园 shares 红梅派出所 with 红梅实验小学); a school of another station; a school of 武进区.
RELATIONS = ("own", "other_school", "other_station", "other_district")
HOME = {name: "hongmei_school" for name in USERS} | {
    "ql_principal": "qinglong_school", "ql_staff": "qinglong_school", "ql_chief": "qinglong_school",
    "lh_principal": "lanling_school",
}
TARGETS = {
    "hongmei_school": ("hongmei_school", "lanling_school", "qinglong_school", "hutang_school"),
    "lanling_school": ("lanling_school", "hongmei_school", "qinglong_school", "hutang_school"),
    "qinglong_school": ("qinglong_school", "hongmei_school", "lanling_school", "hutang_school"),
}
TIANNING = {"hongmei_school", "lanling_school", "qinglong_school"}
ALL_SCHOOLS = TIANNING | {"hutang_school"}
# §5: a school sees itself, a station the schools it is 属地派出所 of, a district bureau its district, the city
# police bureau everything under it; auditors and the admin everything.
VISIBLE: dict[str, set[str]] = {
    "hm_principal": {"hongmei_school"}, "hm_staff": {"hongmei_school"}, "hm_staff2": {"hongmei_school"},
    "ql_principal": {"qinglong_school"}, "ql_staff": {"qinglong_school"}, "lh_principal": {"lanling_school"},
    "hm_officer": {"hongmei_school", "lanling_school"}, "hm_chief": {"hongmei_school", "lanling_school"},
    "ql_chief": {"qinglong_school"}, "tn_inspector": TIANNING, "tn_leader": TIANNING,
    "cz_police": ALL_SCHOOLS, "auditor": ALL_SCHOOLS, "admin": ALL_SCHOOLS, "anonymous": set(),
}

# The people of each school: who owns its hazards, who takes them over, who heads it, its station, its bureau.
PEOPLE: dict[str, dict[str, str]] = {
    "hongmei_school": {"owner": "hm_staff", "next_owner": "hm_staff2", "principal": "hm_principal",
                       "officer": "hm_officer", "chief": "hm_chief", "bureau": "tn_inspector",
                       "leader": "tn_leader", "subject": "hm_staff2"},
    "lanling_school": {"owner": "lh_staff", "next_owner": "lh_principal", "principal": "lh_principal",
                       "officer": "hm_officer", "chief": "hm_chief", "bureau": "tn_inspector",
                       "leader": "tn_leader", "subject": "lh_staff"},
    "qinglong_school": {"owner": "ql_staff", "next_owner": "ql_principal", "principal": "ql_principal",
                        "officer": "ql_chief", "chief": "ql_chief", "bureau": "tn_inspector",
                        "leader": "tn_leader", "subject": "ql_staff"},
    "hutang_school": {"owner": "ht_staff", "next_owner": "ht_principal", "principal": "ht_principal",
                      "officer": "ht_chief", "chief": "ht_chief", "bureau": "wj_inspector",
                      "leader": "wj_inspector", "subject": "ht_staff"},
}
STATION_OF = {"hongmei_school": "hongmei_station", "lanling_school": "hongmei_station",
              "qinglong_school": "qinglong_station", "hutang_school": "hutang_station"}
BUREAU_OF = {school: "district_bureau" for school in TIANNING} | {"hutang_school": "wujin_bureau"}
DISTRICT_OF = {school: "天宁区" for school in TIANNING} | {"hutang_school": "武进区"}

# Reports and submissions: two more relations, to units rather than schools (issue 13). "above": a unit above the
# caller (for those with none, the other city bureau; for auditors and the admin, who answer for every unit, the
# city police bureau); "mentioned": a unit the caller's content names without their answering for it.
UNIT_RELATIONS = ("above", "mentioned")
CITY = {"city_police", "city_edu"}
STATIONS = {"hongmei_station", "qinglong_station"}
DISTRICT_OF |= {unit: "天宁区" for unit in (*CITY, *STATIONS, "district_bureau")}
OWN_UNIT: dict[str, str] = {name: unit for name, _, unit, _ in demo.STAFF if unit}
ABOVE: dict[str, str] = {
    "hm_principal": "district_bureau", "hm_staff": "city_police", "hm_staff2": "district_bureau",
    "ql_principal": "district_bureau", "ql_staff": "city_police", "lh_principal": "city_police",
    "hm_officer": "city_police", "hm_chief": "city_police", "ql_chief": "city_police",
    "tn_inspector": "city_police", "tn_leader": "city_police", "cz_police": "city_edu",
    "auditor": "city_police", "admin": "city_police", "anonymous": "district_bureau",
}
MENTIONED: dict[str, str] = {
    "hm_principal": "hongmei_station", "hm_staff": "hongmei_station", "hm_staff2": "hongmei_station",
    "ql_principal": "qinglong_station", "ql_staff": "qinglong_station", "lh_principal": "hongmei_station",
    "hm_officer": "district_bureau", "hm_chief": "district_bureau", "ql_chief": "district_bureau",
    "tn_inspector": "hongmei_station", "tn_leader": "qinglong_station", "cz_police": "hongmei_station",
    "auditor": "hongmei_station", "admin": "hongmei_station", "anonymous": "hongmei_station",
}
# Who sends a unit's own submission (a 附件2 of 天宁区), and the recipients of 天宁区's campaign.
SUBMITTER = {"district_bureau": "tn_inspector", "city_police": "cz_police", "city_edu": "ce_inspector",
             "hongmei_station": "hm_chief", "qinglong_station": "ql_chief"}
RECIPIENTS = {"district_bureau", "city_police"}
SCHOOL_NAMES = {"hongmei_school": "红梅实验小学", "lanling_school": "兰陵幼儿园", "qinglong_school": "青龙中学",
                "hutang_school": "湖塘小学"}


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(out, format="PNG")
    return out.getvalue()


def mark(school: str) -> str:
    """Written into every hazard of the school: finding it in an answer means the answer holds that hazard."""
    return f"〔矩阵-{school}〕"


def sees_school(user: str, school: str) -> bool:
    return school in VISIBLE[user]


def sees_campaign(user: str, school: str) -> bool:
    """The campaign of the school's district: every user of that district, and the city-wide ones."""
    return any(DISTRICT_OF[seen] == DISTRICT_OF[school] for seen in VISIBLE[user])


def sees_unit(user: str, target: str) -> bool:
    """§5's visible units: the schools in scope, their stations, the user's district bureau and the city bureaus."""
    if target in ALL_SCHOOLS or not VISIBLE[user]:
        return sees_school(user, target)
    if VISIBLE[user] == ALL_SCHOOLS:
        return True
    return target in {STATION_OF[s] for s in VISIBLE[user]} | {"district_bureau"} | CITY


def in_charge(user: str, target: str) -> bool:
    """A unit the user answers for (填报单位): their own and those below it; any for auditors and the admin."""
    if ROLES[user] in ("auditor", "admin"):
        return True
    own = OWN_UNIT.get(user)
    if target == own:
        return True
    if own in CITY:
        return target not in CITY
    return target in ALL_SCHOOLS and sees_school(user, target)


def unit_in_charge(user: str, target: str) -> int | None:
    """A report's 填报单位 that the user sees but does not answer for (above or beside them): 403."""
    return None if in_charge(user, target) else 403


def names_a_school(user: str, target: str) -> int | None:
    """``school`` naming a unit that is no school: 400 (once it is seen at all)."""
    return None if target in ALL_SCHOOLS else 400


def sees_submission(user: str, target: str) -> bool:
    """A submission is seen by its unit and those above, the campaign's recipients, auditors and the admin; a
    school's submission went to 天宁区's or 武进区's bureau and the city police, which see the school anyway."""
    if target in ALL_SCHOOLS:
        return sees_school(user, target)
    return user != "anonymous" and (in_charge(user, target) or OWN_UNIT.get(user) in RECIPIENTS)


def submits_as_own(user: str, target: str) -> int | None:
    """A submission is sent in the user's own unit's name (the admin's in any): a school's target is the
    school's 台账 without ``unit``; naming a unit above or beside is 403."""
    return None if target in ALL_SCHOOLS or user == "admin" else 403


def owner_or_principal(user: str, school: str) -> int | None:
    """plan / interim measures / progress / rectify: the current owner may, besides the roles of the row."""
    return 200 if user == PEOPLE[school]["owner"] else None


def uploader_alone(user: str, school: str) -> int:
    """An upload no command references yet is seen by its uploader (the school's owner here) alone."""
    return 200 if user == PEOPLE[school]["owner"] else 404


def police_line(user: str, school: str) -> int | None:
    """The police line's copy carries police-only content: it does not exist for anyone else."""
    return None if user in POLICE else 404


# --- the objects each cell acts on ---------------------------------------------------------------------


class Targets:
    """The demo district plus 武进区, and objects at each school made on demand through the application.

    A cell that must succeed gets a fresh object (a success changes it); refused cells share one per school.
    """

    def __init__(self, app: SafetyApplication, world: demo.World, login: Login) -> None:
        self.app, self.world, self.login = app, world, login
        self.units: dict[str, UUID] = dict(world.units)
        self.actors: dict[str, Actor] = {name: world.actor(name) for name, *_ in demo.STAFF}
        self.shared: dict[tuple[str, ...], str] = {}
        self.serial = 0
        self._second_district()
        assert world.campaign is not None
        self.campaigns = {"天宁区": world.campaign, "武进区": self._launch("hutang_school")}

    def _second_district(self) -> None:
        """武进区: its bureau, a station, a school and their people; a second staff member at 兰陵幼儿园."""
        admin, register = demo.ADMIN, self.app.register_unit
        self.units["wujin_bureau"] = register(
            actor=admin, kind=UnitKind.DISTRICT_EDU_BUREAU, name="武进区教育局", district="武进区").id
        self.units["hutang_station"] = register(
            actor=admin, kind=UnitKind.POLICE_STATION, name="湖塘派出所", district="武进区",
            parent=self.units["city_police"]).id
        self.units["hutang_school"] = register(
            actor=admin, kind=UnitKind.SCHOOL, name="湖塘小学", district="武进区", parent=self.units["wujin_bureau"],
            police_station=self.units["hutang_station"], stage="小学").id
        self.units["city_edu"] = register(actor=admin, kind=UnitKind.CITY_EDU_BUREAU, name="常州市教育局").id
        for username, unit, role in (
            ("wj_inspector", "wujin_bureau", Role.EDU_INSPECTOR),
            ("ht_principal", "hutang_school", Role.SCHOOL_PRINCIPAL),
            ("ht_staff", "hutang_school", Role.SCHOOL_STAFF),
            ("ht_chief", "hutang_station", Role.STATION_CHIEF),
            ("lh_staff", "lanling_school", Role.SCHOOL_STAFF),
            ("ce_inspector", "city_edu", Role.EDU_INSPECTOR),
        ):
            self.app.appoint_staff(actor=admin, username=username, display_name=username, phone="0519-85680000",
                                   unit=self.units[unit], role=role)
            self.actors[username] = Actor(username=username, role=role, unit=self.units[unit])
        for username in ("ht_principal", "ce_inspector"):  # they submit over HTTP
            get_user_model().objects.create_user(username, password=demo.DEMO_PASSWORD)

    def person(self, school: str, who: str) -> Actor:
        return self.actors[PEOPLE[school][who]]

    def unit(self, key: str) -> str:
        return str(self.units[key])

    def next_name(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}{self.serial}"

    def spare_unit(self, school: str, fresh: bool) -> str:
        """A school of the same district and station, for a change of name (the demo schools keep theirs)."""
        return self.once(("spare", school), fresh, lambda: execute(lambda app: app.register_unit(
            actor=demo.ADMIN, kind=UnitKind.SCHOOL, name=self.next_name("矩阵备用小学"), district=DISTRICT_OF[school],
            parent=self.units[BUREAU_OF[school]], police_station=self.units[STATION_OF[school]])).id)

    def next_phase(self) -> list[dict[str, Any]]:
        """A phase no amendment has set yet, so that each allowed amendment changes the campaign."""
        self.serial += 1
        return [{"kind": "supervision", "start": None, "end": (FAR + timedelta(days=self.serial)).isoformat()}]

    def _launch(self, school: str) -> UUID:
        """A 常州-template campaign of the school's district bureau, reported to it and to the city police."""
        leader, template, today = self.person(school, "leader"), get_template("changzhou"), business_date(now())
        return execute(lambda app: app.launch_campaign(
            actor=leader, title=self.next_name("矩阵专项排查"), document_no="", template=template.key,
            checklist=[{"code": i.code, "title": i.title, "category": i.category} for i in template.items],
            phases=[], statistics_cutoff=today + timedelta(days=40), report_deadline=today + timedelta(days=47),
            scope=[], recipients=[leader.unit, self.units["city_police"]],
        )).id

    def campaign(self, school: str) -> str:
        return str(self.campaigns[DISTRICT_OF[school]])

    def once(self, key: tuple[str, ...], fresh: bool, make: Callable[[], Any]) -> str:
        if fresh:
            return str(make())
        if key not in self.shared:
            self.shared[key] = str(make())
        return self.shared[key]

    def hazard(self, school: str, status: str = "reported", fresh: bool = False) -> str:
        return self.once(("hazard", school, status), fresh, lambda: self._hazard(school, status))

    def _hazard(self, school: str, status: str) -> UUID:
        """A general hazard found by the school's owner, taken as far as ``status``."""
        owner, unit, campaign = self.person(school, "owner"), self.units[school], UUID(self.campaign(school))
        hazard = execute(lambda app: app.discover_hazard(
            actor=owner, campaign=campaign, school=unit, description=f"矩阵：围墙破损{mark(school)}",
            severity=Severity.GENERAL)).id
        if status in ("assigned", "rectified", "closed"):
            execute(lambda app: app.assign_hazard(hazard, actor=self.person(school, "principal"), owner=owner.username,
                                                  owner_unit=unit, deadline=FAR))
        if status in ("rectified", "closed"):
            execute(lambda app: app.rectify_hazard(hazard, actor=owner, note="已修复"))
        if status == "closed":
            execute(lambda app: app.verify_hazard(hazard, actor=self.person(school, "bureau"), accepted=True))
        return hazard

    def inspection(self, school: str, fresh: bool = False) -> str:
        """A self-inspection by the school's owner, the auditor named an inspector too (still only reading)."""
        owner, campaign = self.person(school, "owner"), UUID(self.campaign(school))
        return self.once(("inspection", school), fresh, lambda: execute(lambda app: app.schedule_inspection(
            actor=owner, campaign=campaign, school=self.units[school], kind=InspectionKind.SELF,
            inspectors=[owner.username, "auditor"])).id)

    def form_campaign(self, school: str, fresh: bool = False) -> str:
        """A campaign in which the school has no joint form yet (one form per campaign and school)."""
        return self.once(("form-campaign", school), fresh, lambda: self._launch(school))

    def form(self, school: str, fresh: bool = False, signed: bool = False) -> str:
        return self.once(("form", school, str(signed)), fresh, lambda: self._form(school, signed))

    def _form(self, school: str, signed: bool) -> UUID:
        """A complete joint form with the station's police-only notes in it; signed by 校长 and 所长 when asked."""
        campaign, unit = UUID(self.form_campaign(school, fresh=True)), self.units[school]
        form = execute(lambda app: app.open_joint_form(actor=self.person(school, "owner"), campaign=campaign,
                                                       school=unit)).id
        # Every cell filled (a form is signed only when complete), the dormitory's too whatever the school.
        execute(lambda app: app.update_joint_form(form, actor=self.person(school, "owner"), changes={
            **SCHOOL_FILLED, "panic_button_dormitory": True}))
        execute(lambda app: app.update_joint_form(form, actor=self.person(school, "officer"), changes={
            **POLICE_FILLED, "sensitive_notes": SECRET, "surrounding_order_hotspots": "校门口流动摊贩"}))
        if signed:
            counts = cutoff_counts(campaign, unit)
            content_hash = self.app.get_joint_form(form).hash(counts)
            for who in ("principal", "chief"):
                signer = self.person(school, who)
                execute(lambda app, signer=signer: app.sign_joint_form(  # type: ignore[misc]
                    form, actor=signer, content_hash=content_hash, counts=counts))
        return form

    def attachment(self, school: str) -> str:
        """A photo uploaded by the school's owner (stored directly: not every owner has a login)."""
        owner = PEOPLE[school]["owner"]
        return self.once(("attachment", school), False, lambda: store_upload(
            process(photo()), uploaded_by=owner, filename="现场.png", caption="").id)

    def content_hash(self, form: str) -> str:
        return str(ok(self.login("admin").get(f"{API}joint-forms/{form}/"))["content_hash"])

    def submission(self, target: str) -> str:
        """A school's 台账 sent by its 校长 in the school's name, or a unit's 附件2 of 天宁区 sent in its own name
        (to the education and the police line)."""
        if target in ALL_SCHOOLS:
            sender = PEOPLE[target]["principal"]
            body = {"report": "school-ledger", "campaign": self.campaign(target), "school": self.unit(target)}
        else:
            sender = SUBMITTER[target]
            body = {"report": "changzhou-district-summary", "campaign": self.campaign(target), "district": "天宁区"}

        def make() -> str:
            return str(ok(self.login(sender).post(f"{API}submissions/", body, format="json"), 201)["id"])

        return self.once(("submission", target), False, make)

    def seed(self) -> None:
        """Something to leak at every school: a bureau's on-site check with its leaders that found a major hazard
        (counted by 附件1, listed by 附件2, a finding of 倒查追责 once unanswered for 24 hours)."""
        for school in sorted(ALL_SCHOOLS):
            self._found_onsite(school)

    def _found_onsite(self, school: str) -> None:
        bureau, campaign, unit = self.person(school, "bureau"), UUID(self.campaign(school)), self.units[school]
        onsite = execute(lambda app: app.schedule_inspection(
            actor=bureau, campaign=campaign, school=unit, kind=InspectionKind.ONSITE,
            inspectors=[bureau.username], leader_participated=True)).id
        execute(lambda app: app.discover_hazard(
            actor=bureau, campaign=campaign, school=unit, inspection=onsite, severity=Severity.MAJOR,
            description=f"矩阵：周界无报警{mark(school)}"))


# --- the table ---------------------------------------------------------------------------------------------

LISTED, HIDDEN = "listed", "hidden"  # what a list answers about the target, when it answers 200


@dataclass(frozen=True)
class Call:
    path: str  # under /api/v1/
    data: dict[str, Any] = field(default_factory=dict)  # JSON body, or query parameters of a GET
    target: str = ""  # for a list: the id that must be listed, or not
    multipart: bool = False  # the body is a form with a file (an upload)


Build = Callable[[Targets, str, str, bool], Call]  # targets, username, school, fresh → the request


@dataclass(frozen=True)
class Row:
    route: str  # the URL pattern under /api/v1/
    method: str
    build: Build
    variant: str = ""
    ok: int = 200
    who: frozenset[str] | None = READERS  # roles that may, within scope (admins only where named)
    sees: Callable[[str, str], bool] | None = sees_school  # None: the endpoint is not bound to a school
    outside: int = 404  # the answer out of scope: 404, or 403 for a school named in the body of a command
    listing: bool = False  # a list: out of scope means "not listed", not an error
    fresh: bool = False  # a success changes its target, so each allowed cell gets a new one
    rule: Callable[[str, str], int | None] | None = None  # a cell decided by more than the role
    anonymous: int = 401
    secret: str = "absent"  # police-only notes: "absent" for non-police users, "police" shown to police only
    units: bool = False  # also the UNIT_RELATIONS, and no answer names a school the user may not see

    @property
    def label(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.variant}]" if self.variant else "")


def expected(row: Row, user: str, school: str) -> int | str:
    if user == "anonymous":
        return row.anonymous
    if row.sees is not None and not row.sees(user, school):
        return HIDDEN if row.listing else row.outside
    decided = row.rule(user, school) if row.rule else None
    if decided is not None:
        return decided
    if row.who is not None and ROLES[user] not in row.who:
        return 403
    return LISTED if row.listing else row.ok


def own_field(user: str) -> dict[str, Any]:
    """A field of the user's own party (station users fill the police side)."""
    return {"surrounding_order_hotspots": "无"} if ROLES[user] in STATION else {"task_force_lead": "李安全"}


def other_field(user: str) -> dict[str, Any]:
    """A field of the other party: for school users the police-only notes themselves."""
    return {"task_force_lead": "越权"} if ROLES[user] in STATION else {"sensitive_notes": "覆盖"}


def command(name: str, status: str, body: Callable[[Targets, str], dict[str, Any]], **row: Any) -> Row:
    return Row(f"hazards/<str:pk>/{name}/", "POST", fresh=True, **row,
               build=lambda t, u, s, f: Call(f"hazards/{t.hazard(s, status, f)}/{name}/", body(t, s)))


def report(name: str, params: Callable[[Targets, str, str], dict[str, str]], variant: str = "", **row: Any) -> Row:
    return Row("reports/<str:name>/", "GET", variant=f"{name}{variant}", secret="never", **{"units": True, **row},
               build=lambda t, u, s, f: Call(f"reports/{name}/", {"format": "json", **params(t, u, s)}))


def by_unit(name: str, params: Callable[[Targets, str, str], dict[str, str]], variant: str = "") -> Row:
    """A report whose ``unit`` (填报单位) is the target: a school in scope, or a unit above or beside the user."""
    return report(name, params, variant, sees=sees_unit, rule=unit_in_charge)


def home(user: str, target: str) -> str:
    """The school whose objects a unit-targeted cell names: the target itself, or the user's own."""
    return target if target in ALL_SCHOOLS else HOME[user]


def campaign_unit(t: Targets, u: str, s: str) -> dict[str, str]:
    return {"campaign": t.campaign(s), "unit": t.unit(s)}


def campaign_school(t: Targets, u: str, s: str) -> dict[str, str]:
    return {"campaign": t.campaign(s), "school": t.unit(s)}


PRINCIPAL = frozenset({"school_principal"})
EVERYONE_BUT_AUDITOR = SCHOOL | STATION | BUREAU | ADMIN
ROWS: tuple[Row, ...] = (
    Row("", "GET", sees=None, anonymous=200, build=lambda t, u, s, f: Call("")),
    Row("auth/token/", "POST", sees=None, anonymous=400,
        build=lambda t, u, s, f: Call("auth/token/", {"username": u, "password": demo.DEMO_PASSWORD})),
    Row("auth/token/revoke/", "POST", ok=204, sees=None, build=lambda t, u, s, f: Call("auth/token/revoke/")),
    Row("schema/", "GET", sees=None, anonymous=200, build=lambda t, u, s, f: Call("schema/")),
    Row("docs/", "GET", sees=None, anonymous=200, build=lambda t, u, s, f: Call("docs/")),
    # unit directory: only the admin registers and appoints (§5)
    Row("units/", "GET", listing=True,
        build=lambda t, u, s, f: Call("units/", {"limit": 1000}, t.unit(s))),
    Row("units/", "POST", ok=201, who=ADMIN, sees=None, build=lambda t, u, s, f: Call("units/", {
        "kind": "school", "name": t.next_name("矩阵小学"), "district": DISTRICT_OF[s],
        "parent": t.unit(BUREAU_OF[s]), "police_station": t.unit(STATION_OF[s])})),
    Row("units/<str:pk>/staff/", "GET", build=lambda t, u, s, f: Call(f"units/{t.unit(s)}/staff/")),
    Row("units/<str:pk>/change/", "POST", who=ADMIN, sees=None, fresh=True, build=lambda t, u, s, f: Call(
        f"units/{t.spare_unit(s, f)}/change/", {"name": t.next_name("矩阵更名"), "effective_from": now().isoformat()})),
    Row("users/", "POST", ok=201, who=ADMIN, sees=None, build=lambda t, u, s, f: Call("users/", {
        "username": t.next_name("matrix_user_"), "password": "long-enough-1", "display_name": "新人",
        "unit": t.unit(s), "role": "school_staff"})),
    Row("users/<str:username>/role/", "POST", who=ADMIN, sees=None, build=lambda t, u, s, f: Call(
        f"users/{PEOPLE[s]['subject']}/role/", {"unit": t.unit(s), "role": "school_principal"})),
    Row("users/<str:username>/deactivate/", "POST", who=ADMIN, sees=None,
        build=lambda t, u, s, f: Call(f"users/{PEOPLE[s]['subject']}/deactivate/")),
    # campaigns: launched by an education bureau for schools in its scope; seen in the campaign's district
    Row("campaign-templates/", "GET", sees=None, build=lambda t, u, s, f: Call("campaign-templates/")),
    Row("campaigns/", "GET", listing=True, sees=sees_campaign,
        build=lambda t, u, s, f: Call("campaigns/", {"limit": 1000}, t.campaign(s))),
    Row("campaigns/", "POST", ok=201, who=EDU_BUREAU | ADMIN, outside=403, build=lambda t, u, s, f: Call(
        "campaigns/", {"title": "矩阵专项排查", "template": "changzhou", "statistics_cutoff": "2099-01-01",
                       "report_deadline": "2099-01-08", "scope": [t.unit(s)]})),
    Row("campaigns/<str:pk>/", "GET", sees=sees_campaign,
        build=lambda t, u, s, f: Call(f"campaigns/{t.campaign(s)}/")),
    Row("campaigns/<str:pk>/amend/", "POST", who=EDU_BUREAU | ADMIN, sees=sees_campaign,
        build=lambda t, u, s, f: Call(f"campaigns/{t.campaign(s)}/amend/", {"phases": t.next_phase()})),
    # inspections: a school inspects itself; bureaus run on-site checks (§5)
    Row("inspections/", "GET", listing=True,
        build=lambda t, u, s, f: Call("inspections/", {"limit": 1000}, t.inspection(s))),
    Row("inspections/", "POST", variant="self", ok=201, who=SCHOOL | ADMIN, outside=403,
        build=lambda t, u, s, f: Call("inspections/", {"campaign": t.campaign(s), "school": t.unit(s),
                                                       "kind": "self", "inspectors": [PEOPLE[s]["owner"]]})),
    Row("inspections/", "POST", variant="onsite", ok=201, who=BUREAU | ADMIN, outside=403,
        build=lambda t, u, s, f: Call("inspections/", {"campaign": t.campaign(s), "school": t.unit(s),
                                                       "kind": "onsite", "inspectors": [PEOPLE[s]["bureau"]]})),
    Row("inspections/<str:pk>/", "GET", build=lambda t, u, s, f: Call(f"inspections/{t.inspection(s)}/")),
    Row("inspections/<str:pk>/assessments/", "POST", ok=201, who=SCHOOL | ADMIN, build=lambda t, u, s, f: Call(
        f"inspections/{t.inspection(s)}/assessments/", {"item": "CZ-01", "result": "pass"})),
    Row("inspections/<str:pk>/complete/", "POST", who=SCHOOL | ADMIN, fresh=True,
        build=lambda t, u, s, f: Call(f"inspections/{t.inspection(s, f)}/complete/")),
    # hazards
    Row("hazards/", "GET", listing=True, build=lambda t, u, s, f: Call("hazards/", {"limit": 1000}, t.hazard(s))),
    Row("hazards/", "POST", ok=201, who=PARTY | BUREAU | ADMIN, outside=403, build=lambda t, u, s, f: Call(
        "hazards/", {"campaign": t.campaign(s), "school": t.unit(s), "severity": "general", "description": "矩阵"})),
    Row("hazards/<str:pk>/", "GET", build=lambda t, u, s, f: Call(f"hazards/{t.hazard(s)}/")),
    Row("hazards/<str:pk>/history/", "GET", build=lambda t, u, s, f: Call(f"hazards/{t.hazard(s)}/history/")),
    Row("hazards/<str:pk>/owners/", "GET",
        build=lambda t, u, s, f: Call(f"hazards/{t.hazard(s, 'assigned')}/owners/")),
    Row("hazards/<str:pk>/accountability/", "GET",
        build=lambda t, u, s, f: Call(f"hazards/{t.hazard(s)}/accountability/")),
    Row("ownership/", "GET", listing=True,
        build=lambda t, u, s, f: Call("ownership/", {"limit": 1000}, t.hazard(s, "assigned"))),
    Row("accountability/", "GET", build=lambda t, u, s, f: Call("accountability/", {"unit": t.unit(s)})),
    command("assign", "reported", lambda t, s: {"owner": PEOPLE[s]["owner"], "owner_unit": t.unit(s),
                                                "deadline": "2099-01-01"}, who=PRINCIPAL | BUREAU | ADMIN),
    command("transfer", "assigned", lambda t, s: {"owner": PEOPLE[s]["next_owner"], "owner_unit": t.unit(s),
                                                  "reason": "调岗"}, who=PRINCIPAL | BUREAU | ADMIN),
    command("plan", "assigned", lambda t, s: {"measures": "更换围栏", "deadline": "2098-01-01"},
            who=PRINCIPAL | ADMIN, rule=owner_or_principal),
    command("interim-measures", "assigned", lambda t, s: {"measures": "设置围挡"},
            who=PRINCIPAL | ADMIN, rule=owner_or_principal),
    command("progress", "assigned", lambda t, s: {"percent": 50}, who=PRINCIPAL | ADMIN, rule=owner_or_principal),
    command("rectify", "assigned", lambda t, s: {"note": "已整改"}, who=PRINCIPAL | ADMIN, rule=owner_or_principal),
    command("extend", "assigned", lambda t, s: {"new_deadline": "2099-06-01", "reason": "资金审批"},
            who=BUREAU | ADMIN),
    command("escalate", "assigned", lambda t, s: {"to_unit": t.unit(BUREAU_OF[s]), "reason": "无力整改"},
            who=PRINCIPAL | BUREAU | ADMIN),
    command("supervise", "assigned", lambda t, s: {"note": "挂牌督办"}, who=BUREAU | ADMIN),
    command("verify", "rectified", lambda t, s: {"accepted": True}, who=PRINCIPAL | BUREAU | ADMIN),
    command("reopen", "closed", lambda t, s: {"reason": "隐患复发"}, who=BUREAU | ADMIN),
    command("void", "reported", lambda t, s: {"reason": "误录"}, who=PRINCIPAL | EDU_BUREAU | ADMIN),
    # the joint form (§6): the school and its 属地派出所 fill their own fields; 校长 and 所长 sign
    Row("joint-forms/", "GET", listing=True, secret="police",
        build=lambda t, u, s, f: Call("joint-forms/", {"limit": 1000}, t.form(s))),
    Row("joint-forms/", "POST", ok=201, who=PARTY, outside=403, fresh=True, build=lambda t, u, s, f: Call(
        "joint-forms/", {"campaign": t.form_campaign(s, f), "school": t.unit(s)})),
    Row("joint-forms/<str:pk>/", "GET", secret="police", build=lambda t, u, s, f: Call(f"joint-forms/{t.form(s)}/")),
    Row("joint-forms/<str:pk>/", "PATCH", variant="own party's field", who=PARTY, secret="police",
        build=lambda t, u, s, f: Call(f"joint-forms/{t.form(s)}/", own_field(u))),
    Row("joint-forms/<str:pk>/", "PATCH", variant="other party's field", who=frozenset(),
        build=lambda t, u, s, f: Call(f"joint-forms/{t.form(s)}/", other_field(u))),
    Row("joint-forms/<str:pk>/sign/", "POST", who=SIGNERS, fresh=True, secret="police", build=lambda t, u, s, f: (
        lambda form: Call(f"joint-forms/{form}/sign/", {"content_hash": t.content_hash(form)}))(t.form(s, f))),
    Row("joint-forms/<str:pk>/submit/", "POST", who=PARTY, fresh=True, secret="police",
        build=lambda t, u, s, f: Call(f"joint-forms/{t.form(s, f, signed=True)}/submit/")),
    Row("joint-forms/<str:pk>/history/", "GET", secret="police",
        build=lambda t, u, s, f: Call(f"joint-forms/{t.form(s)}/history/")),
    # reports (education copies: never police-only content) and submissions (报送)
    by_unit("suzhou-summary", campaign_unit),
    by_unit("suzhou-hazard-list", campaign_unit),
    by_unit("changzhou-district-summary", campaign_unit),
    by_unit("accountability", campaign_unit),
    report("accountability", campaign_school, ", school", sees=sees_unit, rule=names_a_school),
    report("school-ledger", campaign_school, sees=sees_unit, rule=names_a_school),
    by_unit("school-ledger", lambda t, u, s: {"school": t.unit(home(u, s)), "unit": t.unit(s)}, ", unit"),
    report("hazard-dossier", lambda t, u, s: {"hazard": t.hazard(s)}, units=False),
    by_unit("hazard-dossier", lambda t, u, s: {"hazard": t.hazard(home(u, s)), "unit": t.unit(s)}, ", unit"),
    report("changzhou-school-form", lambda t, u, s: {"form": t.form(s)}, units=False),
    by_unit("changzhou-school-form", lambda t, u, s: {"form": t.form(home(u, s)), "unit": t.unit(s)}, ", unit"),
    report("changzhou-district-summary", lambda t, u, s: {"campaign": t.campaign(HOME[u]), "district": DISTRICT_OF[s]},
           ", district", sees=None),
    Row("reports/<str:name>/", "GET", variant="suzhou-hazard-list, the caller's own unit", secret="never",
        sees=sees_campaign, build=lambda t, u, s, f: Call("reports/suzhou-hazard-list/", {"campaign": t.campaign(s)})),
    # 统计: every signed-in user, counted in their own scope; another district's campaign is 404 as for reports
    Row("statistics/", "GET", sees=sees_campaign, units=True,
        build=lambda t, u, s, f: Call("statistics/", {"campaign": t.campaign(s)})),
    Row("submissions/", "GET", listing=True, sees=sees_submission, units=True,
        build=lambda t, u, s, f: Call("submissions/", {"limit": 1000}, t.submission(s))),
    Row("submissions/", "POST", ok=201, who=EVERYONE_BUT_AUDITOR, sees=sees_unit, rule=submits_as_own, units=True,
        build=lambda t, u, s, f: Call("submissions/", campaign_school(t, u, s) | {"report": "school-ledger"}
                                      if s in ALL_SCHOOLS else {"report": "suzhou-hazard-list",
                                                                "campaign": t.campaign(s), "unit": t.unit(s)})),
    Row("submissions/<str:pk>/", "GET", sees=sees_submission, units=True,
        build=lambda t, u, s, f: Call(f"submissions/{t.submission(s)}/")),
    Row("submissions/<str:pk>/copies/<str:line>/", "GET", variant="education", sees=sees_submission, units=True,
        build=lambda t, u, s, f: Call(f"submissions/{t.submission(s)}/copies/education/")),
    Row("submissions/<str:pk>/copies/<str:line>/", "GET", variant="police", rule=police_line, sees=sees_submission,
        units=True, build=lambda t, u, s, f: Call(f"submissions/{t.submission(s)}/copies/police/")),
    # attachments: anyone who writes uploads; an unreferenced upload is its uploader's alone
    Row("attachments/", "POST", ok=201, who=EVERYONE_BUT_AUDITOR, sees=None,
        build=lambda t, u, s, f: Call("attachments/", {"file": SimpleUploadedFile("a.png", photo())}, multipart=True)),
    *[Row(f"attachments/<str:pk>/{part}", "GET", sees=None, rule=uploader_alone,
          build=lambda t, u, s, f, part=part: Call(f"attachments/{t.attachment(s)}/{part}"))  # type: ignore[misc]
      for part in ("", "thumbnail/", "original/", "meta/")],
    # notices addressed to the caller (to them, their unit or their role there: not a scope question)
    Row("notifications/", "GET", sees=None, build=lambda t, u, s, f: Call("notifications/")),
    # the 督办 and 上报 the caller or their unit sent, with each recipient's 签收
    Row("notifications/sent/", "GET", sees=None, build=lambda t, u, s, f: Call("notifications/sent/")),
    # 签收 of a notice that is not the caller's: 404 (test_notification_ack.py signs one's own)
    Row("notifications/<str:pk>/acknowledge/", "POST", sees=None, variant="not the caller's",
        rule=lambda u, s: 403 if ROLES[u] == "auditor" else 404,  # auditors change nothing (read_only_role)
        build=lambda t, u, s, f: Call("notifications/987654321/acknowledge/")),
    # integrity of the log (§3): the whole chain is verified by those who oversee; the public key is public
    Row("audit/verify/", "GET", sees=None, who=frozenset({"auditor"}) | EDU_BUREAU | {"police_officer"} | ADMIN,
        build=lambda t, u, s, f: Call("audit/verify/")),
    Row("audit/checkpoints/", "GET", sees=None, build=lambda t, u, s, f: Call("audit/checkpoints/")),
    Row("audit/public-key/", "GET", sees=None, anonymous=200, build=lambda t, u, s, f: Call("audit/public-key/")),
    # who read police-only content: 所长, the city police bureau and auditors (§6)
    Row("audit/police-access/", "GET", sees=None, who=frozenset({"station_chief", "police_officer", "auditor"}),
        build=lambda t, u, s, f: Call("audit/police-access/")),
)


# --- running a row -----------------------------------------------------------------------------------------


def api_endpoints() -> set[tuple[str, str]]:
    """Every (URL pattern, method) under /api/v1/, from the URL resolver."""
    (v1,) = [p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/"]
    found = set()
    for pattern in v1.url_patterns:
        assert isinstance(pattern, URLPattern), f"nested include under /api/v1/: {pattern}"
        view = getattr(pattern.callback, "view_class", None) or pattern.callback.cls  # type: ignore[attr-defined]
        for method in view.http_method_names:
            if method not in ("head", "options") and hasattr(view, method):
                found.add((str(pattern.pattern), method.upper()))
    return found


def send(client: APIClient, method: str, call: Call) -> Any:
    url = API + call.path
    if method == "GET":
        return client.get(url, call.data)
    return getattr(client, method.lower())(url, call.data, format="multipart" if call.multipart else "json")


def outcome(row: Row, response: Any, call: Call) -> int | str:
    if not row.listing or response.status_code != 200:
        return int(response.status_code)
    body = response.json()
    items = body["results"] if isinstance(body, dict) else body
    listed = {str(item.get("id", item.get("hazard"))) for item in items}
    return LISTED if call.target in listed else HIDDEN


def cell_problems(row: Row, t: Targets, user: str, school: str) -> list[str]:
    """Everything wrong with one cell: its status, the refusal's code, an event recorded, police-only content."""
    want = expected(row, user, school)
    call = row.build(t, user, school, row.fresh and want in (row.ok, LISTED))
    assert resolve(API + call.path.split("?")[0]).route == "api/v1/" + row.route, call.path
    client = APIClient(raise_request_exception=False) if user == "anonymous" else t.login(user)
    events = t.app.recorder.max_notification_id()
    response = send(client, row.method, call)
    got = outcome(row, response, call)
    text = response.content.decode(errors="replace")
    problems = [] if got == want else [f"expected {want}, got {got}: {text[:160]}"]
    if isinstance(want, int) and want >= 400:
        problems += refusal_problems(row, user, school, want, response)
        if t.app.recorder.max_notification_id() != events:
            problems.append("a refused request recorded an event")
    police_may_see = row.secret == "police" and user in POLICE
    if SECRET in text and not police_may_see:
        problems.append("police-only notes in the response")
    if police_may_see and want in (200, LISTED) and SECRET not in text:
        problems.append("a police user does not see the police-only notes")
    if row.units and response.status_code < 300:
        problems += leaks(user, response, text)
    return problems


def leaks(user: str, response: Any, text: str) -> list[str]:
    """A school the user may not see, named or counted in an answer (a PDF read as its text)."""
    if response["Content-Type"] == "application/pdf":
        text = pdf_text(response.content)
    hidden = sorted(ALL_SCHOOLS - VISIBLE[user])
    found = [f"{SCHOOL_NAMES[s]} in the answer" for s in hidden if SCHOOL_NAMES[s] in text or mark(s) in text]
    body = response.json() if response["Content-Type"].startswith("application/json") else {}
    if isinstance(body, dict) and body.get("name") == "suzhou-summary":
        counted = body["tables"][0]["total"][2]  # 排查学校个数: every school had a leaders' on-site check
        found += [f"{counted} schools counted, {len(VISIBLE[user])} in scope"] if counted > len(VISIBLE[user]) else []
    return found


def refusal_problems(row: Row, user: str, school: str, want: int, response: Any) -> list[str]:
    if not response["Content-Type"].startswith("application/json"):
        return ["a refusal that is not JSON"]
    body, code = response.json(), response.json().get("code", "")
    out_of_scope = row.sees is not None and not row.sees(user, school)
    if not body.get("detail"):
        return [f"a refusal without a detail: {body}"]
    if want == 401 and code != "not_authenticated":
        return [f"401 with code {code}"]
    if out_of_scope and want == 404 and not code.endswith("not_found"):
        return [f"out of scope but code {code}"]
    if out_of_scope and want == 403 and code != "out_of_scope":
        return [f"out of scope but code {code}"]
    if user == "auditor" and want == 403 and code != "read_only_role":
        return [f"an auditor's write refused with code {code}"]
    return []


def relations(row: Row, user: str) -> list[tuple[str, str]]:
    """The user's own school, another school, another station's, another district's — and for reports and
    submissions a unit above the user and one their content merely mentions."""
    cells = list(zip(RELATIONS, TARGETS[HOME[user]], strict=True))
    return cells + [("above", ABOVE[user]), ("mentioned", MENTIONED[user])] if row.units else cells


def test_every_api_endpoint_and_method_has_a_row() -> None:
    assert api_endpoints() == {(row.route, row.method) for row in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=[row.label for row in ROWS])
def test_role_matrix(row: Row, app: SafetyApplication, world: demo.World, client_for: Login) -> None:
    targets = Targets(app, world, client_for)
    if row.units:
        targets.seed()
    wrong = [
        f"{user:>12} × {relation:<14} ({target}): {problem}"
        for user in USERS
        for relation, target in relations(row, user)
        for problem in cell_problems(row, targets, user, target)
    ]
    cells = sum(len(relations(row, user)) for user in USERS)
    assert not wrong, f"{row.label}: {len(wrong)} problem(s) in {cells} cells of DESIGN §5\n" + "\n".join(wrong)


# --- tokens are revocable; deactivated users are refused -------------------------------------------------


def login(username: str, password: str = demo.DEMO_PASSWORD) -> APIClient:
    """A client that logged in through ``auth/token/`` like any API user."""
    client = APIClient(raise_request_exception=False)
    response = client.post(f"{API}auth/token/", {"username": username, "password": password}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Token {ok(response)['token']}")
    return client


def test_a_revoked_token_is_refused_and_logging_in_again_gives_a_new_one(world: demo.World) -> None:
    client = login("hm_principal")
    ok(client.get(f"{API}hazards/"))
    revoked = client._credentials["HTTP_AUTHORIZATION"]  # type: ignore[attr-defined]

    assert client.post(f"{API}auth/token/revoke/", {}, format="json").status_code == 204

    refused(client.get(f"{API}hazards/"), 401, "not_authenticated")
    refused(client.post(f"{API}auth/token/revoke/", {}, format="json"), 401, "not_authenticated")
    again = login("hm_principal")
    assert again._credentials["HTTP_AUTHORIZATION"] != revoked  # type: ignore[attr-defined]
    ok(again.get(f"{API}hazards/"))


def test_an_admin_revokes_another_users_token(world: demo.World, client_for: Login) -> None:
    victim = login("hm_staff")
    revoke = client_for("admin").post(f"{API}auth/token/revoke/", {"username": "hm_staff"}, format="json")
    assert revoke.status_code == 204
    refused(victim.get(f"{API}hazards/"), 401, "not_authenticated")
    refused(client_for("admin").post(f"{API}auth/token/revoke/", {"username": "nobody"}, format="json"),
            404, "user_not_found")


@pytest.mark.parametrize(("username", "code"), [
    ("hm_principal", "role_not_permitted"), ("tn_leader", "role_not_permitted"), ("auditor", "read_only_role"),
])
def test_nobody_but_an_admin_revokes_someone_elses_token(
    world: demo.World, client_for: Login, username: str, code: str
) -> None:
    victim = login("hm_staff")
    refused(client_for(username).post(f"{API}auth/token/revoke/", {"username": "hm_staff"}, format="json"),
            403, code)
    ok(victim.get(f"{API}hazards/"))


@pytest.mark.parametrize("username", [name for name, *_ in demo.STAFF])
def test_a_deactivated_user_is_refused_by_token_by_session_and_at_login(world: demo.World, username: str) -> None:
    token = login(username)
    session = APIClient(raise_request_exception=False)
    session.force_login(get_user_model().objects.get(username=username))
    ok(token.get(f"{API}hazards/"))
    ok(session.get(f"{API}hazards/"))

    assert ok(login("admin").post(f"{API}users/{username}/deactivate/", {}, format="json"))["active"] is False

    refused(token.get(f"{API}hazards/"), 401, "not_authenticated")
    refused(session.get(f"{API}hazards/"), 401, "not_authenticated")
    again = APIClient(raise_request_exception=False).post(
        f"{API}auth/token/", {"username": username, "password": demo.DEMO_PASSWORD}, format="json")
    refused(again, 400, "invalid")
    assert "token" not in again.json()
