"""What the supervision, 谁负责, 审计 and 报表 pages show: the API's queries, their rows named for a reader."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import serializers

from api import twotimes
from api.common import Day, Moment
from api.hazards.views import HazardFilter
from api.reports.query import build_query
from api.reports.submissions import receipts
from domain.accountability import Finding
from domain.errors import DomainError, InvalidValue
from domain.hazard.aggregate import STATUS_LABELS, Severity, Status
from domain.hazard.status import NOT_CLOSED_STATUSES, OPEN_STATUSES
from domain.policy import ROLE_LABELS, Actor, Role, UnitKind
from domain.timerules import BUSINESS_TZ, business_date, cutoff_moment, deadline_end
from projections import directory, integrity, scope
from projections.accountability import findings_for
from projections.campaigns import CampaignView
from projections.directory import UnitView
from projections.eventstore import get_application
from projections.hazard.rows import HazardLedger
from projections.inspections import InspectionView
from projections.jointforms import JointFormView
from projections.submissions import SubmissionView
from reports.registry import ReportSpec, load_all

DUE_SOON_DAYS = 7  # 即将到期: the deadline ends within this many days (today's included)
UNANSWERED = "R6_ESCALATION_UNANSWERED"
LEDGER_LINKS = {"overdue": "/hazards/?overdue=true", "supervised": "/hazards/?supervised=true"}  # the 台账, filtered
UUID_IN_TEXT = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:#(\d+))?", re.I)
PROBLEM_LABELS = {
    "modified": "事件内容被篡改",
    "missing": "事件缺失（被删除）",
    "inserted": "插入了哈希链外的事件",
    "reordered": "事件次序被调换",
    "unchained": "事件未链入哈希链",
    "bad_signature": "检查点签名无效",
    "key_compromised": "检查点由已泄露的密钥签名",
    "blob_modified": "附件文件被篡改",
    "blob_missing": "附件文件缺失",
}


def hazard_url(hazard: UUID | str, version: int | None = None) -> str:
    return f"/hazards/{hazard}/" + (f"?version={version}" if version else "")


# --- two times from a page's date fields -----------------------------------------------------------------


def page_times(params: Mapping[str, Any], now: datetime) -> twotimes.TwoTimes:
    """``at`` and ``known_at`` as the API names them; a date alone means the end of that day (24:00 Beijing time,
    or now for today), as a campaign's statistics cutoff does."""
    return twotimes.resolve(
        at=_moment(params, "at", now), known_at=_moment(params, "known_at", now), as_of_means="known_at", now=now
    )


def moment_label(moment: datetime) -> str:
    """A moment in Beijing time as the pages write it; the end of a day is that day's 24:00, as deadlines end."""
    local = moment.astimezone(BUSINESS_TZ)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        day = local.date() - timedelta(days=1)
        return f"{day.year}年{day.month}月{day.day}日 24:00"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _moment(params: Mapping[str, Any], name: str, now: datetime) -> datetime | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        if len(str(raw)) == 10:
            day: date = Day().run_validation(raw)  # a day still ahead stays ahead: refused as the API does
            return cutoff_moment(day, now) if day <= business_date(now) else deadline_end(day)
        moment: datetime = Moment().run_validation(raw)
        return moment
    except serializers.ValidationError as error:
        raise InvalidValue(f"{'业务时间' if name == 'at' else '记录时间'}无效，请选择日期", field=name) from error


# --- 督办: overdue, due soon, escalated, 挂牌督办, unanswered escalations -------------------------------------


