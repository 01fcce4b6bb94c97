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
class Picture:
    """A photo or document a report shows: what it is, where it came from and the SHA-256 its event recorded. The
    thumbnail is a ``data:`` URI (the PDF needs no network); None for a document (PDF) or a thumbnail not found."""

    filename: str
    content_type: str
    sha256: str  # of the bytes served, as the event recorded it
    sha256_original: str
    label: str = ""  # e.g. the event and its time: 发现登记 2026-07-20 10:15
    caption: str = ""
    thumbnail: str | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True)
class Gallery:
    """Pictures side by side, one column per side (整改前 | 整改后), paired row by row."""

    title: str
    sides: tuple[tuple[str, tuple[Picture, ...]], ...]
    notes: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return sum(len(pictures) for _, pictures in self.sides)

    def as_table(self) -> Table:
        """The same pictures as a list (XLSX): one row each, without the image."""
        rows = [
            (side, p.label or None, p.filename, p.caption or None, p.content_type, p.sha256, p.sha256_original)
            for side, pictures in self.sides
            for p in pictures
        ]
        return Table(
            columns=("序号", "阶段", "记录", "文件名", "说明", "类型", "SHA-256", "原件SHA-256"),
            rows=numbered(rows),
            title=self.title,
            notes=self.notes,
        )


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
    galleries: tuple[Gallery, ...] = ()  # after the tables (PDF: thumbnails side by side; XLSX: listed)

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
        return sum(len(t.rows) for t in self.tables) + sum(g.count for g in self.galleries)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON); a gallery's pictures without their thumbnails (the PDF's, fetched by URL elsewhere)."""
        data = plain(asdict(self))
        data["header"] = [{"label": label, "value": value} for label, value in self.header]
        for gallery in data["galleries"]:
            for _, pictures in gallery["sides"]:
                for picture in pictures:
                    del picture["thumbnail"]
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
