"""附件1 学校及周边安全排查整改情况报表 as plain data (pure), and its PDF (HTML → WeasyPrint).

The table layout follows the seed row by row; the web page and the PDF share it. Police-only content
(``sensitive_notes``) is not on the form: it is never read here, so it can never reach the PDF.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from django.template import Context, Engine
from django.utils import timezone

from domain.jointform.aggregate import content_hash
from domain.jointform.fields import BY_KEY, COUNT_LABELS, FIELDS, FOOTER, TITLE, printed
from projections.directory import boarding
from projections.jointforms import JointFormView

Cell = dict[str, Any]
SIGNATORIES = (("school_principal", "校长"), ("station_chief", "所长"))
COLUMNS = 12

# The seed's rows, with how many of the 12 columns each label and value cell takes (long labels get room,
# 是/否 and numbers little). "pairs": label/value pairs; "group": one label (the part of the FIELDS label
# before "·") then sub-labels with their values on the same line; "grid": the group label over two lines,
# sub-labels above their values. Count keys are computed from the ledger, never typed.
Span = tuple[str, int, int]
LAYOUT: tuple[tuple[str, int, tuple[Span, ...]], ...] = (
    ("pairs", 0, (("task_force_established", 4, 2), ("task_force_lead", 3, 3))),
    ("pairs", 0, (("holiday_duty_roster", 3, 1), ("leader_on_duty", 2, 1), ("rules_sound", 4, 1))),
    ("pairs", 0, (("guards_total", 2, 2), ("guards_licensed", 3, 1), ("guards_over_age", 3, 1))),
    ("pairs", 0, (("cctv_retention_30_days", 4, 2), ("cctv_cameras", 3, 3))),
    ("pairs", 0, (("perimeter_alarm", 4, 2), ("key_area_alarm", 4, 2))),
    ("group", 3, (("panic_button_gate", 2, 2), ("panic_button_dormitory", 3, 2))),
    ("pairs", 0, (("tech_systems_working", 4, 8),)),
    ("pairs", 0, (("barriers", 2, 2), ("anti_ram", 3, 1), ("bollards", 3, 1))),
    ("pairs", 0, (("electrical_fire_campaign", 4, 2), ("electrical_fire_rectification", 3, 3))),
    ("pairs", 0, (("hazchem_measures", 5, 7),)),
    ("pairs", 0, (("surrounding_order_hotspots", 3, 6), ("hotspots_rectified", 2, 1))),
    ("pairs", 0, (("school_instability_factors", 3, 9),)),
    ("pairs", 0, (("school_bus_hazards", 3, 9),)),
    ("pairs", 0, (("holiday_safety_education", 3, 9),)),
    (
        "grid",
        3,
        (
            ("holiday_activities_count", 3, 3),
            ("holiday_activities_people", 3, 3),
            ("holiday_activities_leader_responsible", 3, 3),
        ),
    ),
    ("pairs", 0, (("hazards_total", 3, 1), ("hazards_rectified", 3, 1), ("hazards_open", 3, 1))),
    ("pairs", 0, (("work_report", 3, 9),)),
)


def label_of(key: str) -> str:
    return COUNT_LABELS[key] if key in COUNT_LABELS else BY_KEY[key].label


def _value_cell(key: str, span: int) -> Cell:
    if key in COUNT_LABELS:
        return {"kind": "count", "key": key, "type": "int", "colspan": span, "rowspan": 1}
    return {"kind": "field", "key": key, "type": BY_KEY[key].kind, "colspan": span, "rowspan": 1}


def _label_cell(text: str, span: int, rowspan: int = 1, sub: bool = False) -> Cell:
    return {"kind": "label", "text": text, "colspan": span, "rowspan": rowspan, "sub": sub}


def _pairs(_: int, spans: tuple[Span, ...]) -> list[list[Cell]]:
    return [[c for key, ls, vs in spans for c in (_label_cell(label_of(key), ls), _value_cell(key, vs))]]


def _group(group_span: int, spans: tuple[Span, ...]) -> list[list[Cell]]:
    row = [_label_cell(label_of(spans[0][0]).split("·")[0], group_span)]
    for key, ls, vs in spans:
        row += [_label_cell(label_of(key).split("·")[1], ls, sub=True), _value_cell(key, vs)]
    return [row]


def _grid(group_span: int, spans: tuple[Span, ...]) -> list[list[Cell]]:
    head = [_label_cell(label_of(spans[0][0]).split("·")[0], group_span, rowspan=2)]
    head += [_label_cell(label_of(key).split("·")[1], ls, sub=True) for key, ls, _ in spans]
    return [head, [_value_cell(key, vs) for key, _, vs in spans]]


def table_rows() -> list[list[Cell]]:
    """The seed table as rows of cells (``kind`` label / field / count, with colspan and rowspan)."""
    shapes = {"pairs": _pairs, "group": _group, "grid": _grid}
    return [row for shape, group_span, spans in LAYOUT for row in shapes[shape](group_span, spans)]


def display(key: str, fields: Mapping[str, Any]) -> str:
    """A value as written on the paper form: 是/否, "/" for not applicable, blank when not yet filled."""
    if key not in fields:
        return ""
    value = fields[key]
    if value is None:
        return "/" if BY_KEY[key].slash_allowed else ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def form_date(row: JointFormView) -> str:
    when: datetime = row.submitted_at or row.updated_at
    day = timezone.localdate(when)
    return f"{day.year}年{day.month}月{day.day}日"


def signature_lines(
    signatures: Mapping[str, Mapping[str, Any]], current_hash: str, names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """校长 / 所长 lines: the standing signature (valid when it signed the current hash) or the last voided one."""
    lines = []
    for role, title in SIGNATORIES:
        standing = signatures.get(role)
        voided = [s for r, s in sorted(signatures.items(), key=_voided_order) if r.startswith(f"voided:{role}:")]
        shown = standing or (voided[-1] if voided else None)
        line: dict[str, Any] = {"role": role, "title": title, "state": "unsigned", "voided_count": len(voided)}
        if shown is not None:
            state = "voided" if standing is None else "valid" if shown["content_hash"] == current_hash else "mismatch"
            signer = shown.get("signer", "")
            line.update(
                state=state,
                signer=signer,
                signer_name=names.get(signer, signer),
                hash=shown.get("content_hash", ""),
                signed_at=_local_time(shown.get("signed_at")),
                reason=shown.get("reason", ""),
            )
        lines.append(line)
    return lines


def _voided_order(item: tuple[str, Any]) -> tuple[int, str]:
    parts = item[0].split(":")
    return (int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else 0, item[0])


def _local_time(iso: str | None) -> str:
    if not iso:
        return ""
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M")


def build_joint_form(
    row: JointFormView,
    counts: Mapping[str, int],
    school_name: str,
    station_name: str,
    *,
    signer_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The education copy of the form as plain data: shown fields only, labels from FIELDS, counts, signatures."""
    shown = {f.key: row.fields.get(f.key) for f in FIELDS if not f.police_only and f.key in row.fields}
    current = content_hash(row.campaign, row.school, shown, dict(counts), row.attachments)
    on_paper = printed(shown, boarding=boarding(row.school))
    values = {f.key: display(f.key, on_paper) for f in FIELDS if not f.police_only}
    values.update({k: str(counts.get(k, "")) for k in COUNT_LABELS})
    rows = [[{**c, "value": values[c["key"]]} if c["kind"] != "label" else c for c in r] for r in table_rows()]
    return {
        "title": TITLE,
        "school_name": school_name,
        "station_name": station_name,
        "form_date": form_date(row),
        "status": row.status,
        "rows": rows,
        "values": values,
        "counts": {k: counts.get(k) for k in COUNT_LABELS},
        "content_hash": current,
        "signatures": signature_lines(row.signatures, current, signer_names or {}),
        "footer": FOOTER,
    }


_engine = Engine(dirs=[str(Path(__file__).parent / "templates")], autoescape=True)


def render_joint_form_html(data: Mapping[str, Any]) -> str:
    return _engine.get_template("reports/joint_form.html").render(Context(dict(data)))


def keys_in(rows: Iterable[Iterable[Cell]]) -> set[str]:
    return {c["key"] for r in rows for c in r if c["kind"] != "label"}