def supervision_board(actor: Actor, now: datetime) -> list[dict[str, Any]]:
    """The board's sections, each with its items grouped by school (hazards in the actor's scope, voids left out)."""
    today = business_date(now)
    rows = scope.filter_by_school(HazardLedger.objects.order_by("deadline", "number"), actor)
    not_closed = rows.filter(status__in=sorted(NOT_CLOSED_STATUSES))
    due_soon = _listed(rows, overdue="false").filter(
        status__in=sorted(OPEN_STATUSES), deadline__gte=today, deadline__lt=today + timedelta(days=DUE_SOON_DAYS)
    )
    escalated = list(_listed(not_closed, escalated="true"))
    sections = [
        ("overdue", "逾期未整改", list(_listed(rows, overdue="true")), "整改时限已过、尚未整改完成的隐患"),
        ("due-soon", "即将到期", list(due_soon), f"整改时限在{DUE_SOON_DAYS}日内届满、尚未整改的隐患"),
        ("escalated", "已上报", escalated, "学校或下级单位已上报、尚未销号的隐患"),
        ("supervised", "挂牌督办", list(_listed(not_closed, supervised="true")), "挂牌督办、尚未销号的隐患"),
    ]
    unanswered = _unanswered(escalated, now)
    names = _names([h for _, _, found, _ in sections for h in found], unanswered.values())
    board = [
        {
            "key": key,
            "title": title,
            "help": help_text,
            "count": len(found),
            "groups": _by_school(found, names, today),
            "ledger": LEDGER_LINKS.get(key, ""),
        }
        for key, title, found, help_text in sections
    ]
    waiting = [h for h in escalated if h.id in unanswered]
    groups = _by_school(waiting, names, today, {h.id: _escalated_to(unanswered[h.id], names) for h in waiting})
    board.append(
        {
            "key": "unanswered",
            "title": "上报未回应",
            "help": "上报后接收单位逾期未在隐患上作出任何处理（倒查追责 R6）",
            "count": len(waiting),
            "groups": groups,
        }
    )
    return board


def _listed(rows: QuerySet[HazardLedger], **filters: str) -> QuerySet[HazardLedger]:
    """The API's hazard list filters (``hazards/?overdue=true`` …) on ``rows``: voided hazards left out."""
    return HazardFilter(data=filters, queryset=rows).qs


def _unanswered(escalated: list[HazardLedger], now: datetime) -> dict[UUID, list[Finding]]:
    """The escalations still without an answer now (R6 findings not ended), by hazard."""
    per_hazard = findings_for(get_application(), escalated, now, now)
    found = {h: [f for f in of_one if f.code == UNANSWERED and f.end is None] for h, of_one in per_hazard.items()}
    return {h: of_one for h, of_one in found.items() if of_one}


def _escalated_to(found: list[Finding], names: directory.DisplayNames) -> str:
    units = [names.unit_name(s.unit) or "" for f in found for s in f.subjects]
    return "上报至" + "、".join(dict.fromkeys(u for u in units if u)) + "，逾期未处理"


def _names(hazards: Iterable[HazardLedger], findings: Iterable[list[Finding]]) -> directory.DisplayNames:
    listed = list(hazards)
    units = [u for h in listed for u in (h.school, h.owner_unit)]
    units += [s.unit for of_one in findings for f in of_one for s in f.subjects]
    return directory.DisplayNames().load(units=units, people=[h.owner for h in listed])


def _by_school(
    hazards: list[HazardLedger], names: directory.DisplayNames, today: date, notes: Mapping[UUID, str] | None = None
) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for h in hazards:
        groups.setdefault(names.unit_name(h.school) or "（未知学校）", []).append(_item(h, names, today, notes or {}))
    return [{"school": school, "items": items} for school, items in sorted(groups.items())]


def _item(h: HazardLedger, names: directory.DisplayNames, today: date, notes: Mapping[UUID, str]) -> dict[str, Any]:
    days = (today - h.deadline).days if h.deadline else None
    return {
        "url": hazard_url(h.id),
        "number": h.number,
        "description": h.description,
        "severity_major": h.severity == Severity.MAJOR,
        "status": STATUS_LABELS.get(Status(h.status), h.status),
        "owner": names.person_name(h.owner) or "（未指定）",
        "owner_unit": names.unit_name(h.owner_unit) or "",
        "deadline": h.deadline,
        "days_overdue": days if h.overdue and days is not None and days > 0 else None,
        "days_left": -days if days is not None and not h.overdue and days <= 0 else None,
        "due_soon": days is not None and not h.overdue and -DUE_SOON_DAYS < days <= 0,
        "supervised": h.supervised,
        "escalated": h.escalated,
        "note": notes.get(h.id, ""),
    }


# --- 谁负责 -------------------------------------------------------------------------------------------------


def schools_in_scope(actor: Actor) -> list[UnitView]:
    schools = UnitView.objects.filter(kind=UnitKind.SCHOOL).order_by("name")
    return list(scope.filter_by_school(schools, actor, field="id"))


