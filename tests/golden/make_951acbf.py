"""Write the golden installation of commit 951acbf: every event class of every aggregate, in embedded mode.

Run with THAT commit's code, from its checkout, into an empty scratch directory::

    cd /work/main && git worktree add --detach /work/wt/golden-951 951acbf
    ln -s /work/main/.venv /work/wt/golden-951/.venv
    cd /work/wt/golden-951 && SAFETY_VAR_DIR=/tmp/g951 .venv/bin/python /work/wt/golden/tests/golden/make_951acbf.py

It migrates the scratch installation, loads the demo district at fixed business times in 2026, then runs commands
through that commit's API (and, for the demo, its application) until the log holds an event of every event class
the code defines — it fails naming any class without one. The read models are caught up (hash chain extended, a
checkpoint signed every 10 events), the state is written to ``expected.json`` by ``state.installation_state``,
the two databases (their WAL checkpointed into them) and ``keys.json`` are copied to ``tests/golden/951acbf/``,
and ``tests/golden/MANIFEST.sha256`` gets their SHA-256s. Finally the scratch installation is rebuilt with the
same code and must give the same state. It refuses to write over an existing golden directory: golden logs are
never rewritten. An argument names another output directory (to reproduce it elsewhere; no manifest change).

Commit 951acbf has no ``var/keys.json`` (later releases generate one): its keys come from the environment. The
script sets fixed, public test keys in the environment and writes them, in the later releases' ``keys.json``
format, beside the databases so that later code finds them where it looks for them.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

COMMIT = "951acbf"
HERE = Path(__file__).resolve().parent
OUT = HERE / COMMIT
MANIFEST = HERE / "MANIFEST.sha256"
FILES = ("events.sqlite3", "readmodels.sqlite3", "keys.json", "expected.json")
# Public test keys (the installation is a test fixture): derived from the commit, so every run uses the same.
KEYS = {
    name: hashlib.sha256(f"school-safety golden log {COMMIT} {name}".encode()).hexdigest()
    for name in ("DJANGO_SECRET_KEY", "INTEGRITY_SIGNING_KEY", "POLICE_CONTENT_KEY")
}
CST = ZoneInfo("Asia/Shanghai")
DEMO_NOW = datetime(2026, 9, 30, 10, 0, tzinfo=CST)  # the demo starts 30 days before: 2026-08-31 10:00
PASSWORD = "golden-pass-2026"


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> str:
    return datetime(2026, month, day, hour, minute, tzinfo=CST).isoformat()


def main() -> None:
    code = Path.cwd()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=code, capture_output=True, text=True, check=True).stdout
    if not head.startswith(COMMIT):
        sys.exit(f"run this from a checkout of {COMMIT} (the current directory is at {head.strip()})")
    out = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else OUT  # another place: to reproduce it, not replace it
    if out.exists():
        sys.exit(f"{out} exists: a golden log is never rewritten")
    var = Path(os.environ["SAFETY_VAR_DIR"])
    if var.exists() and any(var.iterdir()):
        sys.exit(f"SAFETY_VAR_DIR {var} is not empty")
    var.mkdir(parents=True, exist_ok=True)
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "EVENT_STORE_SQLITE"):
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="api.settings",
        DJANGO_DEBUG="1",
        CHECKPOINT_EVERY="10",
        DEADLINE_WATCHER="off",
        **KEYS,
    )
    (var / "keys.json").write_text(json.dumps(KEYS, indent=2) + "\n", encoding="utf-8")
    os.chmod(var / "keys.json", 0o600)
    sys.path[:0] = [str(code), str(HERE)]

    import django

    django.setup()
    import state
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    app = state.get_application()
    write_history(app)

    classes = state.event_classes()
    expected = state.installation_state(app)
    missing = sorted(set(classes) - set(expected["topics"]))
    if missing:
        sys.exit(f"event classes with no event in the log: {missing}")
    if not expected["verify"]["ok"] or not expected["checkpoints"]:
        sys.exit(f"verify or checkpoints wrong: {expected['verify']} {expected['checkpoints']}")
    expected = {
        "commit": COMMIT,
        "written_by": head.strip(),
        "event_classes": classes,
        **expected,
    }

    django.db.connections.close_all()
    app.close()
    staging = var.with_name(var.name + "-golden")
    staging.mkdir()
    for name in ("events.sqlite3", "readmodels.sqlite3"):
        db = sqlite3.connect(var / name)
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        db.close()
        if busy or (var / f"{name}-wal").exists():
            sys.exit(f"{name}: the WAL could not be checkpointed into it (still in use)")
        shutil.copyfile(var / name, staging / name)
    shutil.copyfile(var / "keys.json", staging / "keys.json")
    (staging / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    # The same code rebuilds the scratch copy to the same state, or the golden state would be no reference.
    importlib.import_module("api.eventstore").set_application(None, close_previous=False)
    call_command("rebuild_projections", "--workers", "1", verbosity=0, stdout=io.StringIO())
    rebuilt = state.installation_state(state.get_application())
    differences = [key for key in rebuilt if rebuilt[key] != expected[key]]
    if differences:
        sys.exit(f"the rebuild with {COMMIT}'s own code differs in {differences}; nothing written to {out}")
    shutil.copytree(staging, out)
    if out == OUT:
        write_manifest()
    print(
        f"golden log {COMMIT}: {expected['events']} events, {len(expected['aggregates'])} aggregates, "
        f"{len(classes)} event classes, head {expected['chain_head']}"
    )


def write_manifest() -> None:
    """Add this golden directory's files to the manifest; the other golden logs' lines stay as they are."""
    prefix = f"{COMMIT}/"
    lines = [line for line in (MANIFEST.read_text().splitlines() if MANIFEST.exists() else []) if line.strip()]
    lines = [line for line in lines if not line.split("  ", 1)[1].startswith(prefix)]
    for path in sorted(OUT.iterdir()):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {prefix}{path.name}")
    MANIFEST.write_text("\n".join(sorted(lines, key=lambda line: line.split("  ", 1)[1])) + "\n")


def write_history(app: Any) -> None:
    """The demo district, then every command kind the demo leaves out, through the API."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from rest_framework.test import APIClient

    from api import demo
    from domain.jointform.fields import FIELDS
    from projections.runner import catch_up

    with transaction.atomic():
        get_user_model().objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
        world = demo.load(app, DEMO_NOW)
    catch_up(app)
    campaign = str(world.campaign)
    units = {key: str(value) for key, value in world.units.items()}

    def client(username: str) -> APIClient:
        api = APIClient(raise_request_exception=True)
        api.force_authenticate(get_user_model().objects.get(username=username))
        return api

    def call(username: str, method: str, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        response = getattr(client(username), method)(f"/api/v1/{path}", body, format="json")
        assert response.status_code == status, (path, response.status_code, response.content.decode()[:800])
        return response.json()

    # Directory: a new member of staff (Appointed, with a login), moved to another school (RoleChanged), then
    # deactivated (Left); effective from fixed moments.
    call(
        "admin",
        "post",
        "users/",
        {
            "username": "hm_guard",
            "password": PASSWORD,
            "display_name": "孙保安",
            "phone": "0519-85680001",
            "unit": units["hongmei_school"],
            "role": "school_staff",
            "effective_from": at(1, 8),
        },
        201,
    )
    call(
        "admin",
        "post",
        "users/hm_guard/role/",
        {"unit": units["qinglong_school"], "role": "school_staff", "effective_from": at(3, 8)},
    )
    call("admin", "post", "users/hm_guard/deactivate/", {"effective_from": at(5, 17)})

    # 附件1 of 红梅实验小学: opened, filled by both parties (the police side's confidential note too), signed by the
    # 所长, changed by the school (his signature voided), signed again by both, then submitted.
    form = call(
        "hm_principal",
        "post",
        "joint-forms/",
        {"campaign": campaign, "school": units["hongmei_school"], "occurred_at": at(8, 9)},
        201,
    )["id"]
    school_fields = {f.key: sample(f) for f in FIELDS if f.party == "school"}
    police_fields = {f.key: sample(f) for f in FIELDS if f.party == "police"}
    call("hm_principal", "patch", f"joint-forms/{form}/", {**school_fields, "occurred_at": at(8, 10)})
    call("hm_officer", "patch", f"joint-forms/{form}/", {**police_fields, "occurred_at": at(8, 11)})

    def sign(username: str, when: str) -> None:
        shown = call(username, "get", f"joint-forms/{form}/")
        call(
            username, "post", f"joint-forms/{form}/sign/", {"content_hash": shown["content_hash"], "occurred_at": when}
        )

    sign("hm_chief", at(8, 14))
    call("hm_principal", "patch", f"joint-forms/{form}/", {"cctv_cameras": 48, "occurred_at": at(8, 15)})
    sign("hm_chief", at(8, 16))
    sign("hm_principal", at(8, 17))
    call("hm_principal", "post", f"joint-forms/{form}/submit/", {"occurred_at": at(9, 9)})

    # 附件1 of 青龙中学: filled by the school and signed by its 校长 only (a draft with one signature).
    other = call(
        "ql_principal",
        "post",
        "joint-forms/",
        {"campaign": campaign, "school": units["qinglong_school"], "occurred_at": at(8, 9)},
        201,
    )["id"]
    call("ql_principal", "patch", f"joint-forms/{other}/", {**school_fields, "occurred_at": at(8, 10)})
    shown = call("ql_principal", "get", f"joint-forms/{other}/")
    call(
        "ql_principal",
        "post",
        f"joint-forms/{other}/sign/",
        {"content_hash": shown["content_hash"], "occurred_at": at(8, 11)},
    )

    # A report submitted by the district bureau to both lines (its copies' bytes kept by the API).
    call("tn_inspector", "post", "submissions/", {"report": "suzhou-hazard-list", "campaign": campaign}, 201)

    # A late entry: a hazard found on 2026-09-02, recorded after everything above (and after the form's cutoff
    # and submission), then assigned as of 2026-09-03.
    hazard = call(
        "hm_staff",
        "post",
        "hazards/",
        {
            "campaign": campaign,
            "school": units["hongmei_school"],
            "item": "CZ-03",
            "description": "配电房门锁损坏，补录",
            "severity": "general",
            "location": "配电房",
            "occurred_at": at(2, 15, month=9),
        },
        201,
    )["id"]
    call(
        "hm_principal",
        "post",
        f"hazards/{hazard}/assign/",
        {
            "owner": "hm_staff",
            "owner_unit": units["hongmei_school"],
            "deadline": "2026-09-20",
            "standard": "更换门锁",
            "occurred_at": at(3, 9, month=9),
        },
    )
    catch_up(app)


def sample(field: Any) -> Any:
    """A fixed answer for each cell of the form."""
    if field.kind == "bool":
        return True
    if field.kind == "int":
        return {"guards_total": 4, "guards_licensed": 4, "guards_over_age": 1}.get(field.key, 12)
    return f"{field.label}：已落实（金标日志）"


if __name__ == "__main__":
    main()
