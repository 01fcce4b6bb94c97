"""A fictional district laid out like the 常州 campaign, for the run command and for tests."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import transaction
from PIL import Image, ImageDraw

from domain.application import SafetyApplication
from domain.attachments import AttachmentRef
from domain.campaign.templates import get_template
from domain.hazard.aggregate import Severity
from domain.inspection.aggregate import AssessmentResult, InspectionKind
from domain.policy import SYSTEM_ACTOR, Actor, Role, UnitKind
from domain.timerules import business_date, deadline_end
from projections.attachmentmedia import process
from projections.attachments import pin, store_upload

DEMO_PASSWORD = "demo-pass-2026"
ADMIN = Actor(username="admin", role=Role.ADMIN)

# (username, display name, unit key, role)
STAFF: tuple[tuple[str, str, str, Role], ...] = (
    ("hm_principal", "王校长", "hongmei_school", Role.SCHOOL_PRINCIPAL),
    ("hm_staff", "李安全", "hongmei_school", Role.SCHOOL_STAFF),
    ("hm_staff2", "赵后勤", "hongmei_school", Role.SCHOOL_STAFF),
    ("ql_principal", "陈校长", "qinglong_school", Role.SCHOOL_PRINCIPAL),
    ("ql_staff", "周保卫", "qinglong_school", Role.SCHOOL_STAFF),
    ("lh_principal", "孙园长", "lanling_school", Role.SCHOOL_PRINCIPAL),
    ("hm_officer", "吴民警", "hongmei_station", Role.STATION_OFFICER),
    ("hm_chief", "郑所长", "hongmei_station", Role.STATION_CHIEF),
    ("ql_chief", "冯所长", "qinglong_station", Role.STATION_CHIEF),
    ("tn_inspector", "钱督查", "district_bureau", Role.EDU_INSPECTOR),
    ("tn_leader", "何局长", "district_bureau", Role.EDU_LEADER),
    ("cz_police", "翁警官", "city_police", Role.POLICE_OFFICER),
    ("auditor", "许督导", "", Role.AUDITOR),
)


@dataclass
class World:
    units: dict[str, UUID] = field(default_factory=dict)
    campaign: UUID | None = None
    hazards: dict[str, UUID] = field(default_factory=dict)
    started: datetime | None = None
    launched_on: date | None = None  # the campaign's first day (Beijing): demo deadlines count from it

    def actor(self, username: str) -> Actor:
        for name, _, unit, role in STAFF:
            if name == username:
                return Actor(username=name, role=role, unit=self.units.get(unit))
        raise KeyError(username)


def create_directory(app: SafetyApplication, started: datetime) -> World:
    """Units and staff (with Django logins), all appointed at ``started``."""
    world = World(started=started)

    def unit(key: str, kind: UnitKind, name: str, **extra: object) -> None:
        world.units[key] = app.register_unit(
            actor=ADMIN, kind=kind, name=name, district="天宁区", occurred_at=started, **extra
        ).id

    unit("district_bureau", UnitKind.DISTRICT_EDU_BUREAU, "天宁区教育局")
    unit("city_police", UnitKind.CITY_POLICE_BUREAU, "常州市公安局")
    unit("hongmei_station", UnitKind.POLICE_STATION, "红梅派出所", parent=world.units["city_police"])
    unit("qinglong_station", UnitKind.POLICE_STATION, "青龙派出所", parent=world.units["city_police"])
    for key, name, code, station, stage, boarding in (
        ("hongmei_school", "红梅实验小学", "HM01", "hongmei_station", "小学", False),
        ("qinglong_school", "青龙中学", "QL01", "qinglong_station", "初中", True),
        ("lanling_school", "兰陵幼儿园", "LL01", "hongmei_station", "幼儿园", False),
    ):
        unit(
            key,
            UnitKind.SCHOOL,
            name,
            parent=world.units["district_bureau"],
            police_station=world.units[station],
            stage=stage,
            boarding=boarding,
            code=code,
        )
    user_model = get_user_model()
    for username, display_name, unit_key, role in STAFF:
        with transaction.atomic():
            user_model.objects.create_user(username=username, password=DEMO_PASSWORD)
            app.appoint_staff(
                actor=ADMIN,
                username=username,
                display_name=display_name,
                phone="0519-8568" + str(len(username)),
                unit=world.units.get(unit_key),
                role=role,
                effective_from=started,
                occurred_at=started,
            )
    return world


def launch_campaign(app: SafetyApplication, world: World, when: datetime) -> UUID:
    template = get_template("changzhou")
    today = world.launched_on = business_date(when)
    world.campaign = app.launch_campaign(
        actor=world.actor("tn_leader"),
        title=template.title,
        document_no=template.document_no,
        template=template.key,
        checklist=[{"code": i.code, "title": i.title, "category": i.category} for i in template.items],
        phases=[
            {"kind": "self_check", "start": today, "end": today + timedelta(days=20)},
            {"kind": "supervision", "start": today + timedelta(days=15), "end": today + timedelta(days=40)},
        ],
        statistics_cutoff=today + timedelta(days=40),
        report_deadline=today + timedelta(days=47),
        scope=[],
        recipients=[world.units["district_bureau"], world.units["city_police"]],
        occurred_at=when,
    ).id
    return world.campaign


def demo_photo(color: tuple[int, int, int], *, fixed: bool) -> bytes:
    """A small photo made with Pillow: a wall in ``color``, a crack across it (before) or a clean band (after)."""
    image = Image.new("RGB", (320, 240), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 170, 320, 240), fill=(90, 90, 90))  # the floor
    if fixed:
        draw.rectangle((40, 60, 280, 140), fill=(235, 235, 225), outline=(40, 140, 60), width=6)
    else:
        draw.line([(30, 40), (120, 110), (170, 90), (290, 150)], fill=(30, 30, 30), width=7)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def photo(actor: Actor, filename: str, caption: str, color: tuple[int, int, int], *, fixed: bool) -> AttachmentRef:
    """Uploaded by ``actor`` as ``POST attachments/`` stores it, and pinned as a command pins what it attaches."""
    with transaction.atomic():
        row = store_upload(
            process(demo_photo(color, fixed=fixed)), uploaded_by=actor.username, filename=filename, caption=caption
        )
        return pin(actor, [row.id])[0]


def create_hazards(app: SafetyApplication, world: World, started: datetime) -> None:
    """Hazards in every status, with transfers, an escalation, 挂牌督办, a missed deadline and a reopening."""
    assert world.campaign is not None
    step = iter(range(1, 1000))

    def at() -> datetime:
        return started + timedelta(hours=6 * next(step))

    school, staff, principal = world.units["hongmei_school"], world.actor("hm_staff"), world.actor("hm_principal")
    bureau = world.actor("tn_inspector")

    def discover(key: str, description: str, item: str, severity: Severity = Severity.GENERAL, **extra: object) -> UUID:
        world.hazards[key] = app.discover_hazard(
            actor=extra.pop("actor", staff),
            campaign=world.campaign,
            school=extra.pop("school", school),  # type: ignore[arg-type]
            description=description,
            item=item,
            severity=severity,
            occurred_at=at(),
            **extra,  # type: ignore[arg-type]
        ).id
        return world.hazards[key]

    def deadline(days: int) -> date:
        assert world.launched_on is not None
        return world.launched_on + timedelta(days=days)

    discover("reported", "学校假期值班表未张贴，带班领导未明确", "CZ-01", location="门卫室")
    h = discover("assigned", "校门口缺少硬质防冲撞设施（升降柱）", "CZ-01", location="南校门")
    app.assign_hazard(
        h,
        actor=principal,
        owner="hm_staff",
        owner_unit=school,
        deadline=deadline(60),
        standard="按标准设置升降柱",
        occurred_at=at(),
    )
    app.record_plan(
        h,
        actor=staff,
        measures="采购并安装升降柱两组",
        funds="区财政专项 4 万元",
        deadline=deadline(55),
        contingency="安装前上下学时段加派保安",
        occurred_at=at(),
    )
    app.report_progress(h, actor=staff, note="已完成采购", percent=40, occurred_at=at())

    h = discover(
        "transferred",
        "学生宿舍一键报警装置故障",
        "CZ-01",
        school=world.units["qinglong_school"],
        actor=world.actor("ql_staff"),
        location="学生宿舍",
    )
    app.assign_hazard(
        h,
        actor=world.actor("ql_principal"),
        owner="ql_staff",
        owner_unit=world.units["qinglong_school"],
        deadline=deadline(45),
        occurred_at=at(),
    )
    app.transfer_hazard(
        h,
        actor=world.actor("ql_principal"),
        owner="ql_principal",
        owner_unit=world.units["qinglong_school"],
        reason="涉及技防系统改造，由校长牵头",
        occurred_at=at(),
    )

    cabinet = (150, 60, 50)
    before = photo(staff, "危化品柜-整改前.jpg", "整改前", cabinet, fixed=False)
    h = discover("rectified", "实验室危险化学品未双人双锁管理", "CZ-03", location="化学实验室", attachments=[before])
    app.assign_hazard(h, actor=principal, owner="hm_staff2", owner_unit=school, deadline=deadline(30), occurred_at=at())
    app.transfer_hazard(h, actor=principal, owner="hm_staff", owner_unit=school, reason="赵后勤调岗", occurred_at=at())
    after = photo(staff, "危化品柜-整改后.jpg", "整改后：双人双锁", cabinet, fixed=True)
    app.rectify_hazard(
        h,
        actor=staff,
        note="已加装双锁，建立领用登记台账",
        evidence=["危化品柜照片"],
        attachments=[after],
        occurred_at=at(),
    )

    h = discover("closed", "视频监控保存天数不足30天", "CZ-01", location="监控室")
    app.assign_hazard(h, actor=principal, owner="hm_staff", owner_unit=school, deadline=deadline(20), occurred_at=at())
    disk = photo(staff, "监控主机.jpg", "整改后：更换硬盘", (60, 70, 110), fixed=True)
    app.rectify_hazard(h, actor=staff, note="更换硬盘，保存天数达到30天", attachments=[disk], occurred_at=at())
    app.verify_hazard(h, actor=principal, accepted=False, note="未提供存储配置截图", occurred_at=at())
    screen = photo(staff, "存储配置.jpg", "整改后：存储30天配置", (40, 90, 130), fixed=True)
    app.rectify_hazard(h, actor=staff, note="补充存储配置截图", attachments=[screen], occurred_at=at())
    app.verify_hazard(h, actor=principal, accepted=True, note="验收合格", occurred_at=at())

    discover("on_spot", "消防通道堆放杂物", "CZ-03", rectified_on_spot=True, location="教学楼一楼")

    # 学校自查 marks 人防物防技防 as passed; the bureau's on-site check (with its leaders) then finds the wall.
    own = app.schedule_inspection(
        actor=staff,
        campaign=world.campaign,
        school=school,
        kind=InspectionKind.SELF,  # type: ignore[arg-type]
        inspectors=["hm_staff"],
        occurred_at=at(),
    )
    app.assess_item(
        own.id, actor=staff, item="CZ-01", result=AssessmentResult.PASS, note="自查未发现问题", occurred_at=at()
    )
    app.complete_inspection(own.id, actor=staff, occurred_at=at())
    onsite = app.schedule_inspection(
        actor=bureau,
        campaign=world.campaign,
        school=school,  # type: ignore[arg-type]
        kind=InspectionKind.ONSITE,
        inspectors=["tn_inspector", "tn_leader"],
        leader_participated=True,
        departments=["天宁区教育局"],
        occurred_at=at(),
    )
    h = discover(
        "major",
        "围墙周界无防入侵报警系统，部分围墙破损",
        "CZ-01",
        Severity.MAJOR,
        actor=bureau,
        location="北侧围墙",
        inspection=onsite.id,
    )
    app.record_interim_measures(h, actor=principal, measures="破损处临时围挡，夜间增加巡逻", occurred_at=at())
    assigned_at = at()
    missed = business_date(assigned_at) + timedelta(days=2)
    app.assign_hazard(
        h, actor=bureau, owner="hm_principal", owner_unit=school, deadline=missed, occurred_at=assigned_at
    )
    app.record_plan(
        h,
        actor=principal,
        measures="申请专项资金改造围墙并安装周界报警",
        funds="待落实",
        deadline=deadline(90),
        beyond_capacity=True,
        occurred_at=at(),
    )
    app.escalate_hazard(
        h,
        actor=principal,
        to_unit=world.units["district_bureau"],
        reason="学校无力独立整改，申请区教育局协调资金",
        occurred_at=at(),
    )
    app.supervise_hazard(h, actor=world.actor("tn_leader"), note="区教育局挂牌督办", occurred_at=at())
    app.record_deadline_missed(h, actor=SYSTEM_ACTOR, deadline=missed, occurred_at=deadline_end(missed))
    app.extend_deadline(
        h,
        actor=world.actor("tn_leader"),
        new_deadline=deadline(90),
        reason="资金审批需时",
        occurred_at=deadline_end(missed) + timedelta(hours=9),
    )

    joint = app.schedule_inspection(
        actor=world.actor("tn_leader"),
        campaign=world.campaign,
        school=school,  # type: ignore[arg-type]
        kind=InspectionKind.JOINT,
        inspectors=["tn_leader", "hm_officer"],
        departments=["天宁区教育局", "红梅派出所", "消防救援大队"],
        occurred_at=at(),
    )
    h = discover("overdue", "保安员超龄、无证上岗", "CZ-01", location="门卫室", actor=bureau, inspection=joint.id)
    assigned_at = at()
    due = business_date(assigned_at) + timedelta(days=1)
    app.assign_hazard(h, actor=principal, owner="hm_staff2", owner_unit=school, deadline=due, occurred_at=assigned_at)
    app.record_deadline_missed(h, actor=SYSTEM_ACTOR, deadline=due, occurred_at=deadline_end(due))

    h = discover("reopened", "食堂燃气报警器失效", "CZ-03", location="食堂")
    last = deadline_end(missed) + timedelta(hours=10)
    app.assign_hazard(h, actor=principal, owner="hm_staff", owner_unit=school, deadline=deadline(40), occurred_at=last)
    alarm = photo(staff, "燃气报警器.jpg", "整改后：新报警器", (200, 180, 60), fixed=True)
    app.rectify_hazard(
        h, actor=staff, note="更换燃气报警器", attachments=[alarm], occurred_at=last + timedelta(hours=1)
    )
    app.verify_hazard(h, actor=principal, accepted=True, occurred_at=last + timedelta(hours=2))
    app.reopen_hazard(h, actor=bureau, reason="督查发现报警器再次失效", occurred_at=last + timedelta(hours=3))


def load(app: SafetyApplication, now: datetime, with_hazards: bool = True) -> World:
    started = now - timedelta(days=30)
    world = create_directory(app, started)
    launch_campaign(app, world, started + timedelta(hours=1))
    if with_hazards:
        create_hazards(app, world, started + timedelta(hours=2))
    return world
