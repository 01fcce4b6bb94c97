"""隐患档案 for auditors: one hazard's state, every event, its owners over time and its 倒查追责 findings,
up to the report's business time ``at``, as the system knew them at its record time ``known_at``."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.accountability import Finding
from domain.attachments import AttachmentRef, attachments_of
from domain.errors import HazardNotFound
from domain.eventinfo import event_data, event_type
from domain.hazard.aggregate import SEVERITY_LABELS, STATUS_LABELS
from projections import integrity
from projections.accountability import hazard_findings
from projections.attachments import Attachment, ensure_thumbnail, read_blob
from projections.eventstore import get_application
from projections.hazard import queries
from projections.hazard.rows import HazardLedger
from reports.accountability import Names, evidence, period, short_code, subjects_text
from reports.base import Cell, Gallery, Picture, Report, Table, chinese_date, clock, numbered
from reports.registry import ReportQuery, register

TITLE = "校园安全隐患档案"
SUMMARY_COLUMNS = (
    "编号",
    "学校",
    "类别",
    "问题表现",
    "等级",
    "位置",
    "状态",
    "责任人",
    "责任单位",
    "整改时限",
    "发现时间",
    "销号时间",
)
HISTORY_COLUMNS = ("版本", "事件", "发生时间", "记录时间", "操作人", "内容", "链哈希")
OWNER_COLUMNS = ("序号", "责任人", "责任单位", "起", "止")
FINDING_COLUMNS = ("序号", "代码", "依据", "责任主体", "期间", "证据版本", "说明")
EVENT_NAMES = {
    "discovered": "发现登记",
    "assigned": "分派",
    "transferred": "移交",
    "plan_recorded": "整改方案",
    "interim_measures_recorded": "临时防范措施",
    "progress_reported": "进度报告",
    "deadline_extended": "延期",
    "deadline_missed": "逾期",
    "escalated": "上报",
    "supervised": "挂牌督办",
    "rectified": "整改完成",
    "verified": "验收通过/销号",
    "rejected": "验收不通过",
    "reopened": "重新打开",
    "voided": "作废",
}
# What each event says, in the order a reader wants it: (label, key of the event's data).
EVENT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "discovered": (
        ("等级", "severity"),
        ("类别", "category"),
        ("检查项目", "item"),
        ("位置", "location"),
        ("问题表现", "description"),
        ("立行立改", "rectified_on_spot"),
    ),
    "assigned": (("责任人", "owner"), ("责任单位", "owner_unit"), ("整改时限", "deadline"), ("整改标准", "standard")),
    "transferred": (("移交给", "owner"), ("责任单位", "owner_unit"), ("原因", "reason")),
    "plan_recorded": (
        ("整改措施", "measures"),
        ("资金", "funds"),
        ("整改时限", "deadline"),
        ("应急预案", "contingency"),
        ("无力整改", "beyond_capacity"),
    ),
    "interim_measures_recorded": (("措施", "measures"),),
    "progress_reported": (("进度", "percent"), ("说明", "note")),
    "deadline_extended": (("原时限", "previous_deadline"), ("延至", "new_deadline"), ("原因", "reason")),
    "deadline_missed": (("届满时限", "deadline"), ("时任责任人", "owner")),
    "escalated": (("上报至", "to_unit"), ("原因", "reason")),
    "supervised": (("督办单位", "by_unit"), ("说明", "note")),
    "rectified": (("整改情况", "note"), ("佐证材料", "evidence")),
    "verified": (("验收意见", "note"),),
    "rejected": (("不通过原因", "note"),),
    "reopened": (("原因", "reason"),),
    "voided": (("作废原因", "reason"),),
}
# 整改前后对比: the photos of the hazard as found and while it was being fixed, beside those of the fixed place and
# its acceptance. A rejected acceptance or a reopening shows the place not (or no longer) fixed: 整改前.
BEFORE_EVENTS = frozenset({"discovered", "interim_measures_recorded", "progress_reported", "rejected", "reopened"})
AFTER_EVENTS = frozenset({"rectified", "verified"})
GALLERY_TITLE = "五、整改前后照片对比"
GALLERY_NOTE = (
    "注：SHA-256 为事件记录的所提供文件（已去除位置信息）的哈希，原件SHA-256 为上传原件的哈希，均随事件入哈希链；"
    "以接口 attachments/{id}/ 取得的文件字节可按此核对。缩略图由所提供文件生成。"
)
NOT_CHAINED = "未入链"
CHAIN_PREFIX = 16
CHAIN_NOTE = (
    "注：链哈希为该事件在事件日志哈希链中的哈希 h_n = SHA-256(h_{n-1} ‖ 事件n) 的前16位"
    "（完整值见接口 hazards/{id}/history/ 的 hash）；以 verify_integrity 或 audit/verify/ 核对，"
    "可发现事件被篡改、删除、插入或调换次序。"
)
TIME_NOTE = (
    "注：发生时间为业务发生的时间，记录时间为系统记录该事件的时间，均为北京时间（Asia/Shanghai）。"
    "本档案按填报时点系统所知的记录编制，其后记录的事件（含补录的早先事件）不列入。"
)


@register("hazard-dossier", TITLE, needs=("hazard",))
def hazard_dossier(query: ReportQuery) -> Report:
    """One hazard's history up to ``query.at`` as known at ``query.known_at``: state, events, owners, findings
    (for 督导/纪检)."""
    assert query.hazard is not None  # guaranteed by ``needs``
    at, known_at = query.at, query.known_at
    state = queries.state_as_of(query.hazard, at=at, known_at=known_at)
    if state is None:
        raise HazardNotFound("该时间点尚无此隐患的记录", id=str(query.hazard))
    app, names = get_application(), Names()
    events = [
        e
        for e in app.hazard_events(query.hazard)
        if e.timestamp <= known_at and e.occurred_at <= at  # type: ignore[attr-defined]
    ]
    hashes = integrity.hashes_of(query.hazard)
    found = hazard_findings(app, HazardLedger.objects.get(id=query.hazard), at, known_at, names)
    owners = [  # the intervals begun by ``at``, one that ended after it still open then
        {**o, "to": o["to"] if o["to"] is not None and o["to"] <= at else None}
        for o in queries.owners(query.hazard, known_at)
        if o["from"] <= at
    ]
    return Report(
        name="hazard-dossier",
        title=TITLE,
        subtitle=f"隐患编号 {state.number}　{names.unit(state.school)}　截至 {clock(at, seconds=True)}",
        at=query.at,
        known_at=query.known_at,
        caller=query.caller,
        tables=(
            Table(
                title="一、基本情况",
                columns=SUMMARY_COLUMNS,
                rows=(_summary(state.state, names),),
                widths=(8, 9, 6, 10, 6, 6, 10, 10, 8, 11, 8, 8),
            ),
            Table(
                title=f"二、事件记录（共{len(events)}条）",
                columns=HISTORY_COLUMNS,
                rows=tuple(_event_row(e, names, hashes.get(e.originator_version)) for e in events),
                notes=(TIME_NOTE, CHAIN_NOTE),
                widths=(4, 11, 11, 13, 11, 35, 15),
            ),
            Table(
                title="三、整改责任人变动",
                columns=OWNER_COLUMNS,
                rows=numbered([_owner_row(o, state.state, names) for o in owners]),
                notes=() if owners else ("尚未分派整改责任人。",),
                widths=(4, 12, 12, 10, 10),
            ),
            Table(
                title=f"四、倒查追责结论（共{len(found)}条）",
                columns=FINDING_COLUMNS,
                rows=numbered([_finding_row(f, names) for f in found]),
                notes=() if found else ("截至填报时未发现需倒查追责的情形。",),
                widths=(4, 4, 11, 19, 14, 6, 42),
            ),
        ),
        landscape=True,
        parameters={"hazard": str(query.hazard)},
        galleries=(_gallery(events),),
    )


def _gallery(events: list[Aggregate.Event]) -> Gallery:
    """整改前 | 整改后: each event's attachments in order, with their thumbnails embedded (``data:`` URIs)."""
    refs = [(e, ref) for e in events for ref in attachments_of(e)]
    uploads = Attachment.objects.in_bulk(sorted({ref.id for _, ref in refs}))
    before = tuple(_picture(e, ref, uploads) for e, ref in refs if event_type(e) in BEFORE_EVENTS)
    after = tuple(_picture(e, ref, uploads) for e, ref in refs if event_type(e) in AFTER_EVENTS)
    notes = (GALLERY_NOTE,) if before or after else ("截至填报时未上传照片或文件。",)
    return Gallery(title=GALLERY_TITLE, sides=(("整改前", before), ("整改后", after)), notes=notes)


