"""Tamper evidence (DESIGN §3): direct edits of the stored events are caught, named and located.

Each test builds the demo district (≈100 events, chained, with signed checkpoints), then plays the intruder with
direct database access — the SQLite file, or PostgreSQL's superuser bypassing the append-only triggers — and
checks what ``verify_integrity`` and ``audit/verify/`` say.
"""

from __future__ import annotations

import io
import json
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
    else:  # the log is in Django's database file (one database per installation)

        def run(sql: str, params: tuple[Any, ...] = ()) -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql.format(t="stored_events", id="rowid").replace("?", "%s"), params)

        yield run


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
    assert {k: key[k] for k in ("algorithm", "public_key")} == {
        "algorithm": "Ed25519",
        "public_key": integrity.public_key_hex(),
    }
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


# --- the chain's head is the log's head (issue 15: no unchained tail) ------------------------------------


def tamper_chain(sql: str, params: tuple[Any, ...] = ()) -> None:
    """Raw SQL on the chain and checkpoint tables, past PostgreSQL's append-only triggers when needed."""
    if POSTGRES:
        with superuser_connection() as admin:
            admin.execute("SET session_replication_role = replica")
            admin.execute(sql.replace("?", "%s"), params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)


def unchain_newest() -> int:
    """What a crash between the event's commit and its chain link leaves: the newest event without a link."""
    newest = ChainLink.objects.order_by("-position").values_list("position", flat=True).first()
    assert newest is not None
    tamper_chain("DELETE FROM projections_checkpoint WHERE position = ?", (newest,))
    tamper_chain("DELETE FROM projections_chainlink WHERE position = ?", (newest,))
    return newest


