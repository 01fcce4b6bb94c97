"""Tamper evidence (DESIGN §3): direct edits of the stored events are caught, named and located.

Each test builds the demo district (≈100 events, chained, with signed checkpoints), then plays the intruder with
direct database access — the SQLite file, or PostgreSQL's superuser bypassing the append-only triggers — and
checks what ``verify_integrity`` and ``audit/verify/`` say.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from pgadmin import superuser_connection
from rest_framework.test import APIClient

from api import demo
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from projections import integrity
from projections.integrity import ChainLink, Checkpoint
from projections.runner import catch_up

pytestmark = pytest.mark.django_db(transaction=True)
POSTGRES = connection.vendor == "postgresql"


@pytest.fixture
def chained(app: SafetyApplication, settings: Any) -> SafetyApplication:
    settings.CHECKPOINT_EVERY = 20
    demo.load(app, timezone.now())
    catch_up(app)
    return app


@contextmanager
def intruder(app: SafetyApplication) -> Iterator[Callable[[str, tuple[Any, ...]], None]]:
    """Run raw SQL on the event table as someone with direct database access (``{t}``, ``{id}`` placeholders)."""
    if POSTGRES:
        with superuser_connection() as admin:
            admin.execute("SET session_replication_role = replica")  # triggers off: only a superuser can

            def run(sql: str, params: tuple[Any, ...] = ()) -> None:
                admin.execute(sql.format(t="safetyapp_events", id="notification_id").replace("?", "%s"), params)

            yield run
    else:
        db = sqlite3.connect(app.env["SQLITE_DBNAME"])  # type: ignore[index]

        def run(sql: str, params: tuple[Any, ...] = ()) -> None:
            db.execute(sql.format(t="stored_events", id="rowid"), params)

        yield run
        db.commit()
        db.close()


def verify(app: SafetyApplication) -> integrity.Report:
    return integrity.verify(integrity.stored_events(app.recorder))


def row(app: SafetyApplication, position: int) -> Any:
    return app.recorder.select_notifications(start=position, limit=1)[0]


def test_an_untouched_log_verifies(chained: SafetyApplication):
    report = verify(chained)
    total = chained.recorder.max_notification_id()
    assert report.ok and report.problems == []
    assert report.events_checked == total == ChainLink.objects.count() > 50
    assert Checkpoint.objects.count() >= total // 20
    out = io.StringIO()
    call_command("verify_integrity", stdout=out)
    assert out.getvalue().startswith(f"OK: {total} events verified")


def test_a_modified_event_is_found_at_its_position(chained: SafetyApplication):
    target = row(chained, 30)
    forged = bytes(target.state).replace(b'"actor"', b'"actor" ', 1)
    assert forged != bytes(target.state)
    with intruder(chained) as sql:
        sql("UPDATE {t} SET state = ? WHERE {id} = ?", (forged, 30))
    report = verify(chained)
    assert not report.ok
    assert (report.problems[0].kind, report.problems[0].position) == ("modified", 30)
    assert len(report.problems) == 1, "one edit, one problem: the chain resumes from the stored link"
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_integrity", stdout=io.StringIO(), stderr=err)
    assert exit_.value.code == 1
    assert "modified at position 30" in err.getvalue()


def test_a_deleted_event_is_missing(chained: SafetyApplication):
    with intruder(chained) as sql:
        sql("DELETE FROM {t} WHERE {id} = ?", (41,))
    report = verify(chained)
    assert [(p.kind, p.position) for p in report.problems] == [("missing", 41)]


def test_a_forged_event_slipped_in_is_inserted(chained: SafetyApplication):
    victim = row(chained, 50)
    with intruder(chained) as sql:
        sql("DELETE FROM {t} WHERE {id} = ?", (50,))
        if POSTGRES:
            sql(
                "INSERT INTO {t} (notification_id, originator_id, originator_version, topic, state) "
                "VALUES (?, ?, 1, ?, ?)",
                (50, "00000000-0000-4000-8000-000000000050", victim.topic, bytes(victim.state)),
            )
        else:
            sql(
                "INSERT INTO {t} (rowid, originator_id, originator_version, topic, state) VALUES (?, ?, 1, ?, ?)",
                (50, "00000000-0000-4000-8000-000000000050", victim.topic, bytes(victim.state)),
            )
    report = verify(chained)
    assert report.problems[0].kind == "inserted" and report.problems[0].position == 50


def test_two_swapped_events_are_reordered(chained: SafetyApplication):
    with intruder(chained) as sql:
        sql("UPDATE {t} SET {id} = -1 WHERE {id} = ?", (55,))
        sql("UPDATE {t} SET {id} = 55 WHERE {id} = ?", (56,))
        sql("UPDATE {t} SET {id} = 56 WHERE {id} = -1")
    report = verify(chained)
    assert [(p.kind, p.position) for p in report.problems] == [("reordered", 55), ("reordered", 56)]


def test_a_forged_checkpoint_signature_is_caught(chained: SafetyApplication):
    checkpoint = Checkpoint.objects.order_by("position").first()
    assert checkpoint is not None
    forged = ("00" if checkpoint.signature[:2] != "00" else "11") + checkpoint.signature[2:]
    if POSTGRES:
        with superuser_connection() as admin:
            admin.execute("SET session_replication_role = replica")
            admin.execute("UPDATE projections_checkpoint SET signature = %s WHERE position = %s",
                          (forged, checkpoint.position))
    else:
        Checkpoint.objects.filter(position=checkpoint.position).update(signature=forged)
    report = verify(chained)
    assert [(p.kind, p.position) for p in report.problems] == [("bad_signature", checkpoint.position)]


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(chained: SafetyApplication):
    """The intruder edits an event and recomputes every link after it: only the signature can tell."""
    with intruder(chained) as sql:
        target = row(chained, 10)
        sql("UPDATE {t} SET state = ? WHERE {id} = ?", (bytes(target.state).replace(b"{", b"{ ", 1), 10))
    previous = bytes.fromhex(ChainLink.objects.get(position=9).hash)
    rewritten = []
    for n in integrity.stored_events(chained.recorder):
        if n.id >= 10:
            previous = integrity.next_hash(previous, n)
            rewritten.append((previous.hex(), n.id))
    if POSTGRES:
        with superuser_connection() as admin:
            admin.execute("SET session_replication_role = replica")
            for digest, position in rewritten:
                admin.execute("UPDATE projections_chainlink SET hash = %s WHERE position = %s", (digest, position))
    else:
        for digest, position in rewritten:
            ChainLink.objects.filter(position=position).update(hash=digest)
    report = verify(chained)
    first_checkpoint = Checkpoint.objects.filter(position__gte=10).order_by("position").first()
    assert first_checkpoint is not None
    assert (report.problems[0].kind, report.problems[0].position) == ("modified", first_checkpoint.position)


def test_audit_endpoints(
    app: SafetyApplication, settings: Any, user: Callable[[str], APIClient], anonymous: APIClient
):
    settings.CHECKPOINT_EVERY = 5
    chained = app
    auditor = user("auditor")  # builds the demo district (no hazards), chained as it is projected
    integrity.maybe_checkpoint(force=True)
    ok = auditor.get("/api/v1/audit/verify/")
    assert ok.status_code == 200
    body = ok.json()
    assert body["ok"] is True and body["events_checked"] == chained.recorder.max_notification_id()
    assert body["head"]["hash"] == ChainLink.objects.order_by("-position").first().hash
    refused = user("hm_principal").get("/api/v1/audit/verify/")
    assert refused.status_code == 403 and refused.json()["code"] == "role_not_permitted"
    key = anonymous.get("/api/v1/audit/public-key/").json()
    assert key == {"algorithm": "Ed25519", "public_key": integrity.public_key_hex()}
    checkpoints = user("hm_principal").get("/api/v1/audit/checkpoints/").json()["results"]
    assert checkpoints and all(
        integrity.signature_valid(c["position"], c["hash"], c["signature"], key["public_key"]) for c in checkpoints
    )
    with intruder(chained) as sql:
        sql("DELETE FROM {t} WHERE {id} = ?", (5,))
    after = user("auditor").get("/api/v1/audit/verify/").json()
    assert after["ok"] is False and after["problems"][0] == {
        "kind": "missing",
        "position": 5,
        "detail": after["problems"][0]["detail"],
    }


@pytest.mark.postgres
def test_the_application_role_cannot_update_or_delete_events(chained: SafetyApplication):
    assert POSTGRES, "this test needs the PostgreSQL run (scripts/test.sh)"
    for statement in (
        "UPDATE safetyapp_events SET topic = 'x' WHERE notification_id = 1",
        "DELETE FROM safetyapp_events WHERE notification_id = 1",
        "TRUNCATE safetyapp_events",
        "UPDATE projections_chainlink SET hash = 'x' WHERE position = 1",
        "DELETE FROM projections_checkpoint",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    with pytest.raises(Exception, match="append-only"):
        with chained.recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            cursor.execute("DELETE FROM safetyapp_events WHERE notification_id = 2")
    assert verify(chained).ok


def test_history_items_carry_their_chain_hash(
    app: SafetyApplication, user: Callable[[str], APIClient], world: demo.World
):
    principal = user("hm_principal")
    form = app.open_joint_form(
        actor=world.actor("hm_principal"), campaign=world.campaign, school=world.units["hongmei_school"]
    )
    app.update_joint_form(form.id, actor=world.actor("hm_officer"), changes={"sensitive_notes": "涉密"})
    app.update_joint_form(form.id, actor=world.actor("hm_principal"), changes={"guards_total": 2})
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"),
        campaign=world.campaign,
        school=world.units["hongmei_school"],
        inspection=None,
        item="CZ-01",
        description="消防通道堆放杂物",
        severity=Severity.GENERAL,
        location="食堂后门",
        rectified_on_spot=True,
    )
    catch_up(app)
    for path, originator in (
        (f"/api/v1/hazards/{hazard.id}/history/", hazard.id),
        (f"/api/v1/joint-forms/{form.id}/history/", form.id),
    ):
        items = principal.get(path).json()
        assert items, path
        for item in items:
            link = ChainLink.objects.get(originator_id=originator, originator_version=item["version"])
            assert item["hash"] == link.hash and len(item["hash"]) == 64
    # the hash is the chain's: recomputing it from the stored event and its predecessor gives the same
    link = ChainLink.objects.get(originator_id=hazard.id, originator_version=1)
    previous = bytes.fromhex(ChainLink.objects.get(position=link.position - 1).hash)
    assert integrity.next_hash(previous, row(app, link.position)).hex() == link.hash