def _picture(event: Aggregate.Event, ref: AttachmentRef, uploads: dict[UUID, Attachment]) -> Picture:
    kind, upload = event_type(event), uploads.get(ref.id)
    return Picture(
        filename=upload.filename if upload else f"（上传记录不存在：{ref.id}）",
        content_type=ref.content_type,
        sha256=ref.sha256,
        sha256_original=ref.sha256_original,
        label=f"{EVENT_NAMES.get(kind, kind)}　{clock(event.occurred_at)}",  # type: ignore[attr-defined]
        caption=upload.caption if upload else "",
        thumbnail=_thumbnail(_thumbnail_sha256(upload) if upload else None),
    )


def _thumbnail_sha256(upload: Attachment) -> str | None:
    """Its thumbnail's SHA-256; a photo's thumbnail not made yet (made after the upload, in a thread) made now."""
    if upload.thumbnail_sha256 or not upload.content_type.startswith("image/"):
        return upload.thumbnail_sha256
    return ensure_thumbnail(upload.id)


def _thumbnail(digest: str | None) -> str | None:
    """The stored thumbnail (JPEG) as a ``data:`` URI; None without one, or when its blob is missing or its bytes
    are not those its SHA-256 names (the dossier then says so rather than show a picture it cannot vouch for)."""
    if not digest:
        return None
    try:
        data = read_blob(digest)
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _summary(state: dict[str, Any], names: Names) -> tuple[Cell, ...]:
    return (
        state["number"],
        names.unit(state["school"]),
        state["category"] or None,
        state["description"],
        SEVERITY_LABELS.get(state["severity"], state["severity"]),
        state["location"] or None,
        _status(state),
        names.person(state["owner"]) if state["owner"] else None,
        names.unit(state["owner_unit"]),
        _date(state["deadline"]),
        datetime.fromisoformat(state["discovered_at"]),
        datetime.fromisoformat(state["closed_at"]) if state["closed_at"] else None,
    )


