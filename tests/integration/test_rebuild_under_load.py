"""``rebuild_projections`` while users read and write: nobody sees the read models empty or going back.

The demo district is loaded; a rebuild runs in its own thread (its own connection) while other threads, each a
user with a token, read and send commands over the API the whole time. Every read answers as it would have
without the rebuild: the hazards nobody touches read exactly as before it, a hazard read right after a command
shows that command's version, versions never go back, nobody is logged out, no 5xx; a notice keeps its id (a
user acknowledges one by id after the swap); and the read models swapped in equal a rebuild from scratch of the
same log, made afterwards with nothing else running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from readmodels import dump_read_models as snapshot
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api import demo
from domain.application import SafetyApplication
from projections.hazard.projector import projector as hazard_projector
from projections.notifications import NotificationView
from projections.rebuild import rebuild
from projections.runner import catch_up, catch_up_notifications

API = "/api/v1/"
READERS = ("tn_inspector", "hm_principal", "hm_staff2")


class Calls:
    """Every response of the run: (user, method, path, status, started, ended)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, int, float, float]] = []
        self.lock = threading.Lock()

    def log(self, user: str, method: str, path: str, status: int, started: float) -> None:
        with self.lock:
            self.rows.append((user, method, path, status, started, time.monotonic()))


def client(username: str) -> APIClient:
    api = APIClient(raise_request_exception=False)
    token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=username))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def district(app: SafetyApplication) -> Iterator[demo.World]:
    world = demo.load(app, timezone.now() - timedelta(hours=1))
    catch_up(app)
    catch_up_notifications(app)
    yield world
    connections.close_all()


def notices_of(api: APIClient) -> tuple[int, dict[int, tuple[str, int, str]]]:
    response = api.get(f"{API}notifications/?limit=1000")
    if response.status_code != 200:
        return response.status_code, {}
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return 200, {row["id"]: (row["hazard"], row["kind"], row["title"]) for row in rows}


