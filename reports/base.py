"""The shape every report builds (plain data, no framework): titles, header lines, tables, notes.

Builders (``reports/<name>.py``) return a ``Report``; ``reports/render.py`` turns any Report into JSON, PDF or
XLSX, so the seed's layout rules (填报单位（盖章）…, 序号, 合计, "/") live in one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.eventinfo import plain
from domain.timerules import BUSINESS_TZ, business_date

# None prints as "/" (the seeds' "not applicable"); a date or a moment (datetime) stays one, so XLSX writes a date
# cell, JSON an ISO text (+08:00) and PDF the seeds' wording (2026年7月31日, 2026-07-20 10:00).
Cell = str | int | date | None
NOT_APPLICABLE = "/"


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    title: str = ""
    total: tuple[Cell, ...] | None = None  # the 合计 row, when the seed has one
    notes: tuple[str, ...] = ()
    widths: tuple[int, ...] = ()  # relative column widths for PDF/XLSX; empty: equal


@dataclass(frozen=True)
class Caller:
    """Who fills the report in: 填报单位 and 填报人 come from the caller's unit and profile."""

    unit_name: str
    display_name: str
    phone: str


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    at: datetime  # the moment described (business time)
    known_at: datetime  # what the system knew (record time)
    caller: Caller
    tables: tuple[Table, ...]
    attachment: str = ""  # e.g. "附件1"
    subtitle: str = ""
    notes: tuple[str, ...] = ()
    footer: tuple[str, ...] = ()  # e.g. signature lines
    landscape: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def header(self) -> tuple[tuple[str, str], ...]:
        """The seeds' header lines: 填报单位（盖章）, 填报人, 联系电话, 填报日期."""
        return (
            ("填报单位（盖章）", self.caller.unit_name),
            ("填报人", self.caller.display_name),
            ("联系电话", self.caller.phone),
            ("填报日期", chinese_date(business_date(self.known_at))),
        )

    @property
    def row_count(self) -> int:
        """What a render's cost grows with: the rows of all its tables."""
        return sum(len(t.rows) for t in self.tables)

    def as_dict(self) -> dict[str, Any]:
        data = plain(asdict(self))
        data["header"] = [{"label": label, "value": value} for label, value in self.header]
        return data  # type: ignore[no-any-return]


def statistics_day(at: datetime) -> date:
    """The last day the figures cover: 24:00 of the cutoff day still belongs to that day."""
    return business_date(at - timedelta(microseconds=1))


def progress_text(state: dict[str, object]) -> str:
    """整改进度 as the seeds print it: "40%：已完成采购", or 未开始."""
    percent, note = state.get("progress") or 0, state.get("progress_note") or ""
    return f"{percent}%{('：' + str(note)) if note else ''}" if percent or note else "未开始"


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def clock(moment: datetime, seconds: bool = False) -> str:
    """A moment in business time (Asia/Shanghai), as a reader writes it."""
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def shown(value: Cell) -> str:
    """A cell as printed on paper: "/" for not applicable, the seeds' wording for a date or a moment."""
    if value is None:
        return NOT_APPLICABLE
    if isinstance(value, datetime):
        return clock(value)
    if isinstance(value, date):
        return chinese_date(value)
    return str(value)


def cell(value: Cell | bool | date | UUID) -> Cell:
    """A value as the seeds print it: 是/否 for booleans, "/" for not applicable; dates stay dates (see ``Cell``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, UUID):
        return str(value)
    return value


def numbered(rows: list[tuple[Cell, ...]]) -> tuple[tuple[Cell, ...], ...]:
    """Prefix 序号 1, 2, 3, …"""
    return tuple((index, *row) for index, row in enumerate(rows, start=1))