def run_verify(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_integrity", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def progressed(app: SafetyApplication, world: demo.World, user: Callable[[str], APIClient]) -> int:
    """A hazard recorded through the API whose newest event — the log's newest — is a progress report of 70 %."""
    school = str(world.units["hongmei_school"])
    staff = user("hm_staff")
    hazard = staff.post("/api/v1/hazards/", {
        "campaign": str(world.campaign), "school": school, "item": "CZ-01", "severity": "general",
        "description": "南校门缺少升降柱",
    }, format="json")
    assert hazard.status_code == 201, hazard.content
    assigned = user("hm_principal").post(f"/api/v1/hazards/{hazard.json()['id']}/assign/", {
        "owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01",
    }, format="json")
    assert assigned.status_code == 200, assigned.content
    progress = staff.post(f"/api/v1/hazards/{hazard.json()['id']}/progress/", {"percent": 70}, format="json")
    assert progress.status_code == 200, progress.content
    newest = app.recorder.max_notification_id()
    assert newest is not None and b'"percent":70' in bytes(row(app, newest).state).replace(b" ", b"")
    return newest


def edit_percent(app: SafetyApplication, position: int) -> None:
    """The intruder raises the newest progress report from 70 % to 100 % in the stored event's JSON state."""
    state = bytes(row(app, position).state)
    forged = state.replace(b'"percent":70', b'"percent":100').replace(b'"percent": 70', b'"percent": 100')
    assert forged != state
    with intruder(app) as sql:
        sql("UPDATE {t} SET state = ? WHERE {id} = ?", (forged, position))


def test_a_healthy_log_ends_where_the_chain_ends(progressed: int):
    code, out, err = run_verify("--json")
    assert code == 0, err
    report = json.loads(out[: out.rindex("}") + 1])
    assert report["ok"] is True and report["problems"] == []
    assert report["head"]["position"] == report["log_head"] == progressed
    assert f"head {progressed} " in out


def test_the_newest_event_edited_when_chained_is_modified(app: SafetyApplication, progressed: int):
    edit_percent(app, progressed)
    code, _, err = run_verify()
    assert code == 1
    assert f"modified at position {progressed}" in err


def test_the_newest_event_edited_when_not_chained_is_an_unchained_tail(app: SafetyApplication, progressed: int):
    assert unchain_newest() == progressed
    edit_percent(app, progressed)
    code, _, err = run_verify()
    assert code == 1, "an event the chain does not cover cannot be vouched for"
    assert f"unchained at position {progressed}" in err
    assert f"日志头 {progressed}，哈希链头 {progressed - 1}" in err


def test_the_newest_event_deleted_is_missing(app: SafetyApplication, progressed: int):
    with intruder(app) as sql:
        sql("DELETE FROM {t} WHERE {id} = ?", (progressed,))
    assert app.recorder.max_notification_id() == progressed - 1
    code, out, err = run_verify("--json")
    assert code == 1
    assert f"missing at position {progressed}" in err
    report = json.loads(out[: out.rindex("}") + 1])
    assert report["log_head"] == progressed - 1 and report["head"]["position"] == progressed
    assert [(p["kind"], p["position"]) for p in report["problems"]] == [("missing", progressed)]


def test_a_checkpoint_beyond_the_log_head_is_a_problem(app: SafetyApplication, progressed: int):
    """The newest events and their links deleted together: only the checkpoint signed over them remains."""
    integrity.maybe_checkpoint(force=True)
    assert Checkpoint.objects.filter(position=progressed).exists()
    with intruder(app) as sql:
        sql("DELETE FROM {t} WHERE {id} >= ?", (progressed - 1,))
    tamper_chain("DELETE FROM projections_chainlink WHERE position >= ?", (progressed - 1,))
    report = verify(app)
    assert not report.ok
    assert [(p.kind, p.position) for p in report.problems] == [("missing", progressed)]
    assert f"日志头 {progressed - 2}" in report.problems[0].detail


def test_audit_verify_names_the_unchained_tail(
    app: SafetyApplication, progressed: int, user: Callable[[str], APIClient]
):
    unchain_newest()
    body = user("auditor").get("/api/v1/audit/verify/").json()
    assert body["ok"] is False
    assert body["log_head"] == progressed and body["head"]["position"] == progressed - 1
    assert [(p["kind"], p["position"]) for p in body["problems"]] == [("unchained", progressed)]


def test_in_production_mode_too_an_event_after_the_chains_head_is_a_problem(
    app: SafetyApplication, progressed: int, settings: Any
):
    """With Kafka the events are chained in the transaction that stores them as well: no tail may wait."""
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9"  # verify never talks to the broker
    unchain_newest()
    assert [(p.kind, p.position) for p in verify(app).problems] == [("unchained", progressed)]
    code, _, err = run_verify()
    assert code == 1 and f"unchained at position {progressed}" in err


def test_a_command_committed_while_verify_runs_is_not_a_problem(
    app: SafetyApplication, progressed: int, world: demo.World
):
    """Events and links stored after verify read the chain are looked up again: a busy log still verifies."""

    def events_with_a_command_in_between() -> Iterator[Any]:
        hazard = next(n.originator_id for n in integrity.stored_events(app.recorder) if n.id == progressed)
        # verify has read the chain's links by now: this command's event and link come after
        app.report_progress(hazard, actor=world.actor("hm_staff"), note="", percent=80)
        catch_up(app)
        yield from integrity.stored_events(app.recorder)

    report = integrity.verify(events_with_a_command_in_between())
    assert report.ok, report.problems
    assert report.log_head == report.head["position"] == progressed + 1  # type: ignore[index]


def test_in_production_mode_the_newest_links_deleted_are_caught(
    app: SafetyApplication, progressed: int, settings: Any
):
    """Deleting the newest links cannot pass for a relay that is behind: the checkpoint signed over them remains."""
    settings.KAFKA_BOOTSTRAP_SERVERS = "127.0.0.1:9"
    integrity.maybe_checkpoint(force=True)
    tamper_chain("DELETE FROM projections_chainlink WHERE position >= ?", (progressed - 1,))
    report = verify(app)
    assert [(p.kind, p.position) for p in report.problems] == [
        ("unchained", progressed - 1),
        ("unchained", progressed),
    ]
    assert f"哈希链头 {progressed - 2}" in report.problems[0].detail