def ownership_items(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """``ownership/``'s rows (``HazardVersion``) as the page lists them, with names."""
    listed = list(rows)
    names = directory.DisplayNames().load(
        units=[u for r in listed for u in (r.school, r.owner_unit)], people=[r.owner for r in listed]
    )
    return [
        {
            "url": hazard_url(r.hazard),
            "number": r.number,
            "description": (r.state or {}).get("description", ""),
            "school": names.unit_name(r.school) or "",
            "owner": names.person_name(r.owner) or "（未指定）",
            "owner_unit": names.unit_name(r.owner_unit) or "",
            "owner_since": r.owner_since,
            "deadline": r.deadline,
            "status": STATUS_LABELS.get(Status(r.status), r.status),
            "overdue": r.overdue,
        }
        for r in listed
    ]


# --- 审计: verify and findings --------------------------------------------------------------------------------


def verify_context(report: integrity.Report) -> dict[str, Any]:
    """The verify result for the page: each problem named in Chinese, ids replaced by what they name."""
    checkpoints = integrity.Checkpoint.objects.order_by("-position")
    return {
        "ok": report.ok,
        "events_checked": report.events_checked,
        "blobs_checked": report.blobs_checked,
        "log_head": report.log_head,
        "head": report.head,
        "checked_at": report.checked_at,
        "checkpoint_count": checkpoints.count(),
        "checkpoints": list(checkpoints[:5]),
        "problems": [
            {
                "kind": PROBLEM_LABELS.get(p.kind, p.kind),
                "code": p.kind,
                "position": p.position,
                "detail": named_text(p.detail),
            }
            for p in report.problems
        ],
    }


def named_text(text: str) -> str:
    """A problem's detail with each id (``<uuid>#<version>``) replaced by what it is: 隐患 number, unit, …"""
    ids = {UUID(m.group(1)) for m in UUID_IN_TEXT.finditer(text)}
    if not ids:
        return text
    known: dict[UUID, str] = {
        h: f"隐患{n}" for h, n in HazardLedger.objects.filter(id__in=ids).values_list("id", "number")
    }
    known |= {u: f"单位“{name}”" for u, name in directory.unit_names(ids).items()}
    known |= {c: f"专项排查“{t}”" for c, t in CampaignView.objects.filter(id__in=ids).values_list("id", "title")}
    known |= {
        f: "学校及周边安全排查整改情况报表"
        for f in JointFormView.objects.filter(id__in=ids).values_list("id", flat=True)
    }
    known |= {i: "检查记录" for i in InspectionView.objects.filter(id__in=ids).values_list("id", flat=True)}

    def name(match: re.Match[str]) -> str:
        what = known.get(UUID(match.group(1)), "其他记录")
        return f"{what}的第{match.group(2)}版" if match.group(2) else what

    return UUID_IN_TEXT.sub(name, text)


def finding_items(found: list[Finding]) -> list[dict[str, Any]]:
    """Findings with their hazard's number, subjects by name and role then, evidence as links to the hazard."""
    numbers = dict(HazardLedger.objects.filter(id__in={f.hazard for f in found}).values_list("id", "number"))
    names = directory.DisplayNames().load(
        units=[s.unit for f in found for s in f.subjects], people=[s.username for f in found for s in f.subjects]
    )
    return [
        {
            "code": f.code,
            "wording": f.wording,
            "hazard_url": hazard_url(f.hazard),
            "dossier": report_url("hazard-dossier", {"hazard": str(f.hazard)}, "pdf"),
            "number": numbers.get(f.hazard, ""),
            "subjects": [_subject(s.username, s.unit, s.role, names) for s in f.subjects],
            "start": f.start,
            "end": f.end,
            "summary": named_text(f.summary),
            "evidence": [{"version": v, "url": hazard_url(f.hazard, v)} for v in f.evidence],
        }
        for f in found
    ]


def _subject(username: str | None, unit: UUID | None, role: str | None, names: directory.DisplayNames) -> str:
    unit_name = names.unit_name(unit) or ""
    if username is None:
        return f"{unit_name}（单位责任）"
    role_label = ROLE_LABELS.get(Role(role), "") if role else ""
    return f"{names.person_name(username) or username}（{'，'.join(p for p in (unit_name, role_label) if p)}）"


def hazard_choices(actor: Actor) -> list[tuple[str, str]]:
    """The hazards in scope, for the dossier picker: (id, number and description)."""
    rows = scope.filter_by_school(HazardLedger.objects.filter(voided=False).order_by("number"), actor)
    return [(str(i), f"{n} {d[:24]}") for i, n, d in rows.values_list("id", "number", "description")]


# --- 报表 ---------------------------------------------------------------------------------------------------


def report_url(name: str, params: Mapping[str, str], fmt: str) -> str:
    """The API's URL of a report (``reports/{name}/?format=…``): the page's links download from the API itself."""
    return f"/api/v1/reports/{name}/?" + urlencode({**{k: v for k, v in params.items() if v}, "format": fmt})


REPORT_FIELDS = {"campaign": "专项排查", "school": "学校", "form": "学校及周边安全排查整改情况报表", "hazard": "隐患"}
LINE_LABELS = {"education": "教育线", "police": "公安线"}


def report_cards(actor: Actor, params: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Each report of ``reports/`` with its parameters as a form and the API's download links for the values
    asked (the report named by ``params["report"]``) or, for the others, the first choice of each required one."""
    choices = {
        "campaign": campaign_choices(actor),
        "school": [(str(s.id), s.name) for s in schools_in_scope(actor)],
        "form": _form_choices(actor),
        "hazard": hazard_choices(actor),
    }
    return [_card(spec, actor, params if params.get("report") == spec.name else {}, choices, now) for spec in specs()]


def specs() -> list[ReportSpec]:
    return sorted(load_all().values(), key=lambda s: list(ORDER).index(s.name) if s.name in ORDER else len(ORDER))


ORDER = (
    "suzhou-summary",
    "suzhou-hazard-list",
    "changzhou-district-summary",
    "changzhou-school-form",
    "school-ledger",
    "accountability",
    "hazard-dossier",
)


def _card(
    spec: ReportSpec,
    actor: Actor,
    asked: Mapping[str, Any],
    choices: Mapping[str, list[tuple[str, str]]],
    now: datetime,
) -> dict[str, Any]:
    fields = []
    values: dict[str, str] = {}
    for name, label in REPORT_FIELDS.items():
        if name not in spec.needs and name not in spec.narrow_by:
            continue
        required = name in spec.needs
        options = choices[name]
        default = options[0][0] if required and options else ""
        values[name] = str(asked.get(name, default) or "")
        fields.append({"name": name, "label": label, "required": required, "options": options, "value": values[name]})
    card = {
        "name": spec.name,
        "title": spec.title,
        "fields": fields,
        "at": asked.get("at", ""),
        "known_at": asked.get("known_at", ""),
        "links": [],
        "error": "",
    }
    lacking = [f["label"] for f in fields if f["required"] and not f["options"]]
    if lacking:
        card["error"] = f"您的管辖范围内暂无可选的{lacking[0]}"
        return card
    try:
        times = {name: _moment(asked, name, now) for name in ("at", "known_at")}
        query = {**values, **{k: v.isoformat() for k, v in times.items() if v is not None}}
        build_query(spec, query, actor)  # every parameter judged (scope, presence) as the API will
    except DomainError as refused:
        card["error"] = refused.message if refused.detail == refused.message else refused.detail
        return card
    card["links"] = [
        {"format": fmt.upper(), "url": report_url(spec.name, query, fmt)} for fmt in ("pdf", "xlsx", "json")
    ]
    card["submit"] = {**query, "report": spec.name}
    return card


def campaign_choices(actor: Actor) -> list[tuple[str, str]]:
    campaigns = CampaignView.objects.order_by("-launched_at")
    return [(str(c.id), c.title) for c in campaigns if scope.sees_campaign(actor, c)]


def _form_choices(actor: Actor) -> list[tuple[str, str]]:
    forms = list(scope.filter_by_school(JointFormView.objects.order_by("-updated_at"), actor))
    names = directory.unit_names(f.school for f in forms)
    return [(str(f.id), f"{names.get(f.school, '')}（{f.updated_at.astimezone(BUSINESS_TZ):%Y-%m-%d}）") for f in forms]


def submission_items(actor: Actor, request: HttpRequest, limit: int = 20) -> list[dict[str, Any]]:
    """The submissions (报送) the actor may see, newest first, with every line's receipt (回执)."""
    rows = list(scope.filter_submissions(SubmissionView.objects.all(), actor).order_by("-submitted_at", "id")[:limit])
    names = directory.DisplayNames().load(units=[r.unit for r in rows], people=[r.submitted_by for r in rows])
    titles = {s.name: s.title for s in specs()}
    return [
        {
            "title": titles.get(r.report, r.report),
            "unit": names.unit_name(r.unit) or "",
            "by": names.person_name(r.submitted_by) or r.submitted_by,
            "submitted_at": r.submitted_at,
            "at": r.at,
            "known_at": r.known_at,
            "lines": [{**c, "label": LINE_LABELS.get(c["line"], c["line"])} for c in receipts(r, actor, request)],
        }
        for r in rows
    ]
