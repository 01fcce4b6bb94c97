"""The fields of 常州 附件1 (学校及周边安全排查整改情况报表): key, the seed's label, the party that fills it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Party = Literal["school", "police"]
Kind = Literal["bool", "int", "text"]


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    party: Party
    kind: Kind
    slash_allowed: bool = False  # "/" means "not applicable": 无宿舍、无校车 (null, its old spelling, still reads so)
    police_only: bool = False  # 涉及保密、敏感信息: never shown to the education side


FIELDS: tuple[FormField, ...] = (
    FormField("task_force_established", "是否成立工作专班", "school", "bool"),
    FormField("task_force_lead", "专班负责人", "school", "text"),
    FormField("holiday_duty_roster", "学校假期是否有值班表", "school", "bool"),
    FormField("leader_on_duty", "领导是否带班", "school", "bool"),
    FormField("rules_sound", "门卫、巡查、隐患排查制度是否健全", "school", "bool"),
    FormField("guards_total", "保安员人数", "school", "int"),
    FormField("guards_licensed", "保安员持证上岗人数", "school", "int"),
    FormField("guards_over_age", "超龄保安员人数", "school", "int"),
    FormField("cctv_retention_30_days", "视频监控保存天数是否达30天", "school", "bool"),
    FormField("cctv_cameras", "视频探头数量", "school", "int"),
    FormField("perimeter_alarm", "围墙周界有无防入侵报警系统", "school", "bool"),
    FormField("key_area_alarm", "重点要害部位有无防入侵报警", "school", "bool"),
    FormField("panic_button_gate", "一键报警有无·门卫", "school", "bool"),
    FormField("panic_button_dormitory", "一键报警有无·学生宿舍（无宿舍填“/”）", "school", "bool", slash_allowed=True),
    FormField("tech_systems_working", "技防系统是否全部正常运行", "school", "bool"),
    FormField("barriers", "隔离栏有无", "school", "bool"),
    FormField("anti_ram", "硬质防冲撞设施有无", "school", "bool"),
    FormField("bollards", "升降柱有无", "school", "bool"),
    FormField("electrical_fire_campaign", "是否开展电气火灾安全综合治理", "school", "bool"),
    FormField("electrical_fire_rectification", "电器火灾隐患整改情况", "school", "text"),
    FormField("hazchem_measures", "危险化学品安全管理三防措施是否落实", "school", "bool"),
    FormField("school_bus_hazards", "校车等安全隐患情况（无校车等用“/”）", "school", "text", slash_allowed=True),
    FormField("holiday_safety_education", "假期学生安全教育情况", "school", "text"),
    FormField("holiday_activities_count", "假期师生团体活动·次数", "school", "int"),
    FormField("holiday_activities_people", "假期师生团体活动·总人数", "school", "int"),
    FormField("holiday_activities_leader_responsible", "假期师生团体活动·安全是否由校级领导直接负责", "school", "bool"),
    FormField("work_report", "排查整改工作情况报告", "school", "text"),
    FormField("surrounding_order_hotspots", "校园周边治安乱点情况", "police", "text"),
    FormField("hotspots_rectified", "是否整改", "police", "bool"),
    FormField("school_instability_factors", "涉校不稳定因素情况", "police", "text"),
    FormField(
        "sensitive_notes",
        "涉及保密、敏感信息的，经公安机关研判后直接报市公安局",
        "police",
        "text",
        police_only=True,
    ),
)
BY_KEY = {f.key: f for f in FIELDS}
COUNT_LABELS = {"hazards_total": "排查出的总隐患数", "hazards_rectified": "隐患整改数", "hazards_open": "未整改隐患数"}
TITLE = "学校及周边安全排查整改情况报表"
FOOTER = "本表由学校和当地派出所共同填写。涉及保密、敏感信息的，经公安机关研判后直接报市公安局，本表不填写。"
MAX_TEXT = 2000
NOT_APPLICABLE = "/"
DORMITORY = "panic_button_dormitory"  # "/" only where the school has no dormitory: its ``boarding`` flag says


def answered(spec: FormField, fields: Mapping[str, object], *, boarding: bool) -> bool:
    """Whether the cell is filled as the seed asks: a value, or "/" where the seed allows it and it applies.

    A school without a dormitory (not boarding) has nothing to answer for the dormitory's panic button: its cell
    reads "/" even when left empty. A boarding school has one, so "/" is no answer there.
    """
    if spec.key == DORMITORY and not boarding:
        return True
    value = fields.get(spec.key)
    if spec.slash_allowed and spec.key in fields and value in (None, NOT_APPLICABLE):
        return spec.key != DORMITORY
    return value is not None and value != ""


def missing(fields: Mapping[str, object], *, boarding: bool) -> list[FormField]:
    """The form's cells still to fill before it may be signed, in the seed's order.

    Police-only content is not on the form and is optional ("if any"): it is never asked for, so whether it
    was written can never be read off this list. The computed counts are never missing.
    """
    return [f for f in FIELDS if not f.police_only and not answered(f, fields, boarding=boarding)]


def printed(fields: Mapping[str, object], *, boarding: bool) -> dict[str, object]:
    """The values as the paper form shows them: a school without a dormitory reads "/" in the dormitory cell."""
    if boarding or fields.get(DORMITORY) is not None:
        return dict(fields)
    return {**fields, DORMITORY: NOT_APPLICABLE}
