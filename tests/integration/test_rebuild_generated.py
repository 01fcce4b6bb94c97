"""The bulk projectors over the benchmark's generated history: a rebuild in large batches yields exactly the rows
that tiny batches (hazards and inspections split across batches, rows reloaded each time) produced."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from readmodels import dump_read_models as snapshot

from benchmarks.generate import generate
from domain.application import SafetyApplication
from projections.bluegreen import REBUILD_LOCK, SHADOW_SCHEMA
from projections.hazard.projector import projector as hazard_projector
from projections.hazard.rows import HazardLedger, HazardVersion
from projections.notifications import NotificationHazard, NotificationView
from projections.rebuild import RebuildFailed, rebuild
from projections.runner import catch_up, catch_up_notifications, pending


def test_rebuild_in_large_batches_equals_projection_in_small_ones(app: SafetyApplication) -> None:
    generate(app, 2500, seed=11, schools=3, batch=50)
    catch_up(app, batch_size=7)  # hazards and inspections cut across batches
    catch_up_notifications(app, batch_size=7)  # their own position (after each command's commit)
    small = snapshot()
    assert len(small["HazardVersion"]) > 1500 and len(small["AssessmentView"]) > 50
    kinds = {json.loads(row)["kind"] for row in small["NotificationView"]}
    assert {"deadline_missed", "escalated", "supervised"} <= kinds

    call_command("rebuild_projections", batch_size=1000)

    assert snapshot() == small


def test_one_event_per_batch_matches_one_batch(app: SafetyApplication) -> None:
    generate(app, 1200, seed=12, schools=2, batch=1)
    catch_up(app, batch_size=1)  # as in embedded mode: every event in its own batch
    catch_up_notifications(app, batch_size=1)
    split = snapshot()

    call_command("rebuild_projections", batch_size=5000)

    assert snapshot() == split


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # the workers are processes with their own connections
def test_parallel_rebuild_equals_projection_in_log_order(app: SafetyApplication) -> None:
    assert connection.vendor == "postgresql", "the parallel rebuild is PostgreSQL's"
    generate(app, 3000, seed=13, schools=5, batch=50)
    catch_up(app, batch_size=7)
    catch_up_notifications(app, batch_size=7)
    in_order = snapshot()
    assert HazardLedger.objects.values("school").distinct().count() == 5  # hazards in every school: all workers work

    out = io.StringIO()
    call_command("rebuild_projections", workers=3, batch_size=400, stdout=out)

    assert snapshot() == in_order
    assert pending(app) == 0
    assert f"from {app.recorder.max_notification_id()} events" in out.getvalue()

    # the tables do not grow with each rebuild: the swap deletes the live rows and inserts the shadow's, and the
    # space of the deleted ones is made reusable at once (VACUUM): they settle at about twice the rows' own size
    rebuild(app, workers=2, batch_size=5000)  # from scratch: TRUNCATE, the rows alone
    fresh = _history_table_size()
    for _ in range(3):
        call_command("rebuild_projections", workers=2, stdout=io.StringIO())
    assert _history_table_size() <= fresh * 2.5
    assert snapshot() == in_order


def _history_table_size() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('projections_hazardversion')")
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_worker_leaves_the_live_read_models_as_they_were_and_says_so(
    app: SafetyApplication, monkeypatch: Any
) -> None:
    generate(app, 800, seed=14, schools=4, batch=50)
    catch_up(app)
    catch_up_notifications(app)
    assert HazardLedger.objects.exists()
    live = snapshot()
    applied = hazard_projector.apply_batch

    def fail_on_escalation(events: Any) -> None:
        if any(type(e).__name__ == "Escalated" for e in events):
            raise RuntimeError("磁盘已满")
        applied(events)

    monkeypatch.setattr(hazard_projector, "apply_batch", fail_on_escalation)  # inherited by the forked workers
    with pytest.raises(CommandError, match="重建失败，读模型未改动.*磁盘已满"):
        call_command("rebuild_projections", workers=2, batch_size=100)
    assert snapshot() == live and pending(app) == 0  # the shadow was dropped, the live tables never emptied
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [SHADOW_SCHEMA])
        assert cursor.fetchone()[0] == 0

    # from scratch (a restore's rebuild: nobody uses the installation yet) the tables are emptied again
    with pytest.raises(RebuildFailed, match="磁盘已满"):
        rebuild(app, workers=2, batch_size=100)
    assert not HazardLedger.objects.exists() and not HazardVersion.objects.exists()
    assert pending(app) == app.recorder.max_notification_id()  # nothing counted as applied: a re-run starts over


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_rebuild_while_one_runs_is_refused_and_changes_nothing(app: SafetyApplication) -> None:
    """The shadow schema is one for the database: a rebuild started while another holds it would drop the other's
    shadow tables. It is refused with a plain message; the running one's shadow and the live tables are untouched."""
    generate(app, 300, seed=15, schools=3, batch=50)
    catch_up(app)
    catch_up_notifications(app)
    live = snapshot()
    running = connection.get_new_connection(connection.get_connection_params())  # the other rebuild's session
    running.autocommit = True
    try:
        running.execute("SELECT pg_advisory_lock(%s)", [REBUILD_LOCK])
        running.execute(f"CREATE SCHEMA {SHADOW_SCHEMA}")  # its shadow, which a second rebuild must not drop
        with pytest.raises(CommandError, match="另一个重建正在进行"):
            call_command("rebuild_projections", workers=1, batch_size=100)
        assert snapshot() == live
        found = running.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [SHADOW_SCHEMA]).fetchone()
        assert found == (1,)
        running.execute(f"DROP SCHEMA {SHADOW_SCHEMA}")
        running.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK])
        call_command("rebuild_projections", workers=1, batch_size=100, stdout=io.StringIO())  # its turn now
        assert snapshot() == live
    finally:
        running.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_swap_compares_live_and_shadow_rows_by_hashing_even_into_empty_live_tables(
    app: SafetyApplication, monkeypatch: Any
) -> None:
    """The swap makes the live tables equal to the shadow's by anti-joins under the commands' lock. A live table the
    planner believes empty — the notifications of a log their group never projected (a restored or upgraded
    installation) — was compared row by row, its INSERT scanning the rows it had inserted so far: at 1,000,000
    events the swap held the lock for over 12 minutes. Every comparison hashes, whatever the statistics say."""
    assert connection.vendor == "postgresql", "the plans are PostgreSQL's"
    generate(app, 2000, seed=16, schools=3, batch=50)
    catch_up(app, batch_size=500)  # the inline read models; the notifications' group never ran
    with connection.cursor() as cursor:
        for model in (NotificationView, NotificationHazard):
            cursor.execute(f"ANALYZE {model._meta.db_table}")  # empty, and known to be
    plans: dict[str, str] = {}

    def explained(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        """Each statement of the swap's comparison explained just before it runs, in its transaction."""
        if "rebuild_shadow" in sql and sql.startswith(("INSERT", "DELETE", "UPDATE")):
            context["cursor"].execute(f"EXPLAIN {sql}", params)
            plans[sql] = "\n".join(row[0] for row in context["cursor"].fetchall())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explained):
        call_command("rebuild_projections", batch_size=1000, stdout=io.StringIO())

    rebuilt = snapshot()
    catch_up_notifications(app, batch_size=500)  # what the group would have made: the same rows
    assert snapshot() == rebuilt
    assert len(rebuilt["NotificationView"]) > 300 and len(rebuilt["HazardVersion"]) > 1000
    tables = {model._meta.db_table for model in (HazardVersion, NotificationView, NotificationHazard)}
    assert tables <= {t for sql in plans for t in tables if f'"{t}"' in sql}
    for sql, plan in plans.items():
        assert "Nested Loop" not in plan, f"{sql[:120]}:\n{plan}"
