"""``ownership/?at=&school=`` (issue 15, point 7: p99 ≤ 10 ms) in three round trips: the token with its user and
their appointment, the page, and the page's names — with the same answers as before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.demo import World

from apihelpers import API, ok, post, refused

Client = Callable[[str], Any]
Past = Callable[[float], str]


@contextmanager
def compiled_statements() -> Iterator[list[str]]:
    """The SQL statements the ORM compiles inside the block."""
    from django.db.models.sql.compiler import SQLCompiler

    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counting(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        sql, params = as_sql(self, *args, **kwargs)
        compiled.append(sql)
        return sql, params

    with mock.patch.object(SQLCompiler, "as_sql", counting):
        yield compiled


def test_ownership_of_a_school_is_three_queries_and_names_school_owner_and_unit(
    world: World, user: Client, past: Past
) -> None:
    school = str(world.units["hongmei_school"])
    body = {"campaign": str(world.campaign), "school": school, "severity": "general", "description": "围墙破损"}
    hazard = post(user("hm_staff"), "hazards/", {**body, "occurred_at": past(1)}, 201)["id"]
    assign = {"owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01", "occurred_at": past(2)}
    post(user("hm_principal"), f"hazards/{hazard}/assign/", assign)
    inspector = user("tn_inspector")
    ok(inspector.get(f"{API}ownership/", {"school": school}))  # the inspector's unit is read once, then kept

    with CaptureQueriesContext(connection) as queries:
        page = ok(inspector.get(f"{API}ownership/", {"at": past(3), "school": school}))

    (row,) = page["results"]
    assert (row["hazard"], row["owner"], row["status"]) == (hazard, "hm_staff", "assigned")
    assert (row["school_name"], row["owner_name"], row["owner_unit_name"]) == ("红梅实验小学", "李安全", "红梅实验小学")
    expected = 3 if connection.vendor == "postgresql" else 4  # SQLite reads units' and people's names apart
    assert len(queries) == expected, "\n".join(q["sql"][:150] for q in queries)


def test_token_login_acts_in_the_appointment_held_now_or_as_admin_or_not_at_all(world: World, user: Client) -> None:
    school = str(world.units["hongmei_school"])
    body = {"campaign": str(world.campaign), "school": school, "severity": "general", "description": "围墙破损"}
    hazard = post(user("hm_staff"), "hazards/", body, 201)["id"]
    post(
        user("hm_principal"),
        f"hazards/{hazard}/assign/",
        {"owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01"},
    )

    def listed(client: Any) -> list[str]:
        return [row["hazard"] for row in ok(client.get(f"{API}ownership/", {"school": school}))["results"]]

    assert listed(user("tn_inspector")) == [hazard]  # the district's inspector
    assert listed(user("ql_staff")) == []  # another school's staff: out of their scope
    assert listed(user("admin")) == [hazard]  # a superuser without an appointment acts as admin

    nobody = get_user_model().objects.create_user("no_appointment", password=None)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=nobody).key}")
    refused(client.get(f"{API}ownership/"), 401, "user_inactive")

    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    refused(client.get(f"{API}ownership/"), 401, "not_authenticated")
    assert client.get(f"{API}ownership/").json()["detail"] == "认证令牌无效。"


def test_a_command_answer_reads_its_names_in_one_round_trip(world: World, user: Client, past: Past) -> None:
    """A command's answer names its school, owner and owner unit; on PostgreSQL units and people are read by one
    query (as a list's are), not one query per kind."""
    school = str(world.units["hongmei_school"])
    body = {"campaign": str(world.campaign), "school": school, "severity": "general", "description": "围墙破损"}
    hazard = post(user("hm_staff"), "hazards/", {**body, "occurred_at": past(2)}, 201)["id"]
    principal = user("hm_principal")
    assign = {"owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01"}

    with CaptureQueriesContext(connection) as queries:
        answer = post(principal, f"hazards/{hazard}/assign/", assign)

    assert (answer["school_name"], answer["owner_name"], answer["owner_unit_name"]) == (
        "红梅实验小学",
        "李安全",
        "红梅实验小学",
    )
    markers = ('AS "name" FROM "projections_unitview"', '"display_name" FROM "projections_staffview"', "UNION ALL")
    names = [q["sql"] for q in queries if any(marker in q["sql"] for marker in markers)]
    expected = 1 if connection.vendor == "postgresql" else 2
    assert len(names) == expected, "\n".join(sql[:150] for sql in names)


def test_token_login_is_compiled_once_and_still_reads_the_appointment_held_now(world: World, user: Client) -> None:
    """The token's query is compiled by the ORM once per process; each request runs its SQL with its own key and
    time, so a login still acts in the appointment held at that request (not the one held when it was compiled)."""
    school = str(world.units["hongmei_school"])
    staff = user("hm_staff")
    ok(staff.get(f"{API}ownership/", {"school": school}))  # compiled here (or by an earlier test)
    with compiled_statements() as compiled:
        ok(staff.get(f"{API}ownership/", {"school": school}))
    assert not [sql for sql in compiled if "authtoken_token" in sql], compiled

    post(user("admin"), "users/hm_staff/deactivate/", {})  # from now on holds no role: refused from the next request
    assert staff.get(f"{API}ownership/", {"school": school}).status_code == 401


def test_a_command_reads_its_rows_by_statements_compiled_once_and_bound_to_its_own_hazard(
    world: World, user: Client, past: Past
) -> None:
    """The rows a command's projection reads (the hazard's ledger row, its open history row) and its answer's names
    come from statements the ORM compiled once, each run with the command's own keys: a second hazard's progress
    changes that hazard, not the first one. So does the scope check before it, which reads the owner, the number
    and the school's directory row, not the whole ledger row."""
    school = str(world.units["hongmei_school"])
    body = {"campaign": str(world.campaign), "school": school, "severity": "general", "description": "围墙破损"}
    staff, principal = user("hm_staff"), user("hm_principal")
    first, second = (post(staff, "hazards/", {**body, "occurred_at": past(3)}, 201)["id"] for _ in range(2))
    assign = {"owner": "hm_staff", "owner_unit": school, "deadline": "2099-01-01"}
    for hazard in (first, second):
        post(principal, f"hazards/{hazard}/assign/", assign)
    for percent in (30, 40):  # compiled here (or earlier)
        post(staff, f"hazards/{first}/progress/", {"note": "已采购材料", "percent": percent})

    with compiled_statements() as compiled, CaptureQueriesContext(connection) as queries:
        answer = post(staff, f"hazards/{second}/progress/", {"note": "围墙已砌好一半", "percent": 50})
    statements = [q["sql"] for q in queries]  # read now: the next request empties Django's query log

    assert (answer["id"], answer["version"], answer["owner_name"], answer["school_name"]) == (
        second, 3, "李安全", "红梅实验小学"
    )  # fmt: skip
    assert ok(staff.get(f"{API}hazards/{first}/"))["version"] == 4
    assert ok(staff.get(f"{API}hazards/{second}/"))["version"] == 3  # its ledger row, read by the compiled statement
    at = ok(staff.get(f"{API}hazards/{second}/", {"version": 3}))  # its history row, ended the one before it
    assert (at["version"], at["owner"]) == (3, "hm_staff")
    ledger_rows = [sql for sql in compiled if '"projections_hazardledger"' in sql and "SELECT" in sql]
    history_rows = [sql for sql in compiled if '"projections_hazardversion"' in sql and "SELECT" in sql]
    names = [sql for sql in compiled if '"projections_staffview"' in sql or '"name" FROM "projections_unitview"' in sql]
    assert (ledger_rows, history_rows, names) == ([], [], []), (ledger_rows, history_rows, names)
    whole_rows = [sql for sql in statements if '"projections_hazardledger"."description"' in sql]
    assert len(whole_rows) == 1, whole_rows  # the projector's, under the lock; the scope check reads two columns


def test_the_scope_rule_on_a_school_row_in_hand_agrees_with_the_database_for_every_user_and_unit(
    world: World,
) -> None:
    """A command's scope check applies the scope rule to the school's row it read with the hazard
    (``scope.sees_school``); lists ask the database (``scope.school_ids``). Both give the same answer for every
    user of the demo (each role and unit kind, admin and auditor) and every unit (schools and the rest)."""
    from api.auth import actor_for
    from projections import scope
    from projections.directory import UnitView

    rows = list(UnitView.objects.values("kind", "id", "district", "police_station"))
    actors = [actor_for(u) for u in get_user_model().objects.all()]
    assert {a.role for a in actors} >= {"admin", "auditor", "school_principal", "station_officer", "edu_inspector"}
    for actor in actors:
        ids = scope.school_ids(actor)
        visible = {r["id"] for r in rows} if ids is None else set(ids.values_list("id", flat=True))  # None: all
        assert {r["id"] for r in rows if scope.sees_school(actor, r)} == visible, actor
        assert scope.sees_school(actor, None) is (ids is None), actor  # a school not in the directory
