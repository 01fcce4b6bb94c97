"""What a golden installation holds, in one JSON shape: written by each release's generator into ``expected.json``
and recomputed by ``check_golden.py`` with today's code. Runs inside a configured Django (embedded mode).

Only what users and auditors see is compared: each aggregate's type and version; the ledger's number, status,
owner, deadline, severity, progress and flags of each hazard; each joint form's status, signatures and sent
copies; each submission's copies (the hashes in the log and the hashes of the bytes kept); the events' topics;
and the hash chain (its head, the events it covers, the positions of the signed checkpoints). Imports that
moved between releases are tried in turn, so one file serves every release's generator and today's check.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import pkgutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.core.management import call_command
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

BATCH = 1000


def get_application() -> Application[UUID]:
    """The installation's application, wherever this release builds it."""
    for module in ("projections.eventstore", "api.eventstore"):
        try:
            built: Application[UUID] = importlib.import_module(module).get_application()
        except ModuleNotFoundError:
            continue
        return built
    raise RuntimeError("no event-store module found (projections.eventstore, api.eventstore)")


def event_classes() -> list[str]:
    """The topic of every event class an aggregate in ``domain/`` can record (the library's unused default
    ``Created`` of an aggregate whose ``__init__`` names its own created event left out)."""
    from eventsourcing import domain as library

    import domain

    for found in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(found.name)
    created: dict[type, list[type]] = getattr(library, "_created_event_classes", {})
    topics = set()
    for aggregate in _subclasses(Aggregate):
        if not aggregate.__module__.startswith("domain."):
            continue
        for cls in _subclasses(aggregate.Event):
            if cls.__module__ != aggregate.__module__ or not cls.__qualname__.startswith(aggregate.__qualname__ + "."):
                continue
            if cls.__qualname__ == f"{aggregate.__qualname__}.Created" and cls not in created.get(aggregate, [cls]):
                continue
            topics.add(get_topic(cls))
    return sorted(topics)


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def stored_events(app: Application[UUID]) -> Iterator[Any]:
    """Every stored event record in log order (``Notification``: id, originator_id, originator_version, topic)."""
    start = 1
    while True:
        batch = app.recorder.select_notifications(start=start, limit=BATCH)
        yield from batch
        if len(batch) < BATCH:
            return
        start = batch[-1].id + 1


def verify() -> dict[str, Any]:
    """``manage.py verify_integrity --json``: its report (a failing verify exits 1; the report still says why)."""
    out = io.StringIO()
    try:
        call_command("verify_integrity", "--json", stdout=out, stderr=io.StringIO())
    except SystemExit:
        pass
    text = out.getvalue()
    report: dict[str, Any] = json.JSONDecoder().raw_decode(text[text.index("{") :])[0]
    return report


def installation_state(app: Application[UUID]) -> dict[str, Any]:
    """The installation's state in ``expected.json``'s shape (see the module's docstring)."""
    from api.models import SubmissionCopy
    from projections.hazard.rows import HazardLedger
    from projections.integrity import Checkpoint
    from projections.jointforms import JointFormView

    records = list(stored_events(app))
    ids = list(dict.fromkeys(record.originator_id for record in records))
    aggregates: dict[str, dict[str, Any]] = {}
    submissions: dict[str, dict[str, Any]] = {}
    for aggregate_id in ids:
        aggregate = app.repository.get(aggregate_id)
        kind = type(aggregate).__qualname__
        aggregates[str(aggregate_id)] = {"type": kind, "version": aggregate.version}
        if kind == "Submission":
            kept = {
                c.line: hashlib.sha256(bytes(c.content)).hexdigest()
                for c in SubmissionCopy.objects.filter(submission=aggregate_id)
            }
            submissions[str(aggregate_id)] = {
                "report": aggregate.report,
                "copies": {c["line"]: c["sha256"] for c in aggregate.copies},
                "kept": dict(sorted(kept.items())),
            }
    hazards = {
        str(row.id): {
            "number": row.number,
            "status": row.status,
            "owner": row.owner,
            "deadline": row.deadline.isoformat() if row.deadline else None,
            "severity": row.severity,
            "progress": row.progress,
            "overdue": row.overdue,
            "escalated": row.escalated,
            "supervised": row.supervised,
        }
        for row in HazardLedger.objects.order_by("id")
    }
    forms = {
        str(row.id): {
            "status": row.status,
            "signatures": {key: _signature(value) for key, value in sorted(row.signatures.items())},
            "copies": {c.line: c.sha256 for c in row.copies.order_by("line")},
        }
        for row in JointFormView.objects.order_by("id")
    }
    report = verify()
    return {
        "events": len(records),
        "topics": sorted({record.topic for record in records}),
        "aggregates": aggregates,
        "hazards": hazards,
        "joint_forms": forms,
        "submissions": submissions,
        "verify": {"ok": report["ok"], "events_checked": report["events_checked"], "problems": report["problems"]},
        "chain_head": {"position": report["head"]["position"], "hash": report["head"]["hash"]},
        "checkpoints": list(Checkpoint.objects.order_by("position").values_list("position", flat=True)),
        **later_parts(app, aggregates),
    }


