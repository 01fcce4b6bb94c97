"""The stored attachments checked against the log (issue 16 point 4): every file an event references must still hash
to the SHA-256 the event recorded, and every upload's files to what its ``Attachment`` row says.

``verify_integrity`` walks the log once; ``BlobCheck.watch`` sees each stored event on the way and decodes, through
the application's mapper, those whose stored state holds an ``AttachmentRef`` (any event, any field: no event class
is named here). After the walk ``problems`` reads each distinct blob once through the attachments storage and names

- ``blob_modified``: the bytes hash differently from what was recorded (or the upload's row was rewritten to name
  other bytes than the event recorded);
- ``blob_missing``: the bytes are not in the storage, or the upload's ``Attachment`` row is gone;

with the hazard (its 序号 and id) or inspection, the event (type, version, log position) and the attachment id.
Uploads no event references are checked against their own row (served copy, original, thumbnail). An original
stored as a patch of its served copy (``projections.originalpatch``) is rebuilt and its SHA-256 checked: an altered
or missing patch names the original.

Attachments of a joint form's police-only content are sealed in its ``PoliceNotes.Recorded`` events: those events
are decoded too and their refs opened with the installation's police key (``projections.policekey``), so they are
checked like any other and named with the form; their problems are ``police_only`` (``scoped``: named in full only
to users of police units). Refs that do not open (no or another key) are left to the chain, whose hashes cover the
sealed bytes; their uploads are then checked against their own rows, as unreferenced ones are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from django.core.files.storage import storages
from django.db.models import QuerySet
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

from domain.attachments import AttachmentRef
from domain.eventinfo import event_type
from domain.jointform.police import PoliceNotes
from domain.transcodings import AttachmentRefAsDict
from projections import bulk, integrity, originalpatch
from projections.attachments import STORAGE, Attachment, blob_name, read_blob
from projections.hazard.rows import HazardLedger
from projections.inspections import InspectionView
from projections.jointforms import JointFormView
from projections.policekey import readable_refs

MODIFIED, MISSING = "blob_modified", "blob_missing"
MARKER = f'"{AttachmentRefAsDict.name}"'.encode()  # how a stored state holding a reference reads
SEALED_TOPIC = get_topic(PoliceNotes.Recorded)  # its references are sealed: no marker to find in its bytes
CHUNK = 1 << 20
PAGE = 5000  # keys per lookup
M = TypeVar("M")
# Which blob of an upload, as the problem's ``blob`` names it, and how its detail reads.
ROLES = {"sha256": "展示文件", "sha256_original": "原始文件", "thumbnail_sha256": "缩略图"}
SUBJECTS = {"hazard": "隐患", "inspection": "检查", "jointform": "联合检查表"}


@dataclass(frozen=True)
class Reference:
    """One attachment on one stored event."""

    position: int
    originator_id: UUID
    version: int
    event_type: str
    subject: str  # the aggregate's kind: hazard, inspection, …
    ref: AttachmentRef
    police_only: bool = False  # sealed in a joint form's ``PoliceNotes`` (``originator_id`` is then the form's)


@dataclass(frozen=True)
class Owner:
    """What a problem is about, as it is named: the hazard's 序号, the school it belongs to."""

    kind: str
    id: UUID
    number: str | None
    school: UUID | None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": str(self.id), "number": self.number}

    def name(self) -> str:
        label = SUBJECTS.get(self.kind, self.kind)
        return f"{label} {self.number}（{self.id}）" if self.number else f"{label} {self.id}"


