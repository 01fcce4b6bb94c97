"""Subprocess side of the crash test for every command kind (issue 15, point 2).

    python tests/integration/crash_every_command.py REPORT.json [SCENARIO-NAME-OR-ROUTE ...] [--shard=I/N]
    python tests/integration/crash_every_command.py REPORT.json --lock

One fresh installation (migrate + the demo district) in the database the environment names (SAFETY_VAR_DIR for
SQLite, or DATABASE_URL, with CRASH_ADMIN_URL a superuser's URL for copying the PostgreSQL database). Then, for
each scenario — one command sent through the HTTP API (Django's test client, logged in as the demo user who may
send it), or through a web page or the admin — in order:

1. a dry run in a forked child counts the command's SQL statements (every ``execute``/``executemany`` of the
   database driver's cursors, the library's and Django's alike, and every commit of Django's) and gives the
   command's effect: how many rows of each table it inserts, updates and deletes (the log included);
2. for N = 1 … that count, a forked child sends the command and dies (``os._exit``) right after statement N; the
   parent, on fresh connections and a fresh application (a restart), checks that either nothing of the command
   was recorded (every table, row by row, as before) or all of it (the dry run's effect), that the chain's head,
   the tracking position and the log's head agree, that the log verifies, and that the same request sent again
   (same ``Idempotency-Key``) succeeds and leaves the command recorded once;
3. the installation is put back as it was before the command after every crash point (a copy of the var
   directory, or a PostgreSQL template database), and as the dry run left it before the next scenario.

The report (JSON) lists, per scenario, the route, the statements counted, the violations found and the seconds
taken. The commands go through the product's path (``api.services.execute``); CRASH_PATH=late-write adds, after
each command, a write in a transaction of its own — what the check must find (the harness's own test). A crash
after the commit leaves the command recorded; its retry with the same ``Idempotency-Key`` must then record nothing
more — when the product honours the key (probed at set-up, or CRASH_IDEMPOTENT=1); otherwise that is a note.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import django

COUNTER: dict[str, int] = {"n": 0, "crash_at": 0, "depth": 0, "on": 0}
CRASHED = 1  # the child's exit status after a crash point


# --- crash points ------------------------------------------------------------------------------------------


def install_crash_points(crash_at: int) -> None:
    """Count every SQL statement (the outermost wrapper only) and every commit of Django's; die right after
    number ``crash_at``."""
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    COUNTER.update(n=0, crash_at=crash_at, depth=0, on=0)
    classes: list[Any] = []
    if connection.vendor == "postgresql":
        import psycopg

        classes.append(psycopg.Cursor)
    else:
        from django.db.backends.sqlite3.base import SQLiteCursorWrapper
        from eventsourcing.sqlite import SQLiteCursor

        classes += [SQLiteCursorWrapper, SQLiteCursor]  # Django's, and the library's own connections' cursors
    for cls in classes:
        for name in ("execute", "executemany"):
            setattr(cls, name, _counted(getattr(cls, name)))
    BaseDatabaseWrapper._commit = _counted(BaseDatabaseWrapper._commit)  # type: ignore[method-assign]


def _counted(original: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        COUNTER["depth"] += 1
        try:
            result = original(*args, **kwargs)
        finally:
            COUNTER["depth"] -= 1
        if COUNTER["on"] and COUNTER["depth"] == 0:
            COUNTER["n"] += 1
            if COUNTER["n"] == COUNTER["crash_at"]:
                os._exit(CRASHED)
        return result

    return counted


# --- the installation ----------------------------------------------------------------------------------------


def crash_path() -> str:
    return os.environ.get("CRASH_PATH", "product")


def restart() -> Any:
    """A fresh application (and, lazily, fresh database connections): what a restarted server would have — with
    the notifications caught up, as ``serve`` does at start (they lag the command: applied after its commit, a
    crash between the two leaves them to the next catch-up, so they are no part of the command's effect)."""
    from projections.eventstore import get_application
    from projections.runner import catch_up_notifications

    shut_down()
    app = get_application()
    catch_up_notifications(app)
    return app


def shut_down() -> None:
    """As a clean shutdown: the thumbnails being made after their uploads' commits finished (they lag the upload,
    as the notifications lag a command), the application and the connections closed."""
    from django.db import connections

    from projections.attachments import wait_for_thumbnails
    from projections.eventstore import set_application

    wait_for_thumbnails()
    set_application(None)
    connections.close_all()


LATE_WRITE_TABLE = "crash_late_write"


def use_late_write() -> None:
    """The harness's own check (CRASH_PATH=late-write): every command is followed by a write in a transaction of
    its own — a crash between the two must be found."""
    from django.db import connection

    import api.services

    def execute(command: Callable[[Any], Any]) -> Any:
        result = original(command)
        with connection.cursor() as cursor:  # autocommit: its own transaction
            cursor.execute(f"INSERT INTO {LATE_WRITE_TABLE} (at) VALUES (%s)", [time.time()])
        return result

    original = api.services.execute
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("api") and getattr(module, "execute", None) is original:
            module.execute = execute  # type: ignore[attr-defined]


class Store:
    """Copies of the installation: the var directory (SQLite: both files whatever the layout), or, on
    PostgreSQL, every table copied into a schema of its own (``crash_<name>``) with the sequences' values; a
    restore puts back the tables that differ (faster than a template database, ~0.1 s against ~0.4 s)."""

    def __init__(self) -> None:
        from django.conf import settings
        from django.db import connection

        self.postgres = connection.vendor == "postgresql"
        if self.postgres:
            parsed = urlparse(os.environ["CRASH_ADMIN_URL"])  # a superuser: past the log's append-only triggers
            self.admin_url = parsed._replace(path="/" + str(connection.settings_dict["NAME"])).geturl()
            self.sequences: dict[str, list[tuple[str, Any, bool]]] = {}
        else:
            self.var = Path(settings.VAR_DIR)
            self.copies = self.var.parent / (self.var.name + "-copies")
            self.copies.mkdir(exist_ok=True)

    def _admin(self) -> Any:
        import psycopg

        c = psycopg.connect(self.admin_url, autocommit=True)
        c.execute("SET session_replication_role = replica")  # no triggers: the log's, the foreign keys'
        return c

    def save(self, name: str) -> None:
        shut_down()
        if not self.postgres:
            target = self.copies / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(self.var, target)
            return
        with self._admin() as c:
            c.execute(f"DROP SCHEMA IF EXISTS crash_{name} CASCADE")
            c.execute(f"CREATE SCHEMA crash_{name}")
            for table in sorted(TABLES.keys() | VOLATILE_TABLES):
                c.execute(f'CREATE TABLE crash_{name}."{table}" AS TABLE public."{table}"')
            rows = c.execute(
                "SELECT sequencename, last_value IS NOT NULL, coalesce(last_value, start_value) FROM pg_sequences"
                " WHERE schemaname = 'public'"
            ).fetchall()
            self.sequences[name] = [(seq, value, called) for seq, called, value in rows]

    def restore(self, name: str, tables: set[str]) -> None:
        """Back to the copy ``name``; on PostgreSQL ``tables`` are those that differ from it."""
        shut_down()
        if not self.postgres:
            for f in self.var.iterdir():
                if f.is_file():
                    f.unlink()
            for f in (self.copies / name).iterdir():
                shutil.copy2(f, self.var / f.name)
            return
        # the sessions too, though no diff names them (VOLATILE_TABLES): a password change rotates its session
        with self._admin() as c, c.transaction():
            for table in sorted((tables & TABLES.keys()) | VOLATILE_TABLES):
                c.execute(f'DELETE FROM public."{table}"')
                c.execute(f'INSERT INTO public."{table}" OVERRIDING SYSTEM VALUE SELECT * FROM crash_{name}."{table}"')
            for seq, value, called in self.sequences[name]:
                c.execute("SELECT setval(%s, %s, %s)", (f'public."{seq}"', value, called))

    def drop_copies(self) -> None:
        shut_down()
        if not self.postgres:
            shutil.rmtree(self.copies, ignore_errors=True)
            return
        with self._admin() as c:
            for name in self.sequences:
                c.execute(f"DROP SCHEMA IF EXISTS crash_{name} CASCADE")


# --- what is recorded -----------------------------------------------------------------------------------------

# the logins' sessions, made at set-up: left out of what a command recorded (a password change rotates its own),
# put back by every restore as the SQLite copies do
VOLATILE_TABLES = {"django_session"}


TABLES: dict[str, list[str]] = {}  # every table, with its primary key's columns


def _value(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview) else v


def state() -> dict[str, Any]:
    """Every table, row by row (a digest per primary key), the log, the chain's head and the tracking position."""
    from django.db import connection

    from projections import integrity
    from projections.eventstore import get_application
    from projections.runner import position

    tables: dict[str, dict[str, str]] = {}
    with connection.cursor() as cursor:
        if not TABLES:  # the schema is the same throughout: looked up once
            for table in sorted(connection.introspection.table_names(cursor)):
                if table not in VOLATILE_TABLES:
                    TABLES[table] = connection.introspection.get_primary_key_columns(cursor, table) or []
        for table, pks in TABLES.items():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [d[0] for d in cursor.description]
            rows: dict[str, str] = {}
            for row in cursor.fetchall():
                values = tuple(_value(v) for v in row)
                digest = hashlib.sha256(repr(values).encode()).hexdigest()
                key = repr(tuple(values[columns.index(c)] for c in pks)) if pks else digest
                while key in rows:  # a table without a primary key holding the same row twice
                    key += "+"
                rows[key] = digest
            tables[table] = rows
    log: dict[str, str] = {}
    for n in integrity.stored_events(get_application().recorder):
        identity = (n.originator_id, n.originator_version, n.topic, n.state)
        log[str(n.id)] = hashlib.sha256(repr(identity).encode()).hexdigest()
    tables["<log>"] = log  # the log wherever it is (its own file, Django's database, PostgreSQL)
    return {
        "tables": tables,
        "log_head": max((int(k) for k in log), default=0),
        "chain_head": integrity.head()[0],
        "tracking": position(),
    }


def effect(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[int]]:
    """Per table changed: rows inserted, updated, deleted."""
    out: dict[str, list[int]] = {}
    for table in sorted(set(before["tables"]) | set(after["tables"])):
        b, a = before["tables"].get(table, {}), after["tables"].get(table, {})
        inserted = len(a.keys() - b.keys())
        deleted = len(b.keys() - a.keys())
        updated = sum(1 for k in a.keys() & b.keys() if a[k] != b[k])
        if inserted or deleted or updated:
            out[table] = [inserted, updated, deleted]
    return out


def problems(s: dict[str, Any]) -> list[str]:
    """The restarted installation's log verifies, and its chain and tracking position stand at the log's head."""
    from projections import integrity
    from projections.eventstore import get_application

    found = []
    if not s["log_head"] == s["chain_head"] == s["tracking"]:
        found.append(f"log head {s['log_head']}, chain head {s['chain_head']}, tracking position {s['tracking']}")
    report = integrity.verify(integrity.stored_events(get_application().recorder))
    if not report.ok:
        found.append(f"verify_integrity: {report.problems[0].kind} at {report.problems[0].position}")
    return found


# --- scenarios ------------------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str  # post | patch
    path: str
    body: dict[str, Any]
    user: str
    kind: str = "api"  # api: token + JSON; page: session + form fields (web pages, the admin)
    status: tuple[int, ...] = (200, 201)


@dataclass
class Ctx:
    world: Any
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    idempotent: bool = False  # the product honours Idempotency-Key (probed at set-up)

    def unit(self, key: str) -> str:
        return str(self.world.units[key])


@dataclass
class Scenario:
    route: str  # the route as the URL conf spells it
    name: str
    request: Callable[[Ctx], Request]
    prepare: Callable[[Ctx], Any] | None = None  # brings the installation to where the command can run
    done: Callable[[Ctx, Any], None] | None = None  # notes ids from the dry run's answer


def now(hours: float = 0) -> str:
    from django.utils import timezone

    return (timezone.localtime() + timedelta(hours=hours)).isoformat()


def day(days: int) -> str:
    from django.utils import timezone

    return (timezone.localdate() + timedelta(days=days)).isoformat()


def client(ctx: Ctx, request: Request) -> Any:
    from django.conf import settings
    from rest_framework.test import APIClient

    c = APIClient(raise_request_exception=False)
    if request.kind == "api":
        c.credentials(HTTP_AUTHORIZATION=f"Token {ctx.tokens[request.user]}")
    else:
        c.cookies[settings.SESSION_COOKIE_NAME] = ctx.sessions[request.user]
    return c


def send(ctx: Ctx, request: Request, key: str | None) -> Any:
    c = client(ctx, request)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    if request.kind == "api":
        return getattr(c, request.method)(f"/api/v1/{request.path}", request.body, format="json", **headers)
    return getattr(c, request.method)(f"/{request.path}", request.body, **headers)


def answer(response: Any) -> Any:
    try:
        return response.json()
    except Exception:  # noqa: BLE001 — a page or a redirect
        return response.content.decode(errors="replace")[:300]


def api(ctx: Ctx, user: str, method: str, path: str, body: dict[str, Any]) -> Any:
    """A request in the parent (setting up a scenario), which must succeed."""
    response = send(ctx, Request(method, path, body, user), f"setup-{time.monotonic_ns()}")
    assert response.status_code in (200, 201), (path, response.status_code, answer(response))
    return response.json()


def upload_photo(ctx: Ctx, user: str, key: str) -> str:
    """A photo uploaded by ``user`` (its own transaction, before the command that attaches it), noted as ``key``."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apihelpers import jpeg

    color = tuple(hashlib.sha256(key.encode()).digest()[:3])
    body = {"file": SimpleUploadedFile(f"{key}.jpg", jpeg(color=color), content_type="image/jpeg")}
    response = client(ctx, Request("post", "", {}, user)).post("/api/v1/attachments/", body, format="multipart")
    assert response.status_code == 201, answer(response)
    ctx.ids[key] = response.json()["id"]
    return ctx.ids[key]


def content_hash(ctx: Ctx, form: str, user: str) -> str:
    c = client(ctx, Request("get", "", {}, user))
    return str(c.get(f"/api/v1/joint-forms/{form}/").json()["content_hash"])


def hazard_command(name: str, user: str, body: Callable[[Ctx], dict[str, Any]], **extra: Any) -> Scenario:
    return Scenario(
        f"api/v1/hazards/<str:pk>/{name}/",
        extra.pop("label", name),
        lambda ctx: Request("post", f"hazards/{ctx.ids['hazard']}/{name}/", body(ctx), user),
        **extra,
    )


def note(key: str) -> Callable[[Ctx, Any], None]:
    return lambda ctx, body: ctx.ids.__setitem__(key, body["id"])


def sign(user: str) -> Callable[[Ctx], Request]:
    def request(ctx: Ctx) -> Request:
        body = {"content_hash": content_hash(ctx, ctx.ids["form"], user)}
        return Request("post", f"joint-forms/{ctx.ids['form']}/sign/", body, user)

    return request


def open_page_form(ctx: Ctx) -> None:
    body = {"campaign": str(ctx.world.campaign), "school": ctx.unit("lanling_school")}
    ctx.ids["page_form"] = api(ctx, "lh_principal", "post", "joint-forms/", body)["id"]


def fill_page_form(ctx: Ctx) -> None:
    from apihelpers import POLICE_FILLED, SCHOOL_FILLED

    api(ctx, "lh_principal", "patch", f"joint-forms/{ctx.ids['page_form']}/", SCHOOL_FILLED)
    api(ctx, "hm_officer", "patch", f"joint-forms/{ctx.ids['page_form']}/", POLICE_FILLED)


def page_sign(user: str) -> Callable[[Ctx], Request]:
    def request(ctx: Ctx) -> Request:
        body = {"action": "sign", "content_hash": content_hash(ctx, ctx.ids["page_form"], user)}
        return Request("post", f"forms/joint/{ctx.ids['page_form']}/", body, user, "page", (302,))

    return request


def photo_file(name: str) -> Any:
    """A JPEG as a phone's file input sends it (the web pages take photos in their own form, not by id)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apihelpers import jpeg

    color = tuple(hashlib.sha256(name.encode()).digest()[:3])
    return SimpleUploadedFile(name, jpeg(color=color), content_type="image/jpeg")


def first_notice(user: str, key: str) -> Callable[[Ctx], None]:
    """Notes as ``key`` the id of the newest notice of ``user`` not signed for yet (the demo sends several)."""

    def prepare(ctx: Ctx) -> None:
        response = client(ctx, Request("get", "", {}, user)).get("/api/v1/notifications/", {"limit": 100})
        assert response.status_code == 200, answer(response)
        body = response.json()
        rows = body["results"] if isinstance(body, dict) else body
        unsigned = [
            row["id"] for row in rows if not row.get("acknowledged_at") and str(row["id"]) not in ctx.ids.values()
        ]
        assert unsigned, f"{user} has no notice to sign for"
        ctx.ids[key] = str(unsigned[0])

    return prepare


def demo_password() -> str:
    from api.demo import DEMO_PASSWORD

    return DEMO_PASSWORD


def import_file() -> Any:
    """The import page's own template with one school and one person (all or nothing, one transaction)."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from openpyxl import load_workbook

    from api.web import bulkimport

    book = load_workbook(io.BytesIO(bulkimport.template()))
    for name, row in (
        (bulkimport.UNIT_SHEET, ["崩溃测试小学", "学校", "天宁区", "天宁区教育局", "红梅派出所", "小学", "否", "BK01"]),
        (bulkimport.STAFF_SHEET, ["bk_staff", "崩老师", "", "崩溃测试小学", "学校工作人员", "Chushi-mima-2026"]),
    ):
        sheet = book[name]
        sheet.delete_rows(2, sheet.max_row)
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return SimpleUploadedFile("导入.xlsx", out.getvalue())


def scenarios() -> list[Scenario]:
    """Every command kind, in an order in which each finds what it needs (ids noted from earlier answers)."""
    from apihelpers import POLICE_FILLED, SCHOOL_FILLED

    def school_body(ctx: Ctx, name: str, code: str) -> dict[str, Any]:
        return {
            "kind": "school",
            "name": name,
            "code": code,
            "district": "天宁区",
            "parent": ctx.unit("district_bureau"),
            "police_station": ctx.unit("hongmei_station"),
            "stage": "小学",
        }

    return [
        # --- the directory -------------------------------------------------------------------------------
        Scenario(
            "api/v1/units/",
            "register a school",
            lambda ctx: Request("post", "units/", school_body(ctx, "白云小学", "BY01"), "admin"),
            done=note("school"),
        ),
        Scenario(
            "api/v1/units/<str:pk>/change/",
            "rename a school",
            lambda ctx: Request(
                "post", f"units/{ctx.ids['school']}/change/", {"name": "白云实验小学", "effective_from": now()}, "admin"
            ),
        ),
        Scenario(
            "api/v1/users/",
            "create a user (staff member and login)",
            lambda ctx: Request(
                "post",
                "users/",
                {
                    "username": "by_staff",
                    "password": "crash-pass-2026",
                    "display_name": "白老师",
                    "unit": ctx.ids["school"],
                    "role": "school_staff",
                },
                "admin",
            ),
        ),
        Scenario(
            "api/v1/users/<str:username>/role/",
            "change a user's role",
            lambda ctx: Request(
                "post", "users/by_staff/role/", {"unit": ctx.ids["school"], "role": "school_principal"}, "admin"
            ),
        ),
        Scenario(
            "api/v1/users/<str:username>/deactivate/",
            "deactivate a user",
            lambda ctx: Request("post", "users/by_staff/deactivate/", {}, "admin"),
        ),
        Scenario(
            "admin/projections/unitview/add/",
            "admin: register a unit",
            lambda ctx: Request(
                "post", "admin/projections/unitview/add/", school_body(ctx, "东坡小学", "DP01"), "admin", "page", (302,)
            ),
        ),
        Scenario(
            "admin/projections/staffview/add/",
            "admin: appoint a staff member",
            lambda ctx: Request(
                "post",
                "admin/projections/staffview/add/",
                {
                    "username": "ad_staff",
                    "display_name": "东老师",
                    "phone": "0519-1",
                    "unit": ctx.unit("lanling_school"),
                    "role": "school_staff",
                    "effective_from": now(-2)[:19].replace("T", " "),
                },
                "admin",
                "page",
                (302,),
            ),
        ),
        Scenario(
            "admin/projections/staffview/<path:object_id>/change/",
            "admin: change a staff member's role",
            lambda ctx: Request(
                "post",
                "admin/projections/staffview/ad_staff/change/",
                {
                    "unit": ctx.unit("lanling_school"),
                    "role": "school_principal",
                    "effective_from": now(-1)[:19].replace("T", " "),
                },
                "admin",
                "page",
                (302,),
            ),
        ),
        # --- campaigns and inspections -------------------------------------------------------------------
        Scenario(
            "api/v1/campaigns/",
            "launch a campaign",
            lambda ctx: Request(
                "post",
                "campaigns/",
                {"title": "寒假前检查", "template": "suzhou", "statistics_cutoff": day(40), "report_deadline": day(47)},
                "tn_leader",
            ),
            done=note("campaign"),
        ),
        Scenario(
            "api/v1/campaigns/<str:pk>/amend/",
            "amend a campaign",
            lambda ctx: Request(
                "post", f"campaigns/{ctx.ids['campaign']}/amend/", {"report_deadline": day(50)}, "tn_leader"
            ),
        ),
        Scenario(
            "api/v1/inspections/",
            "schedule an inspection",
            lambda ctx: Request(
                "post",
                "inspections/",
                {
                    "campaign": str(ctx.world.campaign),
                    "school": ctx.unit("hongmei_school"),
                    "kind": "self",
                    "inspectors": ["hm_staff"],
                },
                "hm_staff",
            ),
            done=note("inspection"),
        ),
        Scenario(
            "api/v1/inspections/<str:pk>/assessments/",
            "assess an item",
            lambda ctx: Request(
                "post",
                f"inspections/{ctx.ids['inspection']}/assessments/",
                {"item": "CZ-01", "result": "fail", "note": "围墙破损"},
                "hm_staff",
            ),
        ),
        Scenario(
            "api/v1/inspections/<str:pk>/complete/",
            "complete an inspection",
            lambda ctx: Request("post", f"inspections/{ctx.ids['inspection']}/complete/", {}, "hm_staff"),
        ),
        # --- a hazard's life -----------------------------------------------------------------------------
        Scenario(
            "api/v1/hazards/",
            "discover a hazard",
            lambda ctx: Request(
                "post",
                "hazards/",
                {
                    "campaign": str(ctx.world.campaign),
                    "school": ctx.unit("hongmei_school"),
                    "item": "CZ-01",
                    "description": "校门口升降柱损坏",
                    "severity": "general",
                    "location": "北校门",
                },
                "hm_staff",
            ),
            done=note("hazard"),
        ),
        hazard_command(
            "assign",
            "hm_principal",
            lambda ctx: {"owner": "hm_staff2", "owner_unit": ctx.unit("hongmei_school"), "deadline": day(30)},
        ),
        hazard_command(
            "transfer",
            "hm_principal",
            lambda ctx: {"owner": "hm_staff", "owner_unit": ctx.unit("hongmei_school"), "reason": "赵后勤调岗"},
        ),
        hazard_command(
            "plan",
            "hm_staff",
            lambda ctx: {"measures": "更换升降柱", "funds": "学校自筹", "deadline": day(25), "beyond_capacity": True},
        ),
        hazard_command("interim-measures", "hm_staff", lambda ctx: {"measures": "上下学时段加派保安"}),
        hazard_command("progress", "hm_staff", lambda ctx: {"note": "已采购", "percent": 40}),
        hazard_command(
            "escalate", "hm_principal", lambda ctx: {"to_unit": ctx.unit("district_bureau"), "reason": "需区里协调资金"}
        ),
        hazard_command("supervise", "tn_leader", lambda ctx: {"note": "挂牌督办"}),
        hazard_command("extend", "tn_leader", lambda ctx: {"new_deadline": day(45), "reason": "资金审批需时"}),
        hazard_command(  # with a photo uploaded before: the command pins it in its transaction
            "rectify",
            "hm_staff",
            lambda ctx: {"note": "已更换", "evidence": ["照片"], "attachments": [ctx.ids["photo"]]},
            prepare=lambda ctx: upload_photo(ctx, "hm_staff", "photo"),
        ),
        hazard_command(
            "verify", "hm_principal", lambda ctx: {"accepted": False, "note": "缺少验收照片"}, label="verify: reject"
        ),
        hazard_command(
            "verify",
            "hm_principal",
            lambda ctx: {"accepted": True, "note": "验收合格"},
            label="verify: accept",
            prepare=lambda ctx: api(
                ctx,
                "hm_staff",
                "post",
                f"hazards/{ctx.ids['hazard']}/rectify/",
                {"note": "补照片", "attachments": [upload_photo(ctx, "hm_staff", "photo2")]},
            ),
        ),
        hazard_command("reopen", "tn_inspector", lambda ctx: {"reason": "督查发现再次损坏"}),
        Scenario(  # the hazard page's action form with a photo from the phone: stored and pinned in one transaction
            "hazards/<uuid:pk>/do/<str:command>/",
            "web page: report progress with a photo",
            lambda ctx: Request(
                "post",
                f"hazards/{ctx.ids['hazard']}/do/progress/",
                {"percent": "60", "note": "网页报告进度", "photos": photo_file("进度.jpg")},
                "hm_staff",
                "page",
                (302,),
            ),
        ),
        hazard_command("void", "hm_principal", lambda ctx: {"reason": "重复登记"}),
        Scenario(  # 隐患登记 from the phone: its photos stored and the discovery recorded in one transaction
            "hazards/new/",
            "web page: record a hazard with a photo",
            lambda ctx: Request(
                "post",
                "hazards/new/",
                {
                    "campaign": str(ctx.world.campaign),
                    "school": ctx.unit("hongmei_school"),
                    "item": "CZ-01",
                    "description": "网页登记：消防栓漏水",
                    "severity": "general",
                    "location": "操场",
                    "photos": photo_file("消防栓.jpg"),
                },
                "hm_staff",
                "page",
                (302,),
            ),
        ),
        # --- a joint form (常州 附件1) -----------------------------------------------------------------------
        Scenario(
            "api/v1/joint-forms/",
            "open a joint form",
            lambda ctx: Request(
                "post",
                "joint-forms/",
                {"campaign": str(ctx.world.campaign), "school": ctx.unit("hongmei_school")},
                "hm_staff",
            ),
            done=note("form"),
        ),
        Scenario(  # with a photo on one of its cells, uploaded before: the PATCH pins it in its transaction
            "api/v1/joint-forms/<str:pk>/",
            "fill a joint form: the school's cells",
            lambda ctx: Request(
                "patch",
                f"joint-forms/{ctx.ids['form']}/",
                {**SCHOOL_FILLED, "attachments": {"guards_total": [ctx.ids["form_photo"]]}},
                "hm_staff",
            ),
            prepare=lambda ctx: upload_photo(ctx, "hm_staff", "form_photo"),
        ),
        Scenario(
            "api/v1/joint-forms/<str:pk>/",
            "fill a joint form: the police's cells",
            lambda ctx: Request("patch", f"joint-forms/{ctx.ids['form']}/", POLICE_FILLED, "hm_officer"),
        ),
        Scenario("api/v1/joint-forms/<str:pk>/sign/", "sign: the school", sign("hm_principal")),
        Scenario("api/v1/joint-forms/<str:pk>/sign/", "sign: the station", sign("hm_chief")),
        Scenario(
            "api/v1/joint-forms/<str:pk>/submit/",
            "submit a joint form (submission and its copies)",
            lambda ctx: Request("post", f"joint-forms/{ctx.ids['form']}/submit/", {}, "hm_staff"),
        ),
        # --- the joint form's web page -------------------------------------------------------------------
        Scenario(
            "forms/joint/<uuid:pk>/",
            "web page: save the school's cells",
            lambda ctx: Request(
                "post",
                f"forms/joint/{ctx.ids['page_form']}/",
                {"action": "save", "work_report": "已完成自查。"},
                "lh_principal",
                "page",
                (302,),
            ),
            prepare=open_page_form,
        ),
        Scenario("forms/joint/<uuid:pk>/", "web page: sign (the school)", page_sign("lh_principal"), fill_page_form),
        Scenario("forms/joint/<uuid:pk>/", "web page: sign (the station)", page_sign("hm_chief")),
        Scenario(
            "forms/joint/<uuid:pk>/",
            "web page: submit (submission and its copies)",
            lambda ctx: Request(
                "post", f"forms/joint/{ctx.ids['page_form']}/", {"action": "submit"}, "lh_principal", "page", (302,)
            ),
        ),
        Scenario(
            "forms/joint/",
            "web page: open a joint form (新建)",
            lambda ctx: Request(
                "post",
                "forms/joint/",
                {"campaign": str(ctx.world.campaign), "school": ctx.unit("qinglong_school")},
                "ql_principal",
                "page",
                (302,),
            ),
        ),
        # --- a report submission -------------------------------------------------------------------------
        Scenario(
            "api/v1/submissions/",
            "submit a report (submission and its copies)",
            lambda ctx: Request(
                "post",
                "submissions/",
                {"report": "school-ledger", "school": ctx.unit("hongmei_school")},
                "hm_principal",
            ),
        ),
        Scenario(
            "reports/",
            "web page: 报送 a report (submission and its copies)",
            lambda ctx: Request(
                "post",
                "reports/",
                {"report": "school-ledger", "school": ctx.unit("qinglong_school")},
                "ql_principal",
                "page",
                (302,),
            ),
        ),
        # --- notices, accounts, the import ---------------------------------------------------------------
        Scenario(
            "api/v1/notifications/<str:pk>/acknowledge/",
            "签收 a notice",
            lambda ctx: Request("post", f"notifications/{ctx.ids['notice']}/acknowledge/", {}, "hm_principal"),
            prepare=first_notice("hm_principal", "notice"),
        ),
        Scenario(
            "notifications/<int:pk>/ack/",
            "web page: 签收 a notice",
            lambda ctx: Request(
                "post", f"notifications/{ctx.ids['page_notice']}/ack/", {"next": "/"}, "hm_principal", "page", (302,)
            ),
            prepare=first_notice("hm_principal", "page_notice"),
        ),
        Scenario(
            "account/",
            "web page: change one's own password (the login and its event)",
            lambda ctx: Request(
                "post",
                "account/",
                {"old_password": demo_password(), "new_password1": "Xin-mima-2026!", "new_password2": "Xin-mima-2026!"},
                "ql_staff",
                "page",
                (302,),
            ),
        ),
        Scenario(
            "admin-tools/import/",
            "web page: import a school and a person (units, staff and logins)",
            lambda ctx: Request("post", "admin-tools/import/", {"file": import_file()}, "admin", "page", (302,)),
        ),
    ]


# --- the run ----------------------------------------------------------------------------------------------------


def fork(
    ctx: Ctx, request: Request, key: str | None, crash_at: int, out: Path, busy_timeout: float | None = None
) -> int:
    """Send the request in a child that dies after statement ``crash_at`` (0: never); its exit status.
    ``busy_timeout``: how long the child's SQLite connection waits for a lock (settings: 20 s)."""
    shut_down()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: its own connections, its own application
        code = 2
        try:
            if busy_timeout is not None:
                from django.db import connections

                connections["default"].settings_dict["OPTIONS"]["timeout"] = busy_timeout
            restart()
            if busy_timeout is not None:  # another connection holds the write lock while the command runs
                import sqlite3

                from django.conf import settings

                lock = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
                lock.execute("BEGIN IMMEDIATE")
            install_crash_points(crash_at)
            COUNTER["on"] = 1
            response = send(ctx, request, key)
            COUNTER["on"] = 0
            result = {
                "status": response.status_code,
                "statements": COUNTER["n"],
                "answer": answer(response),
                "retry_after": response.get("Retry-After"),
            }
            out.write_text(json.dumps(result, ensure_ascii=False))
            code = 0
        except BaseException:  # noqa: BLE001 — reported to the parent
            out.write_text(json.dumps({"error": traceback.format_exc()}))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def run_scenario(ctx: Ctx, store: Store, scenario: Scenario, tmp: Path) -> dict[str, Any]:
    """Two passes: without Idempotency-Key (the command's own transaction must hold all it writes), then — API
    commands, once the product honours the key — with it (the whole request in one transaction, its idempotency
    record included; a retry after a crash that left the command recorded must replay, recording nothing more).
    CRASH_KEY_PASS: every (default), last (only the last statement: the replay), none."""
    started = time.monotonic()
    if scenario.prepare is not None:
        restart()
        scenario.prepare(ctx)
    restart()
    request = scenario.request(ctx)
    key = hashlib.sha256(scenario.name.encode()).hexdigest()[:32]
    result: dict[str, Any] = {"route": scenario.route, "name": scenario.name, "violations": [], "notes": []}
    restart()
    before = state()
    store.save("before")
    after, dry = crash_pass(ctx, store, request, None, before, result, tmp, save_as="after")
    result.update(statements=dry["statements"], points=dry["statements"])
    idempotent = ctx.idempotent or os.environ.get("CRASH_IDEMPOTENT") == "1"
    key_pass = os.environ.get("CRASH_KEY_PASS", "every")
    if request.kind == "api" and idempotent and key_pass != "none":
        _, keyed = crash_pass(ctx, store, request, key, before, result, tmp, only_last=key_pass == "last")
        result.update(key_statements=keyed["statements"])
        result["points"] += 1 if key_pass == "last" else keyed["statements"]
    store.restore("after", set(TABLES))
    restart()
    if effect(after, state()):
        raise RuntimeError(f"{scenario.name}: the installation was not put back as the dry run left it")
    result["seconds"] = round(time.monotonic() - started, 1)
    if scenario.done is not None:
        scenario.done(ctx, dry["answer"])
    return result


def crash_pass(
    ctx: Ctx,
    store: Store,
    request: Request,
    key: str | None,
    before: dict[str, Any],
    result: dict[str, Any],
    tmp: Path,
    only_last: bool = False,
    save_as: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dry run, then a crash after each statement in turn (or only the last); returns the dry run's state."""
    out = tmp / "child.json"
    violations: list[str] = result["violations"]
    label = "with Idempotency-Key" if key else "without Idempotency-Key"
    store.restore("before", set(TABLES))
    code = fork(ctx, request, key, 0, out)
    dry = json.loads(out.read_text())
    if code != 0 or "error" in dry or dry["status"] not in request.status:
        raise RuntimeError(f"{result['name']} ({label}): the command itself failed: {code} {dry}")
    restart()
    after = state()
    whole = effect(before, after)
    result.setdefault("effect", {})[label] = whole
    if not whole:
        raise RuntimeError(f"{result['name']} ({label}): the command recorded nothing")
    violations += [f"{label}, after the whole command: {p}" for p in problems(after)]
    if save_as is not None:
        store.save(save_as)  # where the next scenario starts
    dirty = set(whole)  # the tables that differ from the state before the command
    first = dry["statements"] if only_last else 1
    for n in range(first, dry["statements"] + 1):
        where = f"{label}, crash after statement {n}/{dry['statements']}"
        store.restore("before", dirty)
        dirty = set(TABLES)  # until known
        code = fork(ctx, request, key, n, out)
        if code not in (0, CRASHED):
            violations.append(f"{where}: the child failed ({code}): {out.read_text()[:2000]}")
            continue
        restart()
        crashed = state()
        got = effect(before, crashed)
        dirty = set(got)
        if got and got != whole:
            violations.append(f"{where}: part of the command recorded: {got} (the whole command: {whole})")
        violations += [f"{where}: {p}" for p in problems(crashed)]
        if key is not None and not got:
            continue  # a retry of a command not recorded: the pass without the key sends those
        # the client saw no answer: it sends the same request again
        code = fork(ctx, request, key, 0, out)
        retry = json.loads(out.read_text()) if code == 0 else {"error": f"exit {code}"}
        restart()
        again = effect(before, state())
        dirty = set(again)
        failed = "error" in retry or retry["status"] not in request.status
        if got == whole and key is None:
            if failed or again != whole:
                status = retry.get("status", retry.get("error"))
                result["notes"].append(f"{where}: recorded; the retry (no key) answered {status}, recorded {again}")
        elif failed:
            violations.append(f"{where}: the retry failed: {json.dumps(retry, ensure_ascii=False)[:500]}")
        elif again != whole:
            violations.append(f"{where}: after the retry {again}, not the whole command once ({whole})")
    store.restore("before", dirty)
    return after, dry


def lock_check(ctx: Ctx, tmp: Path) -> dict[str, Any]:
    """The read-model database (SQLite) write-locked by another connection for longer than the command waits:
    the client gets 503 ``database_busy`` (a Chinese message, Retry-After) and nothing is recorded; sent again
    once the lock is gone, the command is recorded once."""
    violations: list[str] = []
    hazard = str(ctx.world.hazards["assigned"])
    request = Request("post", f"hazards/{hazard}/progress/", {"note": "加锁期间上报", "percent": 60}, "hm_staff")
    out = tmp / "child.json"
    restart()
    before = state()
    first: dict[str, Any] = {}
    seconds = 0.0
    for key in (None, "lock-1"):  # without Idempotency-Key, and with it (the whole request in one transaction)
        started = time.monotonic()
        code = fork(ctx, request, key, 0, out, busy_timeout=1.0)
        seconds = max(seconds, time.monotonic() - started)
        first = json.loads(out.read_text()) if code in (0, 2) else {"error": f"exit {code}"}
        restart()
        got = effect(before, state())
        body = first.get("answer") if isinstance(first.get("answer"), dict) else {}
        where = f"while locked ({'with' if key else 'without'} Idempotency-Key)"
        if first.get("status") != 503 or body.get("code") != "database_busy":
            violations.append(f"{where}: answered {json.dumps(first, ensure_ascii=False)[:500]}")
        elif not any("\u4e00" <= ch <= "\u9fff" for ch in body.get("detail", "")) or not first.get("retry_after"):
            violations.append(f"{where}: no Chinese message or no Retry-After: {first}")
        if got:
            violations.append(f"{where}: the client got an error, yet recorded: {got}")
    code = fork(ctx, request, "lock-1", 0, out)  # the same key: a refused request kept no outcome
    retry = json.loads(out.read_text()) if code == 0 else {"error": f"exit {code}"}
    restart()
    final = state()
    again = effect(before, final)
    if retry.get("status") != 200:
        violations.append(f"the retry after the lock: answered {json.dumps(retry, ensure_ascii=False)[:500]}")
    if again.get("<log>") != [1, 0, 0]:
        violations.append(f"the retry after the lock: {again.get('<log>')} events, not one")
    violations += problems(final)
    return {
        "seconds_locked": round(seconds, 2),
        "first": first,
        "retry_status": retry.get("status"),
        "violations": violations,
    }


def advance(ctx: Ctx, scenario: Scenario) -> None:
    """Run a scenario's command once, in this process, without crash points."""
    restart()
    if scenario.prepare is not None:
        scenario.prepare(ctx)
    request = scenario.request(ctx)
    response = send(ctx, request, f"advance-{time.monotonic_ns()}")
    assert response.status_code in request.status, (scenario.name, response.status_code, answer(response))
    if scenario.done is not None:
        scenario.done(ctx, answer(response))


def setup() -> Ctx:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from api import demo
    from projections.runner import catch_up

    call_command("migrate", verbosity=0)
    if crash_path() == "late-write":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {LATE_WRITE_TABLE} (id integer PRIMARY KEY, at float)")
    app = restart()
    world = demo.load(app, timezone.now())
    users = get_user_model()
    users.objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
    catch_up(app)
    ctx = Ctx(world)
    for user in users.objects.all():
        ctx.tokens[user.username] = Token.objects.get_or_create(user=user)[0].key
        session = SessionStore()
        session.update(
            {
                "_auth_user_id": str(user.pk),
                "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                "_auth_user_hash": user.get_session_auth_hash(),
            }
        )
        session.create()
        ctx.sessions[user.username] = str(session.session_key)
    for kind, path in (("api", "hazards/"), ("page", "forms/joint/"), ("page", "admin/projections/unitview/")):
        response = send(ctx, Request("get", path, {}, "admin", kind), "warm-up")
        assert response.status_code == 200, (path, response.status_code)
    ctx.idempotent = probe_idempotency(ctx)
    return ctx


def probe_idempotency(ctx: Ctx) -> bool:
    """Does the product honour Idempotency-Key? A progress report sent twice with one key: recorded once?"""
    from projections.eventstore import get_application

    hazard = ctx.world.hazards["reopened"]
    request = Request("post", f"hazards/{hazard}/progress/", {"note": "探测", "percent": 10}, "hm_staff")
    heads = []
    for _ in range(2):
        restart()
        response = send(ctx, request, "idempotency-probe")
        assert response.status_code == 200, answer(response)
        heads.append(get_application().recorder.max_notification_id())
    return heads[0] == heads[1]


def warm_up() -> None:
    """Import the views (the URL conf) once here, not in every child."""
    from django.urls import get_resolver

    list(walk(get_resolver().url_patterns))


def walk(patterns: list[Any], prefix: str = "") -> Any:
    """Every route of the URL conf, spelled as it is there, with its view."""
    from django.urls import URLResolver

    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p.callback


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    sys.path.insert(0, str(Path(__file__).parent))  # apihelpers
    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    import api.renderpool

    setup_test_environment()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The copies' bytes are rendered before the command and are not what is checked here: a fixed PDF, quickly.
    api.renderpool.render = lambda request, function, data: b"%PDF-1.4\n% crash harness copy\n"  # type: ignore[assignment]
    warm_up()
    if crash_path() == "late-write":
        use_late_write()
    report_path = Path(argv[0])
    assert report_path.suffix == ".json", "the first argument is the report's path (.json)"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    shard, shards = 0, 1
    for arg in argv[1:]:
        if arg.startswith("--shard="):  # --shard=I/N: crash only the scenarios I, I+N, I+2N, … (the rest advance)
            shard, shards = (int(x) for x in arg.removeprefix("--shard=").split("/"))
    wanted = {a for a in argv[1:] if not a.startswith("--")}
    store = Store()
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    try:
        ctx = setup()
        if "--lock" in argv:
            lock = lock_check(ctx, report_path.parent)
            results.append({"name": "database locked", "route": "", "statements": 0, "points": 0, "notes": [], **lock})
            return
        for index, scenario in enumerate(scenarios()):
            mine = index % shards == shard
            if not mine or (wanted and scenario.name not in wanted and scenario.route not in wanted):
                advance(ctx, scenario)  # the later scenarios build on it
                continue
            results.append(run_scenario(ctx, store, scenario, report_path.parent))
            r = results[-1]
            print(f"{r['seconds']:6.1f}s {r['points']:3d} points {len(r['violations']):3d} violations  {r['name']}")
            sys.stdout.flush()
    finally:
        store.drop_copies()
        report = {
            "store": "postgresql" if store.postgres else "sqlite",
            "path": crash_path(),
            "idempotency": ctx.idempotent if "ctx" in locals() else None,
            "seconds": round(time.monotonic() - started, 1),
            "scenarios": results,
            "routes": sorted({s.route for s in scenarios()}),
        }
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