def later_parts(app: Application[UUID], aggregates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What releases after 951acbf added, where the running release has it (a golden log's ``expected.json`` holds
    the parts its release computed): each upload's bytes as kept (the served copy, the original rebuilt, the
    thumbnail), each account's password changes and notices signed for, each unit's name and code, each
    campaign's deadlines, each form's police-only values and attachments opened with the police key, the signing
    keys with the log positions each may sign and the key of each checkpoint, the hazards voided."""
    try:
        from projections.attachments import Attachment, read_blob, read_original
        from projections.policekey import police_cipher
        from projections.signingkeys import SigningKey
    except ImportError:
        return {}
    from projections.integrity import Checkpoint

    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    uploads = {
        str(row.id): {
            "sha256": row.sha256,
            "sha256_original": row.sha256_original,
            "served": digest(read_blob(row.sha256)),
            "original": digest(read_original(row)),
            "thumbnail": digest(read_blob(row.thumbnail_sha256)) if row.thumbnail_sha256 else None,
            "pinned": row.pinned,
        }
        for row in Attachment.objects.order_by("id")
    }
    details: dict[str, dict[str, Any]] = {}
    for aggregate_id, about in aggregates.items():
        aggregate = app.repository.get(UUID(aggregate_id))
        if about["type"] == "Account":
            details[aggregate_id] = {
                "username": aggregate.username,
                "password_changed_at": _instant(aggregate.password_changed_at),
                "acknowledged": sorted(aggregate.acknowledged),
            }
        elif about["type"] == "Unit":
            details[aggregate_id] = {"name": aggregate.name, "code": getattr(aggregate, "code", None)}
        elif about["type"] == "Campaign":
            details[aggregate_id] = {
                "statistics_cutoff": str(aggregate.statistics_cutoff),
                "report_deadline": str(aggregate.report_deadline),
            }
        elif about["type"] == "PoliceNotes":
            cipher = police_cipher()
            opened = {key: [str(ref.sha256) for ref in refs] for key, refs in aggregate.attachments(cipher).items()}
            details[aggregate_id] = {"values": aggregate.values(cipher), "attachments": opened}
    keys = {
        row.key_id: {
            "public_key": row.public_key,
            "valid_from_position": row.valid_from_position,
            "valid_until_position": row.valid_until_position,
            "compromised_after_position": row.compromised_after_position,
        }
        for row in SigningKey.objects.order_by("valid_from_position")
    }
    try:  # the hazard read model's module: projections.hazard.rows after acff0eb, projections.ledger up to it
        from projections.hazard.rows import HazardLedger
    except ImportError:
        from projections.ledger import HazardLedger  # type: ignore[no-redef]

    return {
        "voided_hazards": [
            str(pk) for pk in HazardLedger.objects.filter(voided=True).order_by("id").values_list("id", flat=True)
        ],
        "attachments": uploads,
        "aggregate_details": details,
        "signing_keys": keys,
        "checkpoint_keys": {
            str(p): k for p, k in Checkpoint.objects.order_by("position").values_list("position", "key_id")
        },
    }


def _instant(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _signature(value: dict[str, Any]) -> dict[str, Any]:
    """A signature as the form shows it; its moment as one instant in UTC, whatever offset a release writes."""
    shown = {k: value.get(k) for k in ("role", "signer", "content_hash", "voided", "reason") if k in value}
    if value.get("signed_at"):
        shown["signed_at"] = datetime.fromisoformat(value["signed_at"]).astimezone(UTC).isoformat()
    return shown
