"""常州 (seed 002): 附件1 学校及周边安全排查整改情况报表 (the signed joint form) and 附件2 汇总表（区）."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from django.template import Context, Engine
from django.utils import timezone

from domain.errors import InvalidValue
from domain.jointform.fields import BY_KEY, COUNT_LABELS, FOOTER, TITLE
from domain.timerules import cutoff_moment
from projections import scope
from projections.campaigns import CampaignView
from projections.directory import UnitView, names_at, person_names, unit_names, units_at
from projections.jointforms import JointFormView
from projections.statistics import counts_at, hazard_states, tally
from reports.base import NOT_APPLICABLE, Cell, Report, Table, cell, chinese_date, statistics_day
from reports.joint_form import build_joint_form, label_of, render_joint_form_html
from reports.registry import ReportQuery, register

FORM_COLUMNS = ("栏目", "填写内容")
SIGNATURE_COLUMNS = ("签字", "签字人", "签字时间", "签署内容哈希 SHA-256", "状态")
SIGNATURE_STATES = {
    "valid": "有效",
    "mismatch": "签字所见内容与本表不一致",
    "voided": "已作废（签字后内容被修改）",
    "unsigned": "未签字",
}
POLICE_SECTION = "涉及保密、敏感信息（经公安机关研判后直接报市公安局）"
POLICE_NOTE = "公安机关专用：本部分仅随公安副本报送，不随教育副本报送。"

SUMMARY_TITLE = "学校及周边安全排查整改情况汇总表（区）"
SUMMARY_COLUMNS = (
    "区域",
    "属地派出所",
    "学校名称",
    "校园周边治安乱点情况",
    "是否整改",
    "校园隐患总数",
    "整改数",
    "涉校不稳定因素情况（未解决）",
)
SUMMARY_NOTE = (
    "注：校园周边治安乱点情况、是否整改、涉校不稳定因素情况取自各校《学校及周边安全排查整改情况报表》"
    "（由学校和当地派出所共同填写），“/”表示该校尚未建立报表；校园隐患总数、整改数取自隐患台账，"
    "整改数含已整改待验收和已销号的隐患。"
)

_engine = Engine(dirs=[str(Path(__file__).resolve().parent / "templates")], autoescape=True)


# --- 附件1: the joint form --------------------------------------------------------------------------------


def joint_form_of(query: ReportQuery) -> tuple[JointFormView, dict[str, Any]]:
    """The form row and its education copy as plain data (reports.joint_form), counts by ``form_counts``."""
    row = JointFormView.objects.get(id=query.form)
    if query.campaign is not None and query.campaign.id != row.campaign:
        raise InvalidValue("该报表不属于此专项排查", field="campaign")
    names = unit_names((row.school, row.station))
    signers = person_names(s.get("signer", "") for s in row.signatures.values())
    form = build_joint_form(
        row,
        form_counts(row, query.at, query.known_at),
        names.get(row.school, ""),
        names.get(row.station, ""),
        signer_names=signers,
    )
    return row, form


def form_counts(row: JointFormView, at: datetime | None = None, known_at: datetime | None = None) -> dict[str, int]:
    """The counts on a joint form: those both signatories signed once locked, else ``live_counts``. The API, the
    page and the report all count by this."""
    if row.frozen_counts:
        return dict(row.frozen_counts)
    return live_counts(row.campaign, row.school, at, known_at)


def live_counts(
    campaign: UUID, school: UUID, at: datetime | None = None, known_at: datetime | None = None
) -> dict[str, int]:
    """总隐患数/整改数/未整改数 from the ledger at 24:00 of the campaign's statistics cutoff (or at ``at`` / now
    when earlier), as known at ``known_at`` (default now): a hazard recorded late about the period counts."""
    now = timezone.now()
    cutoff = CampaignView.objects.values_list("statistics_cutoff", flat=True).get(id=campaign)
    return counts_at(campaign, school, min(cutoff_moment(cutoff, now), at or now), known_at or now)


def _form_rows(form: Mapping[str, Any]) -> tuple[tuple[Cell, ...], ...]:
    """The seed's heading, then label/value pairs in the seed's order, counts included; None ("/") for
    not applicable, "" for not yet filled."""
    keys = [c["key"] for r in form["rows"] for c in r if c["kind"] != "label"]
    heading = (("单位名称", form["school_name"]), ("属地派出所", form["station_name"]), ("填表日期", form["form_date"]))
    return (*heading, *((label_of(key), _form_value(key, form)) for key in keys))


def _form_value(key: str, form: Mapping[str, Any]) -> Cell:
    if key in COUNT_LABELS:
        count: int | None = form["counts"].get(key)
        return count
    value: str = form["values"][key]
    if value == NOT_APPLICABLE:
        return None
    return int(value) if BY_KEY[key].kind == "int" and value.isdigit() else value


def _signature_rows(form: Mapping[str, Any]) -> tuple[tuple[Cell, ...], ...]:
    return tuple(
        (
            line["title"],
            line.get("signer_name") or None,
            line.get("signed_at") or None,
            line.get("hash") or None,
            SIGNATURE_STATES[line["state"]],
        )
        for line in form["signatures"]
    )


def signature_footer(form: Mapping[str, Any]) -> tuple[str, ...]:
    """校长：… / 所长：… as under the seed's table: who signed, when, and the hash they signed."""
    lines = []
    for line in form["signatures"]:
        if line["state"] in ("valid", "mismatch"):
            lines.append(
                f"{line['title']}：{line['signer_name']}（{line['signed_at']} 签字；"
                f"签署内容哈希 SHA-256：{line['hash']}；{SIGNATURE_STATES[line['state']]}）"
            )
        else:
            lines.append(f"{line['title']}：＿＿＿＿＿＿（{SIGNATURE_STATES[line['state']]}）")
    return tuple(lines)


