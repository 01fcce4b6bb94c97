"""Write the golden installation of commit acff0eb (main on 2026-12-06): every event class of every aggregate, as
an embedded SQLite file and as a PostgreSQL dump of the same installation.

Run with THAT commit's code (this checkout, nothing changed outside ``tests/`` since acff0eb), into an empty
scratch directory, with a PostgreSQL 15 server whose role may create databases (``scripts/pg.sh``)::

    bash scripts/pg.sh start /tmp/pg-golden        # prints DATABASE_URL=postgresql://safety:safety@…/safety
    SAFETY_VAR_DIR=/tmp/gacff GOLDEN_POSTGRES_URL=postgresql://safety:safety@127.0.0.1:55432/safety \\
        .venv/bin/python tests/golden/make_acff0eb.py
    bash scripts/pg.sh stop /tmp/pg-golden

It migrates the scratch installation (embedded mode, its fixed public test keys in its own ``keys.json``), loads
the demo district at fixed business times in 2026 (hazards in every status, with photos), then runs commands
through the API and the web pages until the log holds an event of every event class the code defines — it fails
naming any class without one — and rotates the checkpoint signing key half-way (a key record, not an event: the
checkpoints before it verify under the retired key). ``state.installation_state`` gives ``expected.json``.

Then the same installation goes to PostgreSQL: a fresh database migrated by this code receives every row of the
SQLite file (the log at its positions, the read models, chain, checkpoints, keys' registry, stored copies and
photos, logins), ``manage.py backup`` writes its ``pg_dump -Fc``, and the dump is restored (``manage.py restore``)
into another fresh database where ``check_golden.py`` must see ``expected.json`` again, as opened and rebuilt; the
SQLite copy must too. Only then are the files written to ``tests/golden/acff0eb/`` and their SHA-256s to
``tests/golden/MANIFEST.sha256``. It refuses to write over an existing golden directory: golden logs are never
rewritten. An argument names another output directory (a reproduction elsewhere; no manifest change).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

COMMIT = "acff0eb"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / COMMIT
MANIFEST = HERE / "MANIFEST.sha256"
DATABASE = "safety.sqlite3"
DUMP = "safety.pgdump"
# Public test keys (the installation is a test fixture): derived from the commit, so every run uses the same.
KEYS = {
    name: hashlib.sha256(f"school-safety golden log {COMMIT} {name}".encode()).hexdigest()
    for name in ("DJANGO_SECRET_KEY", "INTEGRITY_SIGNING_KEY", "POLICE_CONTENT_KEY")
}
ROTATED_SIGNING_KEY = hashlib.sha256(f"school-safety golden log {COMMIT} rotated signing key".encode()).hexdigest()
CST = ZoneInfo("Asia/Shanghai")
DEMO_NOW = datetime(2026, 9, 30, 10, 0, tzinfo=CST)  # the demo starts 30 days before: 2026-08-31 10:00
PASSWORD = "golden-pass-2026"
UNSET = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "EVENT_STORE_SQLITE", *KEYS)


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> str:
    return datetime(2026, month, day, hour, minute, tzinfo=CST).isoformat()


def main() -> None:
    out = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else OUT  # another place: to reproduce it, not replace it
    if out.exists():
        sys.exit(f"{out} exists: a golden log is never rewritten")
    changed = subprocess.run(
        ["git", "diff", "--name-only", COMMIT, "--", ".", ":(exclude)tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if changed:
        sys.exit(f"run this with the code of {COMMIT}: changed since then: {changed[:10]}")
    written_by = subprocess.run(["git", "rev-parse", COMMIT], cwd=ROOT, capture_output=True, text=True, check=True)
    postgres = os.environ.get("GOLDEN_POSTGRES_URL", "")
    if not postgres.startswith("postgresql://"):
        sys.exit("set GOLDEN_POSTGRES_URL to a PostgreSQL 15 server's URL whose role may create databases")
    var = Path(os.environ["SAFETY_VAR_DIR"]).resolve()
    if var.exists() and any(var.iterdir()):
        sys.exit(f"SAFETY_VAR_DIR {var} is not empty")
    var.mkdir(parents=True, exist_ok=True)
    (var / "keys.json").write_text(json.dumps(KEYS, indent=2) + "\n", encoding="utf-8")
    os.chmod(var / "keys.json", 0o600)
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="api.settings", DJANGO_DEBUG="1", CHECKPOINT_EVERY="10", DEADLINE_WATCHER="off"
    )
    sys.path[:0] = [str(ROOT), str(HERE)]

    import django

    django.setup()
    import state
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    app = state.get_application()
    write_history(app, var)

    classes = state.event_classes()
    expected = state.installation_state(app)
    missing = sorted(set(classes) - set(expected["topics"]))
    if missing:
        sys.exit(f"event classes with no event in the log: {missing}")
    if not expected["verify"]["ok"] or len(expected.get("signing_keys", {})) < 2:
        sys.exit(f"verify or the key rotation went wrong: {expected['verify']} {expected.get('signing_keys')}")
    expected = {"commit": COMMIT, "written_by": written_by.stdout.strip(), "event_classes": classes, **expected}

    django.db.connections.close_all()
    app.close()
    staging = var.with_name(var.name + "-golden")
    staging.mkdir()
    db = sqlite3.connect(var / DATABASE)
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file: no -wal beside it when opened read-only
    db.close()
    if busy or (var / f"{DATABASE}-wal").exists():
        sys.exit(f"{DATABASE}: the WAL could not be checkpointed into it (still in use)")
    shutil.copyfile(var / DATABASE, staging / DATABASE)
    shutil.copyfile(var / "keys.json", staging / "keys.json")
    (staging / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    with databases(postgres, "golden_write", "golden_check") as (write_url, check_url):
        copy_to_postgres(var, write_url)
        run_on(var, "manage.py", "backup", str(staging / DUMP), database_url=write_url)
        # The dump must hold the same installation: restored elsewhere, opened and rebuilt by this code, it equals
        # expected.json; so must a copy of the SQLite file (a rebuild with the same code gives the same state).
        check_var = var.with_name(var.name + "-check")
        check_var.mkdir()
        shutil.copyfile(staging / "keys.json", check_var / "keys.json")
        run_on(check_var, "manage.py", "restore", str(staging / DUMP), database_url=check_url)
        compare(expected, run_on(check_var, str(HERE / "check_golden.py"), database_url=check_url), "PostgreSQL")
    copy_var = var.with_name(var.name + "-copy")
    copy_var.mkdir()
    for name in (DATABASE, "keys.json"):
        shutil.copyfile(staging / name, copy_var / name)
    compare(expected, run_on(copy_var, str(HERE / "check_golden.py")), "SQLite")

    shutil.copytree(staging, out)
    if out == OUT:
        write_manifest()
    sizes = ", ".join(f"{path.name} {path.stat().st_size // 1024} KiB" for path in sorted(out.iterdir()))
    print(
        f"golden log {COMMIT}: {expected['events']} events, {len(expected['aggregates'])} aggregates, "
        f"{len(classes)} event classes, head {expected['chain_head']}; {sizes}"
    )


def run_on(var: Path, *argv: str, database_url: str = "") -> str:
    """A script of this code on the installation in ``var`` (its keys from its keys.json), in its own process."""
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    env.update(SAFETY_VAR_DIR=str(var), **({"DATABASE_URL": database_url} if database_url else {}))
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode:
        sys.exit(f"{argv} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def compare(expected: dict[str, Any], printed: str, where: str) -> None:
    states = json.loads(printed.strip().splitlines()[-1])
    for phase in ("opened", "rebuilt"):
        differences = [key for key in states[phase] if states[phase][key] != expected[key]]
        if differences:
            sys.exit(f"{where}, {phase}: differs from expected.json in {differences}; nothing written")


@contextmanager
def databases(url: str, *names: str) -> Iterator[list[str]]:
    """Fresh databases on the server of ``url`` (created by its role), dropped afterwards."""
    import psycopg

    parsed = urlparse(url)
    unique = [f"{name}_{os.getpid()}" for name in names]
    with psycopg.connect(url, autocommit=True) as admin:
        for name in unique:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")  # type: ignore[arg-type]
            admin.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    try:
        yield [parsed._replace(path=f"/{name}").geturl() for name in unique]
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            for name in unique:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def copy_to_postgres(var: Path, url: str) -> None:
    """Every row of the embedded installation into a PostgreSQL database migrated by this code: the log with its
    positions (the chain, checkpoints and read models' positions refer to them), then every Django table by the
    ORM, primary keys and stored times as they are, then the id sequences moved past the copied rows."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connections, transaction

    from api.settings import database_from_url

    run_on(var, "manage.py", "migrate", "--verbosity", "0", database_url=url)
    alias = "golden_postgres"
    connections.settings[alias] = connections.configure_settings({"default": database_from_url(url)})["default"]
    models = [
        model for model in apps.get_models(include_auto_created=True) if model._meta.managed and not model._meta.proxy
    ]
    target = connections[alias]
    with transaction.atomic(using=alias), target.cursor() as cursor:
        # what the migrations wrote (content types, permissions, …) gives way to the installation's own rows
        cursor.execute(f"TRUNCATE {', '.join(target.ops.quote_name(m._meta.db_table) for m in models)} CASCADE")
        with sqlite3.connect(var / DATABASE) as source:
            rows = source.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
            ).fetchall()
        cursor.executemany(
            "INSERT INTO safetyapp_events (notification_id, originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows,
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('safetyapp_events', 'notification_id'), %s)", [rows[-1][0]]
        )
        for model in models:
            stamped = [
                f
                for f in model._meta.concrete_fields
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            ]
            saved = [(f, f.auto_now, f.auto_now_add) for f in stamped]  # type: ignore[attr-defined]
            for field in stamped:
                field.auto_now = field.auto_now_add = False  # type: ignore[attr-defined]
            try:
                objects = list(model._base_manager.using("default").order_by("pk"))
                model._base_manager.using(alias).bulk_create(objects, batch_size=200)
            finally:
                for field, now, now_add in saved:
                    field.auto_now, field.auto_now_add = now, now_add  # type: ignore[attr-defined]
        for statement in target.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)
    target.close()