class BlobCheck:
    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        # A compressed or encrypted state cannot be searched by its bytes: decode every event then.
        self.sift = getattr(mapper, "compressor", None) is None and getattr(mapper, "cipher", None) is None
        self.references: list[Reference] = []
        self.hashes: dict[str, str | None] = {}  # digest → the stored bytes' SHA-256, None when not stored
        self.blobs_checked = 0

    def watch(self, notifications: Iterable[Notification]) -> Iterator[Notification]:
        """The same events, in order; those holding attachment references are noted on the way."""
        for n in notifications:
            state = n.state if isinstance(n.state, bytes) else bytes(n.state)
            if not self.sift or MARKER in state or n.topic == SEALED_TOPIC:
                self._note(n)
            yield n

    def _note(self, n: Notification) -> None:
        try:
            event = self.mapper.to_domain_event(n)
        except Exception:  # noqa: BLE001 — a state that no longer decodes is the chain's ``modified``
            return
        if isinstance(event, PoliceNotes.Event):
            self._note_sealed(n, event)
            return
        refs = list(_refs_in(vars(event)))
        if not refs:
            return
        kind, subject = event_type(event), type(event).__qualname__.split(".")[0].lower()
        for ref in refs:
            self.references.append(Reference(n.id, n.originator_id, n.originator_version, kind, subject, ref))

    def _note_sealed(self, n: Notification, event: Any) -> None:
        try:
            opened = readable_refs(event.form, getattr(event, "attachments", None))
        except Exception:  # noqa: BLE001 — not this key's, or altered: the chain names an altered event
            return
        for refs in opened.values():
            for ref in refs:
                self.references.append(
                    Reference(n.id, event.form, n.originator_version, event_type(event), "jointform", ref, True)
                )

    # --- after the walk ---------------------------------------------------------------------------------

    def problems(self) -> list[integrity.Problem]:
        rows = {row.id: row for row in _in_pages(Attachment.objects.all(), "id", {r.ref.id for r in self.references})}
        owners = _owners({r.originator_id: r.subject for r in self.references})
        found: list[integrity.Problem] = []
        first_use: dict[UUID, Reference] = {}
        for r in self.references:
            first_use.setdefault(r.ref.id, r)
            found.extend(self._of_reference(r, rows.get(r.ref.id), owners[r.originator_id]))
        for row_id, r in first_use.items():  # the thumbnail: derived, recorded by the upload's row alone
            row = rows.get(row_id)
            if row is not None and row.thumbnail_sha256:
                found.extend(self._of_row(row, ("thumbnail_sha256",), r, owners[r.originator_id]))
        referenced = set(first_use)
        found.extend(self._unreferenced(referenced))
        return found

    def _of_reference(self, r: Reference, row: Attachment | None, owner: Owner) -> list[integrity.Problem]:
        if row is None:
            return [self._problem(MISSING, r, owner, None, "的上传记录已被删除")]
        recorded = (r.ref.sha256, r.ref.sha256_original, r.ref.size, r.ref.content_type)
        if (row.sha256, row.sha256_original, row.size, row.content_type) != recorded:
            return [self._problem(MODIFIED, r, owner, None, "的上传记录与事件记录的 SHA-256 不符（被改写）")]
        found = []
        for blob, digest in (("sha256", r.ref.sha256), ("sha256_original", r.ref.sha256_original)):
            if blob == "sha256_original" and digest == r.ref.sha256:
                continue  # a PDF: one file
            state = self._blob_state(row, blob, digest)
            if state is not None:
                found.append(self._problem(state, r, owner, blob, _says(state, digest)))
        return found

    def _of_row(
        self, row: Attachment, blobs: Iterable[str], r: Reference | None, owner: Owner | None
    ) -> list[integrity.Problem]:
        found = []
        for blob in blobs:
            digest = getattr(row, blob)
            if not digest or (blob == "sha256_original" and digest == row.sha256):
                continue
            state = self._blob_state(row, blob, digest)
            if state is None:
                continue
            if r is not None and owner is not None:
                found.append(self._problem(state, r, owner, blob, _says(state, digest)))
            elif Attachment.objects.filter(id=row.id).exists():  # not purged meanwhile (with its blobs)
                detail = f"未被引用的上传 {row.id}（{row.uploaded_by}）的{ROLES[blob]}{_says(state, digest)}"
                found.append(integrity.Problem(state, 0, detail, attachment=str(row.id), blob=blob))
        return found

    def _unreferenced(self, referenced: set[UUID]) -> list[integrity.Problem]:
        found = []
        for row in Attachment.objects.order_by("uploaded_at", "id").iterator(chunk_size=PAGE):
            if row.id not in referenced:
                found.extend(self._of_row(row, ROLES, None, None))
        return found

    def _blob_state(self, row: Attachment, blob: str, digest: str) -> str | None:
        """``_state`` of one of an upload's files; an original stored as a patch of the served copy is rebuilt."""
        if blob != "sha256_original" or not row.original_patch_sha256:
            return self._state(digest)
        key = f"{digest}:{row.original_patch_sha256}:{row.sha256}"
        if key not in self.hashes:
            self.hashes[key] = _hash_rebuilt(row)
            self.blobs_checked += 1
        rebuilt = self.hashes[key]
        return None if rebuilt == digest else MISSING if rebuilt is None else MODIFIED

    def _state(self, digest: str) -> str | None:
        """``None`` when the blob's bytes hash to ``digest``, else the problem (each distinct blob read once)."""
        if digest not in self.hashes:
            self.hashes[digest] = _hash_stored(digest)
            self.blobs_checked += 1
        stored = self.hashes[digest]
        return None if stored == digest else MISSING if stored is None else MODIFIED

    def _problem(self, kind: str, r: Reference, owner: Owner, blob: str | None, says: str) -> integrity.Problem:
        which = f"的{ROLES[blob]}" if blob else ""
        detail = (
            f"{owner.name()} 的事件 {r.event_type}（版本 {r.version}，日志位置 {r.position}）"
            f"所附附件 {r.ref.id}{which}{says}"
        )
        return integrity.Problem(
            kind,
            r.position,
            detail,
            subject=owner.as_dict(),
            event={"type": r.event_type, "version": r.version, "position": r.position},
            attachment=str(r.ref.id),
            blob=blob,
            school=owner.school,
            police_only=r.police_only,
        )