def police_notes_of(row: JointFormView) -> str:
    """Police-only content: read only for the police line's copy."""
    return str(row.police_only.get("sensitive_notes") or "")


def _police_table(row: JointFormView) -> Table:
    return Table(
        title=POLICE_SECTION,
        columns=("栏目", "内容"),
        rows=((BY_KEY["sensitive_notes"].label, police_notes_of(row) or "无"),),
        notes=(POLICE_NOTE,),
        widths=(3, 5),
    )


def school_form_html(query: ReportQuery) -> str:
    """The form laid out like the seed (reports.joint_form), with the 填报 lines and, for police, its section:
    the HTML its PDF is printed from."""
    row, form = joint_form_of(query)
    lines = _snippet("changzhou_form_lines.html", {"header": _school_form_report(query, row, form).header})
    html = _insert(render_joint_form_html(form), "<table>", lines)
    if query.police_line:
        html = _insert(html, "</body>", _police_page(row, form))
    return html


def _police_page(row: JointFormView, form: Mapping[str, Any]) -> str:
    context = {
        "section": POLICE_SECTION,
        "school": form["school_name"],
        "station": form["station_name"],
        "label": BY_KEY["sensitive_notes"].label,
        "notes": police_notes_of(row),
        "note": POLICE_NOTE,
    }
    return _snippet("changzhou_form_police.html", context)


def _snippet(name: str, context: dict[str, Any]) -> str:
    html: str = _engine.get_template(f"reports/{name}").render(Context(context))
    return html


def _insert(html: str, before: str, snippet: str) -> str:
    at = html.find(before)
    if at < 0:  # the form's template changed shape: fail loudly rather than drop the 填报 lines
        raise RuntimeError(f"joint_form.html has no {before!r}")
    return html[:at] + snippet + html[at:]


@register("changzhou-school-form", TITLE, needs=("form",), pdf_html=school_form_html)
def changzhou_school_form(query: ReportQuery) -> Report:
    """The signed joint form: its fields in the seed's order, the three counts, the 校长 / 所长 signatures."""
    row, form = joint_form_of(query)
    return _school_form_report(query, row, form)


