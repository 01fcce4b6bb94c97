"""The fields of 常州 附件1 (学校及周边安全排查整改情况报表): key, the seed's label, the party that fills it."""

from __future__ import annotations

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
    slash_allowed: bool = False  # "/" (null) means "not applicable": 无宿舍、无校车
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
