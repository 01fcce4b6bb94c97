"""倒查追责 report: the R1–R7 findings on the hazards in scope, by unit and person, with counts per rule.

Also the one place where a finding is put into words for a reader (责任主体, 期间, 证据版本, names instead of
ids), so the hazard dossier prints its findings the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from domain.accountability import RULES, Finding, Subject
from domain.hazard.aggregate import SEVERITY_LABELS, Severity
from domain.policy import ROLE_LABELS, UnitKind
from projections import scope
from projections.accountability import findings_for
from projections.directory import DisplayNames, StaffView, UnitView
from projections.eventstore import get_application
from projections.hazard.rows import HazardLedger
from reports.base import Cell, Report, Table, chinese_date, clock, numbered, statistics_day
from reports.registry import ReportQuery, register

TITLE = "校园安全隐患倒查追责情况表"
COLUMNS = ("序号", "单位", "责任人", "角色（当时）", "隐患编号", "代码", "依据", "期间", "说明")
SUMMARY_COLUMNS = ("代码", "规则", "依据", "结论数（条）", "涉及责任主体（人次）")
HAZARD_COLUMNS = ("序号", "学校", "隐患编号", "问题表现", "等级", "结论数（条）")
NOTES = (
    "注：1. 追责结论由系统依据事件记录按规则自动判定（发现问题有能力整改而未整改、无力整改也不上报、"
    "谁检查谁负责、谁验收谁负责等），责任主体为事发当时的责任人、单位及时任校长，角色为当时所任角色。",
    "2. 一条结论涉及多个责任主体的，逐一列出；“—”表示追究单位责任。汇总表按结论计数。",
    "3. 期间、时间均为北京时间（Asia/Shanghai）；“持续中”表示截至填报时该问题仍未纠正。",
)
UNIT_ALONE = "—"
NOBODY = "（责任人未明确）"
_ROLE_LABELS = {role.value: label for role, label in ROLE_LABELS.items()}
_KIND_ORDER = (
    UnitKind.SCHOOL,
    UnitKind.POLICE_STATION,
    UnitKind.DISTRICT_EDU_BUREAU,
    UnitKind.CITY_EDU_BUREAU,
    UnitKind.CITY_POLICE_BUREAU,
)
_UUID = re.compile(r"(单位)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
_LOGIN = re.compile(r"(?<![A-Za-z0-9_.@+-])[A-Za-z0-9_.@+-]+(?![A-Za-z0-9_.@+-])")


class Names(DisplayNames):
    """Units and people as a reader knows them: 单位名称, 姓名（用户名）, read once per report."""

    def __init__(self) -> None:
        super().__init__()
        units = UnitView.objects.only("id", "name", "kind")
        self.kinds = {u.id: UnitKind(u.kind) for u in units}
        self.units = {u.id: u.name for u in units}
        self.people = dict(StaffView.objects.values_list("username", "display_name"))

    def unit(self, unit: UUID | str | None) -> str | None:
        return self.unit_name(unit) or (str(unit) if unit else None)

    def person(self, username: str | None) -> str:
        if not username:
            return NOBODY
        if username == "system":
            return "系统（自动记录）"
        name = self.person_name(username)
        return f"{name}（{username}）" if name else username

    def text(self, words: str) -> str:
        """A rule's wording with unit ids and usernames replaced by names."""
        words = _UUID.sub(lambda m: self.unit(m.group(2)) or m.group(0), words)
        return _LOGIN.sub(lambda m: self.person(m.group(0)) if m.group(0) in self.people else m.group(0), words)

    def unit_order(self, unit: UUID | None) -> tuple[int, str]:
        kind = self.kinds.get(unit) if unit else None
        if kind is None:
            return len(_KIND_ORDER), ""
        return (_KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)), self.units[unit]


def short_code(finding: Finding) -> str:
    return finding.code.split("_", 1)[0]


def period(finding: Finding) -> str:
    return f"{clock(finding.start)} 至 {clock(finding.end)}" if finding.end else f"{clock(finding.start)} 起，持续中"


def evidence(finding: Finding) -> str:
    return f"第{'、'.join(str(v) for v in finding.evidence)}版" if finding.evidence else ""


def subject_text(subject: Subject, names: Names) -> str:
    if subject.username is None:
        return f"{names.unit(subject.unit) or NOBODY}（单位）"
    role = _ROLE_LABELS.get(subject.role or "", "")
    where = "，".join(x for x in (names.unit(subject.unit), role and f"时任{role}") if x)
    return names.person(subject.username) + (f"，{where}" if where else "")


def subjects_text(finding: Finding, names: Names) -> str:
    return "；".join(subject_text(s, names) for s in finding.subjects) or NOBODY


