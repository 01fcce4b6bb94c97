"""A known ledger for the statistics tests (API, page, browser): every case the definitions name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django.utils import timezone

from api.demo import World
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.inspection.aggregate import InspectionKind
from domain.policy import SYSTEM_ACTOR
from domain.timerules import business_date, deadline_end
from projections.runner import catch_up


def build_ledger(app: SafetyApplication, world: World) -> dict[str, Any]:
    """红梅实验小学: closed, rectified, overdue, deadline ahead, major under 挂牌督办, voided, found after ``at``;
    青龙中学: one open; 兰陵幼儿园: none. All found by joint inspections (so 苏州 附件1 counts them). Then, after
    ``mark``, a hazard recorded late about a moment before ``at``."""
    now = timezone.now()
    start = now - timedelta(days=10)
    at = now - timedelta(days=1)
    hongmei, qinglong = world.units["hongmei_school"], world.units["qinglong_school"]
    staff, principal, leader = world.actor("hm_staff"), world.actor("hm_principal"), world.actor("tn_leader")
    campaign: UUID = world.campaign  # type: ignore[assignment]

    def joint(school: UUID) -> UUID:
        return app.schedule_inspection(
            actor=leader,
            campaign=campaign,
            school=school,
            kind=InspectionKind.JOINT,
            inspectors=["tn_leader", "hm_officer"],
            departments=["天宁区教育局", "红梅派出所"],
            occurred_at=start - timedelta(hours=1),
        ).id

    inspections = {hongmei: joint(hongmei), qinglong: joint(qinglong)}

    def discover(text: str, hours: float, category: str = "消防安全", school: UUID = hongmei, **extra: Any) -> UUID:
        return app.discover_hazard(
            actor=leader,
            campaign=campaign,
            school=school,
            inspection=inspections[school],
            description=text,
            severity=extra.pop("severity", Severity.GENERAL),
            category=category,
            location="校内",
            occurred_at=start + timedelta(hours=hours),
        ).id

    def assign(hazard: UUID, hours: float, deadline: Any) -> None:
        app.assign_hazard(
            hazard,
            actor=principal,
            owner="hm_staff",
            owner_unit=hongmei,
            deadline=deadline,
            occurred_at=start + timedelta(hours=hours),
        )

    later = business_date(now) + timedelta(days=30)
    closed = discover("视频监控保存天数不足", 1)
    assign(closed, 2, later)
    app.rectify_hazard(closed, actor=staff, note="已更换硬盘", occurred_at=start + timedelta(hours=3))
    app.verify_hazard(closed, actor=principal, accepted=True, note="合格", occurred_at=start + timedelta(hours=4))
    rectified = discover("危化品未双人双锁", 5, "危险化学品")
    assign(rectified, 6, later)
    app.rectify_hazard(rectified, actor=staff, note="已加锁", occurred_at=start + timedelta(hours=7))
    overdue = discover("保安员无证上岗", 8, "人防物防技防")
    missed = business_date(start + timedelta(hours=9)) + timedelta(days=1)
    assign(overdue, 9, missed)
    app.record_deadline_missed(overdue, actor=SYSTEM_ACTOR, deadline=missed, occurred_at=deadline_end(missed))
    ahead = discover("校门口缺少隔离栏", 10, "人防物防技防")
    assign(ahead, 11, later)  # its deadline is still ahead at ``at``: never overdue
    major = discover("围墙破损无防入侵报警", 12, "人防物防技防", severity=Severity.MAJOR)
    app.supervise_hazard(major, actor=leader, note="挂牌督办", occurred_at=start + timedelta(hours=13))
    voided = discover("误录的隐患", 14)
    app.void_hazard(voided, actor=leader, reason="误录", occurred_at=start + timedelta(hours=15))
    discover("统计时点之后发现的隐患", 24 * 9 + 12)  # after ``at``
    discover("宿舍一键报警故障", 16, school=qinglong)
    catch_up(app)
    mark = timezone.now()
    late = discover("事后补录：食堂燃气报警器失效", 17)  # business time before ``at``, recorded after ``mark``
    catch_up(app)
    return {"at": at, "mark": mark, "missed": missed, "overdue": overdue, "late": late, "start": start}
