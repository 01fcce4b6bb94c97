"""Render any Report as JSON, PDF (WeasyPrint, CJK font, header rows repeated on every page) or XLSX (openpyxl).

Stable by construction: the same Report gives the same JSON bytes, the same PDF text and the same XLSX cells
(workbook timestamps are pinned to the report's as-of time).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from itertools import zip_longest
from pathlib import Path

from django.template import Context, Engine

from domain.timerules import BUSINESS_TZ
from reports.base import NOT_APPLICABLE, Cell, Gallery, Picture, Report, shown

TEMPLATES = Path(__file__).resolve().parent / "templates"
_engine = Engine(dirs=[str(TEMPLATES)], autoescape=True)

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render_json(report: Report) -> bytes:
    return json.dumps(report.as_dict(), ensure_ascii=False, separators=(",", ":")).encode()


def render_html(report: Report) -> str:
    tables = [
        {
            "title": t.title,
            "columns": t.columns,
            "rows": [[shown(v) for v in row] for row in t.rows],
            "total": [shown(v) for v in t.total] if t.total else None,
            "notes": t.notes,
            "widths": _percent(t.widths, len(t.columns)),
        }
        for t in report.tables
    ]
    galleries = [
        {"title": g.title, "sides": [side for side, _ in g.sides], "rows": _paired(g), "notes": g.notes}
        for g in report.galleries
    ]
    context = {"report": report, "header": report.header, "tables": tables, "galleries": galleries}
    return _engine.get_template("reports/table_report.html").render(Context(context))


def _paired(gallery: Gallery) -> list[list[Picture | None]]:
    """The sides' pictures row by row: the first of each side together, then the second, … (None: nothing)."""
    columns = [pictures for _, pictures in gallery.sides]
    return [list(row) for row in zip_longest(*columns)]


def render_pdf(report: Report) -> bytes:
    return html_to_pdf(render_html(report))


def html_to_pdf(html: str) -> bytes:
    """The one WeasyPrint call: every PDF (tables, the joint form, 附件1) is HTML printed here."""
    from weasyprint import HTML  # loading WeasyPrint (Pango, fonts) is slow: only when a PDF is asked for

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def render_xlsx(report: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = report.title[:31]
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    width = max((len(t.columns) for t in report.tables), default=1)
    row = 1
    if report.attachment:
        sheet.cell(row, 1, report.attachment)
        row += 1
    sheet.cell(row, 1, report.title).font = Font(bold=True, size=14)
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
    sheet.cell(row, 1).alignment = Alignment(horizontal="center")
    row += 1
    if report.subtitle:
        sheet.cell(row, 1, report.subtitle)
        row += 1
    for label, value in report.header:
        sheet.cell(row, 1, f"{label}：{value}")
        row += 1
    for table in (*report.tables, *(g.as_table() for g in report.galleries)):
        row += 1
        if table.title:
            sheet.cell(row, 1, table.title).font = Font(bold=True)
            row += 1
        for values in (table.columns, *table.rows, *((table.total,) if table.total else ())):
            for column, value in enumerate(values, start=1):
                target = sheet.cell(row, column, _xlsx_value(value))
                if isinstance(value, date):
                    target.number_format = DATETIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
                target.border = box
                target.alignment = Alignment(wrap_text=True, vertical="center")
                if values is table.columns:
                    target.font = Font(bold=True)
            row += 1
        for note in table.notes:
            sheet.cell(row, 1, note)
            row += 1
    for note in (*report.notes, *report.footer):
        sheet.cell(row, 1, note)
        row += 1
    for column, share in enumerate(_percent(report.tables[0].widths if report.tables else (), width), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = max(8, share * 1.6)
    known = report.known_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    book.properties.created = book.properties.modified = known
    book.properties.creator = "校园安全隐患排查整治"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


RENDERERS = {"json": render_json, "pdf": render_pdf, "xlsx": render_xlsx}


def render(report: Report, fmt: str) -> bytes:
    return RENDERERS[fmt](report)


DATE_FORMAT = 'yyyy"年"m"月"d"日"'
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def _xlsx_value(value: Cell) -> str | int | date:
    """A date stays a date cell; a moment becomes a date-time cell in Beijing time (XLSX has no time zones)."""
    if value is None:
        return NOT_APPLICABLE
    if isinstance(value, datetime):
        return value.astimezone(BUSINESS_TZ).replace(tzinfo=None)
    return value


def _percent(widths: tuple[int, ...], count: int) -> list[float]:
    weights = list(widths) if len(widths) == count else [1] * count
    total = sum(weights) or 1
    return [round(100 * w / total, 2) for w in weights]