def write_manifest() -> None:
    """Add this golden directory's files to the manifest; the other golden logs' lines stay as they are."""
    prefix = f"{COMMIT}/"
    lines = [line for line in (MANIFEST.read_text().splitlines() if MANIFEST.exists() else []) if line.strip()]
    lines = [line for line in lines if not line.split("  ", 1)[1].startswith(prefix)]
    for path in sorted(OUT.iterdir()):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {prefix}{path.name}")
    MANIFEST.write_text("\n".join(sorted(lines, key=lambda line: line.split("  ", 1)[1])) + "\n")


def golden_photo(color: tuple[int, int, int], label: str) -> bytes:
    """A photo as a phone takes it: a JPEG with its EXIF time and GPS position (the served copy drops the GPS)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 260, 480, 360), fill=(80, 80, 80))
    draw.rectangle((60, 60, 420, 220), outline=(250, 250, 250), width=8)
    draw.text((80, 120), label, fill=(255, 255, 255))
    exif = Image.Exif()
    exif[0x010F] = "GoldenCam"  # Make
    exif.get_ifd(0x8769)[0x9003] = "2026:10:12 09:30:00"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 46.0, 12.0), 3: "E", 4: (119.0, 57.0, 30.0)})
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=75, exif=exif)
    return out.getvalue()


def golden_pdf() -> bytes:
    """A one-page scan as a PDF (an attachment without a thumbnail)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (300, 400), (255, 255, 255))
    ImageDraw.Draw(image).text((30, 40), "purchase order 2026-09-04", fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PDF")
    return out.getvalue()


def write_history(app: Any, var: Path) -> None:
    """The demo district, then every command kind the demo leaves out, through the API and the web pages."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from rest_framework.test import APIClient

    from api import demo
    from domain.jointform.fields import FIELDS
    from projections.runner import catch_up, catch_up_notifications

    with transaction.atomic():
        get_user_model().objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
        world = demo.load(app, DEMO_NOW)
        catch_up(app)
    catch_up_notifications(app)
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

    def upload(username: str, name: str, color: tuple[int, int, int], caption: str) -> str:
        file = SimpleUploadedFile(name, golden_photo(color, caption), content_type="image/jpeg")
        response = client(username).post("/api/v1/attachments/", {"file": file, "caption": caption}, format="multipart")
        assert response.status_code == 201, response.content.decode()[:800]
        return str(response.json()["id"])

    def web(username: str, path: str, form: dict[str, str]) -> None:
        browser = Client(raise_request_exception=True)
        browser.force_login(get_user_model().objects.get(username=username))
        response = browser.post(path, form)
        assert response.status_code == 302, (path, response.status_code, response.content.decode()[:800])

    # Directory: a new member of staff (Appointed, with a login), moved to another school (RoleChanged), then
    # deactivated (Left); a school renamed and given a new code from a fixed moment (Unit.Changed).
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
    call(
        "admin",
        "post",
        f"units/{units['qinglong_school']}/change/",
        {"name": "青龙中学（青龙校区）", "code": "QL09", "effective_from": at(6, 0), "occurred_at": at(6, 8)},
    )

    # The campaign amended by its issuing bureau: a later report deadline.
    issuer = call("tn_inspector", "get", f"campaigns/{campaign}/")
    call(
        "tn_inspector",
        "post",
        f"campaigns/{campaign}/amend/",
        {"report_deadline": "2026-11-20", "occurred_at": at(7, 9), "expected_version": issuer["version"]},
    )

    # 附件1 of 红梅实验小学: opened, filled by both parties (the police side's confidential values and a photo sealed
    # into the form's PoliceNotes), a photo on a school field, signed by the 所长, changed by the school (his
    # signature voided), signed again by both, then submitted.
    form = call(
        "hm_principal",
        "post",
        "joint-forms/",
        {"campaign": campaign, "school": units["hongmei_school"], "occurred_at": at(8, 9)},
        201,
    )["id"]
    school_fields = {f.key: sample(f) for f in FIELDS if f.party == "school"}
    police_fields = {f.key: sample(f) for f in FIELDS if f.party == "police"}
    gate = upload("hm_principal", "gate.jpg", (40, 90, 160), "school gate")
    call(
        "hm_principal",
        "patch",
        f"joint-forms/{form}/",
        {**school_fields, "attachments": {first_key(FIELDS, "school"): [gate]}, "occurred_at": at(8, 10)},
    )
    patrol = upload("hm_officer", "patrol.jpg", (30, 30, 90), "patrol route")
    call(
        "hm_officer",
        "patch",
        f"joint-forms/{form}/",
        {**police_fields, "attachments": {police_only(FIELDS): [patrol]}, "occurred_at": at(8, 11)},
    )

    def sign(username: str, when: str, form: str = form) -> None:
        shown = call(username, "get", f"joint-forms/{form}/")
        call(
            username, "post", f"joint-forms/{form}/sign/", {"content_hash": shown["content_hash"], "occurred_at": when}
        )

    sign("hm_chief", at(8, 14))
    call("hm_principal", "patch", f"joint-forms/{form}/", {"cctv_cameras": 48, "occurred_at": at(8, 15)})
    sign("hm_chief", at(8, 16))
    sign("hm_principal", at(8, 17))
    call("hm_principal", "post", f"joint-forms/{form}/submit/", {"occurred_at": at(9, 9)})

    # The checkpoint signing key rotated half-way (a record of keys, not an event): the checkpoints so far stay
    # under the retired key, the next ones are signed by the new one (stored in the installation's keys.json).
    catch_up(app)
    seed = var / "rotated-signing-key"
    seed.write_text(ROTATED_SIGNING_KEY + "\n", encoding="ascii")
    call_command("rotate_signing_key", "--key-file", str(seed), stdout=io.StringIO())
    seed.unlink()

    # 附件1 of 青龙中学: filled by both parties and signed by the school's 校长 only (a draft with one signature).
    other = call(
        "ql_principal",
        "post",
        "joint-forms/",
        {"campaign": campaign, "school": units["qinglong_school"], "occurred_at": at(8, 9)},
        201,
    )["id"]
    call("ql_principal", "patch", f"joint-forms/{other}/", {**school_fields, "occurred_at": at(8, 10)})
    call("ql_chief", "patch", f"joint-forms/{other}/", {**police_fields, "occurred_at": at(8, 10, 30)})
    sign("ql_principal", at(8, 11), other)

    # A report submitted by the district bureau to both lines (its copies' bytes kept by the API).
    call("tn_inspector", "post", "submissions/", {"report": "suzhou-hazard-list", "campaign": campaign}, 201)

    # A late entry with a photo: a hazard found on 2026-09-02, recorded after everything above, assigned as of
    # 2026-09-03; and a hazard recorded twice by mistake, the copy voided.
    door = upload("hm_staff", "door.jpg", (150, 60, 40), "broken lock")
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
            "attachments": [door],
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
    scan = SimpleUploadedFile("lock-order.pdf", golden_pdf(), content_type="application/pdf")
    response = client("hm_staff").post(
        "/api/v1/attachments/", {"file": scan, "caption": "purchase order"}, format="multipart"
    )
    assert response.status_code == 201, response.content.decode()[:800]
    call(
        "hm_staff",
        "post",
        f"hazards/{hazard}/progress/",
        {
            "note": "门锁已订购",
            "percent": 30,
            "attachments": [response.json()["id"]],
            "occurred_at": at(4, 10, month=9),
        },
    )
    twice = call(
        "hm_staff",
        "post",
        "hazards/",
        {
            "campaign": campaign,
            "school": units["hongmei_school"],
            "item": "CZ-03",
            "description": "配电房门锁损坏（重复登记）",
            "severity": "general",
            "location": "配电房",
            "occurred_at": at(10, 9),
        },
        201,
    )["id"]
    call("hm_principal", "post", f"hazards/{twice}/void/", {"reason": "重复登记", "occurred_at": at(10, 10)})

    # Accounts: a notice signed for (签收), a password changed by its user, another reset by the administrator.
    catch_up(app)
    catch_up_notifications(app)
    signer, notice = first_notice(call)
    call(signer, "post", f"notifications/{notice}/acknowledge/")
    web(
        "ql_staff",
        "/account/",
        {
            "old_password": demo.DEMO_PASSWORD,
            "new_password1": PASSWORD,
            "new_password2": PASSWORD,
        },
    )
    web(
        "admin",
        "/account/",
        {
            "action": "reset",
            "username": "lh_principal",
            "new_password1": PASSWORD,
            "new_password2": PASSWORD,
        },
    )
    catch_up(app)
    catch_up_notifications(app)


def first_notice(call: Any) -> tuple[str, str]:
    """A notice of the demo's (督办, 上报, a missed deadline) to one of its users, not yet signed for."""
    for username in ("hm_principal", "hm_staff", "tn_leader", "tn_inspector", "ql_principal", "lh_principal"):
        listed = call(username, "get", "notifications/")
        for notice in listed["results"] if isinstance(listed, dict) else listed:
            if not notice.get("acknowledged_at"):
                return username, str(notice["id"])
    raise SystemExit("the demo has no notice to sign for")


def first_key(fields: Any, party: str) -> str:
    return str(next(f.key for f in fields if f.party == party and f.kind not in ("bool", "int")))


def police_only(fields: Any) -> str:
    """A police-only field (涉及保密、敏感信息): its value and attachments are sealed into the form's PoliceNotes."""
    return str(next(f.key for f in fields if f.police_only))


def sample(field: Any) -> Any:
    """A fixed answer for each cell of the form."""
    if field.kind == "bool":
        return True
    if field.kind == "int":
        return {"guards_total": 4, "guards_licensed": 4, "guards_over_age": 1}.get(field.key, 12)
    return f"{field.label}：已落实（金标日志）"


if __name__ == "__main__":
    main()