def _says(state: str, digest: str) -> str:
    if state == MISSING:
        return f"不在存储中（SHA-256 {digest}）"
    return f"的内容与记录的 SHA-256 {digest} 不符（已被改动）"


def _hash_stored(digest: str) -> str | None:
    """The SHA-256 of the bytes stored under ``digest``'s name, read in chunks; ``None`` when not stored."""
    hasher = hashlib.sha256()
    try:
        with storages[STORAGE].open(blob_name(digest)) as stored:
            for chunk in stored.chunks(CHUNK):
                hasher.update(chunk)
    except (FileNotFoundError, OSError):
        return None
    return hasher.hexdigest()


def _hash_rebuilt(row: Attachment) -> str | None:
    """The SHA-256 of the original rebuilt from the stored served copy and patch (``rebuild`` checks it);
    ``None`` when one of them is not stored."""
    try:
        patch, served = read_blob(row.original_patch_sha256 or ""), read_blob(row.sha256)
    except (FileNotFoundError, OSError):
        return None
    try:
        originalpatch.rebuild(patch, served, row.sha256_original)
    except originalpatch.Unreadable:
        return "not rebuilt"
    return row.sha256_original


def _refs_in(value: Any) -> Iterator[AttachmentRef]:
    """Every ``AttachmentRef`` in an event's fields, however nested (lists, tuples, dicts)."""
    if isinstance(value, AttachmentRef):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _refs_in(item)


def _in_pages(rows: QuerySet[Any, M], field: str, keys: Iterable[Any]) -> Iterator[M]:
    """``rows`` whose ``field`` is among ``keys``, a page of keys per query."""
    keys = list(keys)
    for start in range(0, len(keys), PAGE):
        yield from rows.filter(bulk.among(field, keys[start : start + PAGE]))


def _owners(subjects: dict[UUID, str]) -> dict[UUID, Owner]:
    """Each referencing aggregate named as officials read it: a hazard by its 序号, with the school it belongs to."""
    ids = set(subjects)
    numbered = HazardLedger.objects.values_list("id", "number", "school")
    hazards = {h: (n, s) for h, n, s in _in_pages(numbered, "id", ids)}
    schools = dict(_in_pages(InspectionView.objects.values_list("id", "school"), "id", ids))
    schools.update(_in_pages(JointFormView.objects.values_list("id", "school"), "id", ids))
    owners = {}
    for aggregate, kind in subjects.items():
        number, school = hazards.get(aggregate, (None, schools.get(aggregate)))
        owners[aggregate] = Owner(kind, aggregate, number, school)
    return owners


def verify(app: Any, *, max_problems: int = 100) -> integrity.Report:
    """The log's chain and checkpoints, then every stored attachment (what ``verify_integrity`` reports)."""
    return integrity.verify(
        integrity.stored_events(app.recorder), max_problems=max_problems, blobs=BlobCheck(app.mapper)
    )


def scoped(report: integrity.Report, visible: Any, *, police: bool = True) -> integrity.Report:
    """The report as an actor who sees only some schools reads it: an attachment problem of a school outside
    ``visible`` (a set of school ids; ``None``: every school), or of police-only content for an actor who does not
    see it (``police``: ``scope.sees_police_content``), is counted, at its position, but neither the hazard, the
    event nor the attachment is named."""
    problems = []
    for p in report.problems:
        hidden = (p.school is None or p.school not in visible) if visible is not None else False
        if p.kind in (MODIFIED, MISSING) and (hidden or (p.police_only and not police)):
            p = integrity.Problem(p.kind, p.position, "其他单位的附件文件校验未通过（无权查看详情）")
        problems.append(p)
    report.problems = problems
    return report