# --- the report ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One finding as it concerns one subject (or, with nobody named, the hazard's school)."""

    hazard: HazardLedger
    finding: Finding
    subject: Subject | None


@register("accountability", TITLE, narrow_by=("campaign", "unit", "school"))
def accountability(query: ReportQuery) -> Report:
    """Every finding on the hazards in the caller's scope, under the unit asked and in the campaign if given."""
    hazards, names = _hazards(query), Names()
    per_hazard = findings_for(get_application(), hazards, query.at, query.known_at, names)
    found = [(h, f) for h in hazards for f in per_hazard[h.id]]
    lines = sorted(
        (_Line(h, f, s) for h, f in found for s in (f.subjects or (None,))), key=lambda line: _order(line, names)
    )
    return Report(
        name="accountability",
        title=TITLE,
        subtitle=_subtitle(query),
        at=query.at,
        known_at=query.known_at,
        caller=query.caller,
        tables=(
            Table(
                title="一、追责结论（按单位、责任人）",
                columns=COLUMNS,
                rows=numbered([_row(line, names) for line in lines]),
                widths=(4, 9, 12, 9, 8, 4, 11, 14, 29),
            ),
            _summary([f for _, f in found], lines),
            _hazard_table(found, names),
        ),
        notes=NOTES,
        landscape=True,
        parameters={
            "campaign": str(query.campaign.id) if query.campaign else None,
            "unit": str(query.unit.id) if query.unit else None,
            "school": str(query.school.id) if query.school else None,
        },
    )


def _hazards(query: ReportQuery) -> list[HazardLedger]:
    hazards = HazardLedger.objects.filter(school__in=scope.reported_schools(query.actor, query.unit).values("id"))
    if query.school is not None:
        hazards = hazards.filter(school=query.school.id)
    if query.campaign is not None:
        hazards = hazards.filter(campaign=query.campaign.id)
    return list(hazards.order_by("school", "number", "id"))


def _unit_of(line: _Line) -> UUID | None:
    return line.subject.unit if line.subject is not None else line.hazard.school


def _order(line: _Line, names: Names) -> tuple[object, ...]:
    subject, finding = line.subject, line.finding
    person = subject.username if subject is not None else None
    return (
        names.unit_order(_unit_of(line)),
        person is not None,
        names.people.get(person or "", ""),
        person or "",
        names.unit(line.hazard.school) or "",
        line.hazard.number,
        finding.start,
        finding.code,
        finding.evidence,
    )


def _row(line: _Line, names: Names) -> tuple[Cell, ...]:
    subject, finding = line.subject, line.finding
    if subject is None:
        who, role = NOBODY, None
    elif subject.username is None:
        who, role = UNIT_ALONE, None
    else:
        who, role = names.person(subject.username), _ROLE_LABELS.get(subject.role or "")
    return (
        names.unit(_unit_of(line)),
        who,
        role,
        line.hazard.number,
        short_code(finding),
        finding.wording,
        period(finding),
        names.text(finding.summary),
    )


def _summary(found: list[Finding], lines: list[_Line]) -> Table:
    findings, subjects = Counter(f.code for f in found), Counter(line.finding.code for line in lines)
    rows = tuple((code.split("_", 1)[0], code, wording, findings[code], subjects[code]) for code, wording in RULES)
    return Table(
        title="二、按规则汇总",
        columns=SUMMARY_COLUMNS,
        rows=rows,
        total=("合计", "", "", len(found), len(lines)),
        widths=(3, 10, 24, 5, 6),
    )


def _hazard_table(found: list[tuple[HazardLedger, Finding]], names: Names) -> Table:
    counts = Counter(h.id for h, _ in found)
    hazards = sorted({h.id: h for h, _ in found}.values(), key=lambda h: (names.unit(h.school) or "", h.number))
    rows: list[tuple[Cell, ...]] = [
        (names.unit(h.school), h.number, h.description, SEVERITY_LABELS[Severity(h.severity)], counts[h.id])
        for h in hazards
    ]
    return Table(title="三、涉及隐患", columns=HAZARD_COLUMNS, rows=numbered(rows), widths=(4, 10, 8, 30, 6, 6))


def _subtitle(query: ReportQuery) -> str:
    parts = [f"截至{chinese_date(statistics_day(query.at))}"]
    if query.campaign is not None:
        campaign = query.campaign
        parts.append(f"{campaign.title}（{campaign.document_no}）" if campaign.document_no else campaign.title)
    if query.school is not None:
        parts.append(query.school.name)
    elif query.unit is not None:
        parts.append(f"{query.unit.name}范围内")
    return "　".join(parts)