def _status(state: dict[str, Any]) -> str:
    flags = [
        label
        for key, label in (("overdue", "逾期"), ("escalated", "已上报"), ("supervised", "挂牌督办"))
        if state.get(key)
    ]
    status = STATUS_LABELS.get(state["status"], state["status"])
    if state.get("voided"):
        flags.insert(0, f"已作废：{state.get('void_reason') or ''}")
    return f"{status}（{'、'.join(flags)}）" if flags else str(status)


def _event_row(event: Aggregate.Event, names: Names, chain_hash: str | None) -> tuple[Cell, ...]:
    kind, envelope = event_type(event), vars(event)
    return (
        event.originator_version,
        EVENT_NAMES.get(kind, kind),
        envelope["occurred_at"],
        clock(event.timestamp, seconds=True),
        names.person(envelope["actor"]),
        _content(kind, event_data(event), names) or None,
        chain_hash[:CHAIN_PREFIX] if chain_hash else NOT_CHAINED,
    )


def _content(kind: str, data: dict[str, Any], names: Names) -> str:
    """The event's data in a short Chinese sentence: 标签：值；… (empty values left out)."""
    parts = []
    for label, key in EVENT_FIELDS.get(kind, ()):
        value = data.get(key)
        if value is None or value is False or value in ("", []):
            continue
        parts.append(label if value is True else f"{label}：{_value(key, value, names)}")
    if data.get("attachments"):  # shown in 五、整改前后照片对比
        parts.append(f"附件：{len(data['attachments'])}个")
    return "；".join(parts)


def _value(key: str, value: Any, names: Names) -> str:
    if key == "owner":
        return names.person(value)
    if key.endswith("unit"):
        return names.unit(value) or str(value)
    if key.endswith("deadline"):
        day = _date(value)
        return chinese_date(day) if day else str(value)
    if key == "severity":
        return str(SEVERITY_LABELS.get(value, value))
    if key == "percent":
        return f"{value}%"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def _finding_row(finding: Finding, names: Names) -> tuple[Cell, ...]:
    return (
        short_code(finding),
        finding.wording,
        subjects_text(finding, names),
        period(finding),
        evidence(finding),
        names.text(finding.summary),
    )


def _owner_row(interval: dict[str, Any], state: dict[str, Any], names: Names) -> tuple[Cell, ...]:
    """An owner still in place on a closed hazard answers for it until its 销号."""
    end, closed = interval["to"], state["closed_at"]
    until = clock(end) if end else (f"{clock(datetime.fromisoformat(closed))}（销号）" if closed else "至今")
    return (names.person(interval["owner"]), names.unit(interval["owner_unit"]), interval["from"], until)


def _date(value: str | date | None) -> date | None:
    if not value:
        return None
    return value if isinstance(value, date) else date.fromisoformat(value)