@pytest.mark.django_db(transaction=True)  # the threads have their own connections: everything is committed
def test_reads_and_commands_during_a_rebuild_see_no_gap_and_the_result_equals_a_rebuild_from_scratch(
    app: SafetyApplication, district: demo.World, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    applied = hazard_projector.apply_batch

    def slowly(events: Any) -> None:
        if threading.current_thread().name == "rebuild":  # as at province scale: the rebuild takes a while
            time.sleep(0.03)
        applied(events)

    monkeypatch.setattr(hazard_projector, "apply_batch", slowly)  # the rebuild's worker processes inherit it
    inspector = client("tn_inspector")
    listed = inspector.get(f"{API}hazards/?limit=500").json()["results"]
    assert len(listed) >= 5, "the demo has hazards"
    before = {row["id"]: inspector.get(f"{API}hazards/{row['id']}/").json() for row in listed}
    seen_notices: dict[int, tuple[str, int, str]] = {}
    for username in READERS:
        seen_notices.update(notices_of(client(username))[1])
    assert seen_notices, "the demo has notices"

    calls, problems, stop = Calls(), [], threading.Event()
    rebuilding = threading.Event()
    window: dict[str, float] = {}
    created: list[str] = []

    def problem(text: str) -> None:
        problems.append(text)

    def in_thread(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except Exception as error:  # a thread's failure is the test's
                problem(f"{threading.current_thread().name}: {type(error).__name__}: {error}")
            finally:
                connection.close()

        return run

    def call(api: APIClient, user: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        started = time.monotonic()
        response = getattr(api, method)(API + path, body, format="json") if body is not None else api.get(API + path)
        calls.log(user, method, path, response.status_code, started)
        return response

    def reader(username: str) -> None:
        api = client(username)
        known: dict[int, tuple[str, int, str]] = {}
        while not stop.is_set():
            for hazard_id, expected in before.items():
                if username != "tn_inspector":
                    break
                got = call(api, username, "get", f"hazards/{hazard_id}/")
                if got.status_code != 200:
                    problem(f"{username} GET hazard {hazard_id}: {got.status_code} {got.content[:200]!r}")
                elif got.json() != expected:
                    problem(f"hazard {hazard_id} read differently during the rebuild")
            status, notices = notices_of(api)
            calls.log(username, "get", "notifications/", status, time.monotonic())
            if status != 200:
                problem(f"{username} GET notifications/: {status}")
            for notice_id, content in known.items():
                if notices.get(notice_id) != content:
                    problem(f"{username}: notice {notice_id} was {content}, now {notices.get(notice_id)}")
            known.update(notices)
            seen_notices.update(notices)

    # Users of a station and of another station's school read throughout too: what they see is their scope's,
    # during the rebuild as before and after it (a rebuilt read model must never widen or narrow a scope).
    units = district.units
    scopes = {
        "hm_officer": {str(units["hongmei_school"]), str(units["lanling_school"])},
        "ql_chief": {str(units["qinglong_school"])},
        "ql_staff": {str(units["qinglong_school"])},
    }
    outside = {user: [h for h, row in before.items() if row["school"] not in mine] for user, mine in scopes.items()}
    inside = {user: {h for h, row in before.items() if row["school"] in mine} for user, mine in scopes.items()}
    assert all(outside.values()) and inside["hm_officer"], "each scope reader has hazards in and out of scope"

    def scope_reader(username: str) -> None:
        api = client(username)
        while not stop.is_set():
            got = call(api, username, "get", "hazards/?limit=500")
            if got.status_code != 200:
                problem(f"{username} GET hazards/: {got.status_code}")
                continue
            rows = got.json()["results"]
            if wrong := [r["id"] for r in rows if r["school"] not in scopes[username]]:
                problem(f"{username} was listed hazards of another school: {wrong[:3]}")
            if missing := inside[username] - {r["id"] for r in rows}:
                problem(f"{username} missed hazards of their scope: {sorted(missing)[:3]}")
            for hazard_id in outside[username][:2]:
                other = call(api, username, "get", f"hazards/{hazard_id}/")
                if other.status_code != 404:
                    problem(f"{username} GET another school's hazard {hazard_id}: {other.status_code}")
            stop.wait(0.1)  # read throughout, without taking the writer's share of the interpreter

    def writer() -> None:
        staff, principal, leader, owner = (client(u) for u in ("hm_staff", "hm_principal", "tn_leader", "hm_staff2"))
        school, n = str(district.units["hongmei_school"]), 0
        rebuilding.wait(30)
        while not stop.is_set() or n < 2:
            n += 1
            found = call(
                staff, "hm_staff", "post", "hazards/",
                {"campaign": str(district.campaign), "school": school, "item": "CZ-01", "severity": "general",
                 "description": f"重建期间发现的隐患{n}", "location": "操场"},
            )  # fmt: skip
            if found.status_code != 201:
                problem(f"discover: {found.status_code} {found.content[:200]!r}")
                continue
            hazard = found.json()["id"]
            created.append(hazard)
            steps = [
                (principal, "hm_principal", "assign",
                 {"owner": "hm_staff2", "owner_unit": school, "deadline": "2099-01-01", "standard": "按标准整改"}),
                (leader, "tn_leader", "supervise", {"note": "挂牌督办"}),
                (owner, "hm_staff2", "progress", {"note": "整改中", "percent": 50}),
            ]  # fmt: skip
            version = 1
            for api, user, name, body in steps:
                read = call(api, user, "get", f"hazards/{hazard}/")
                if read.status_code != 200 or read.json()["version"] != version:
                    problem(f"{user} read {hazard} after version {version}: {read.status_code} {read.content[:200]!r}")
                done = call(api, user, "post", f"hazards/{hazard}/{name}/", body)
                if done.status_code != 200 or done.json()["version"] != version + 1:
                    problem(f"{user} {name}: {done.status_code} {done.content[:200]!r}")
                    break
                version += 1
            status, notices = notices_of(owner)
            mine = [i for i, (h, kind, _) in notices.items() if h == hazard and kind == "supervised"]
            if status != 200 or len(mine) != 1:
                problem(f"the owner's notice of {hazard}: {status} {mine}")
                continue
            signed = call(owner, "hm_staff2", "post", f"notifications/{mine[0]}/acknowledge/", {})
            if signed.status_code != 200:
                problem(f"acknowledge notice {mine[0]}: {signed.status_code} {signed.content[:200]!r}")

    def rebuilder() -> None:
        rebuilding.set()
        window["start"] = time.monotonic()
        call_command("rebuild_projections", batch_size=2, workers=2, stdout=_Quiet(), stderr=_Quiet())
        window["end"] = time.monotonic()
        time.sleep(0.5)  # the reads and commands go on after the swap
        stop.set()

    threads = [threading.Thread(target=in_thread(lambda u=u: reader(u)), name=f"reader-{u}") for u in READERS]
    threads += [threading.Thread(target=in_thread(lambda u=u: scope_reader(u)), name=f"scope-{u}") for u in scopes]
    threads.append(threading.Thread(target=in_thread(writer), name="writer"))
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the readers are reading
    rebuild_thread = threading.Thread(target=in_thread(rebuilder), name="rebuild")
    rebuild_thread.start()
    rebuild_thread.join(timeout=300)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not problems, "\n".join(problems[:20])
    assert "end" in window, "the rebuild finished"

    during = [c for c in calls.rows if c[4] >= window["start"] and c[5] <= window["end"]]
    assert len([c for c in during if c[1] == "get"]) >= 20, f"reads during the rebuild: {len(during)}"
    assert len([c for c in during if c[1] == "post"]) >= 5, "commands during the rebuild"
    for user in scopes:
        assert [c for c in during if c[0] == user], f"{user} read during the rebuild"
    assert not [c for c in calls.rows if c[3] >= 500]
    assert len(created) >= 2

    # after the swap: every notice a user saw still has its id, and the rows equal a rebuild from scratch
    final = {row["id"]: (str(row["hazard"]), row["kind"]) for row in NotificationView.objects.values()}
    assert {i: (h, k) for i, (h, k, _) in seen_notices.items()} == {i: final[i] for i in seen_notices}
    swapped = snapshot()
    rebuild(app, batch_size=500)  # quiet: nothing else runs now
    assert snapshot() == swapped


class _Quiet:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