def _school_form_report(query: ReportQuery, row: JointFormView, form: Mapping[str, Any]) -> Report:
    tables = [
        Table(columns=FORM_COLUMNS, rows=_form_rows(form), notes=(FOOTER,), widths=(3, 5)),
        Table(title="签字", columns=SIGNATURE_COLUMNS, rows=_signature_rows(form), widths=(2, 3, 4, 10, 5)),
    ]
    if query.police_line:
        tables.append(_police_table(row))
    return Report(
        name="changzhou-school-form",
        title=TITLE,
        attachment="附件1",
        subtitle=f"单位名称：{form['school_name']}　属地派出所：{form['station_name']}　填表日期：{form['form_date']}",
        at=query.at,
        known_at=query.known_at,
        caller=query.caller,
        tables=tuple(tables),
        notes=(f"本表内容哈希 SHA-256：{form['content_hash']}",),
        footer=signature_footer(form),
        parameters={
            "form": str(row.id),
            "campaign": str(row.campaign),
            "school": str(row.school),
            "station": str(row.station),
            "status": row.status,
            "content_hash": form["content_hash"],
            "police_line": query.police_line,
        },
    )


# --- 附件2: the district summary ----------------------------------------------------------------------------


@register("changzhou-district-summary", SUMMARY_TITLE, needs=("campaign",), narrow_by=("district",))
def changzhou_district_summary(query: ReportQuery) -> Report:
    """One row per school of the district: the police's findings from its form, its hazards from the ledger."""
    campaign = query.campaign
    assert campaign is not None  # guaranteed by ``needs``
    district = query.district
    schools = list(scope.reported_schools(query.actor, query.unit).filter(district=district))
    ids = [s.id for s in schools]
    by_id = {s.id: s for s in schools}
    for school, then in units_at(ids, query.at, query.known_at).items():  # name and 属地派出所 as they were then
        by_id[school].name, by_id[school].police_station = then.name, then.police_station
    stations = names_at({s.police_station for s in schools if s.police_station}, query.at, query.known_at)
    forms = dict(JointFormView.objects.filter(campaign=campaign.id, school__in=ids).values_list("school", "fields"))
    counts = _hazard_counts(campaign.id, ids, query.at, query.known_at)
    schools.sort(key=lambda s: (s.police_station is None, stations.get(s.police_station, ""), s.name, str(s.id)))
    rows = [
        _summary_row(district, stations.get(s.police_station), s, forms.get(s.id), counts.get(s.id)) for s in schools
    ]
    total = ("合计", "", "", "", "", sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()), "")
    return Report(
        name="changzhou-district-summary",
        title=SUMMARY_TITLE,
        attachment="附件2",
        subtitle=f"（区域：{district}　有关统计数据截至{chinese_date(statistics_day(query.at))}）",
        at=query.at,
        known_at=query.known_at,
        caller=query.caller,
        tables=(
            Table(
                columns=SUMMARY_COLUMNS,
                rows=tuple(rows),
                total=total,
                notes=(SUMMARY_NOTE,),
                widths=(3, 4, 5, 8, 3, 4, 3, 8),
            ),
        ),
        landscape=True,
        parameters={"campaign": str(campaign.id), "district": district},
    )


def _hazard_counts(
    campaign: UUID, schools: list[UUID], at: datetime, known_at: datetime
) -> dict[UUID, tuple[int, int]]:
    """校园隐患总数 / 整改数 per school at ``at`` as known at ``known_at``: 发现数 / 整改数 of
    ``projections.statistics`` (rectified: 已整改待验收 or 已销号), as the statistics endpoint counts them."""
    by_school = tally(hazard_states(at, known_at, schools=schools, campaign=campaign), "school").groups
    return {school: (f.found, f.rectified) for school, f in by_school.items()}  # type: ignore[misc]


def _summary_row(
    district: str,
    station: str | None,
    school: UnitView,
    fields: Mapping[str, Any] | None,
    counts: tuple[int, int] | None,
) -> tuple[Cell, ...]:
    def from_form(key: str) -> Cell:
        if fields is None:
            return None
        return cell(fields[key]) if key in fields else ""

    total, done = counts or (0, 0)
    return (
        district,
        station,
        school.name,
        from_form("surrounding_order_hotspots"),
        from_form("hotspots_rectified"),
        total,
        done,
        from_form("school_instability_factors"),
    )
