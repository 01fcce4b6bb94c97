"""Production mode as it runs: the API (gunicorn), the relay and the notifications consumer as separate
processes over PostgreSQL and the real broker. The API answers every command from its own transaction, whether
the consumer is up, killed (SIGKILL) or the broker down; afterwards every read model — those the commands wrote
and the notifications the group wrote — equals a rebuild from the log, with no event lost or applied twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from kafkahelpers import (
    Broker,
    database_url,
    dump_read_models,
    end_offsets,
    free_port,
    rebuilt_read_models,
    wait_for,
)
from rest_framework.authtoken.models import Token

from api import demo
from consumers.relay import POSITION_NAME
from domain.application import SafetyApplication
from projections.hazard.rows import HazardLedger
from projections.notifications import NotificationView
from projections.runner import catch_up
from projections.tracking import ConsumerOffset, ProjectionPosition

pytestmark = [pytest.mark.kafka, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *argv: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        self.running[name] = subprocess.Popen(
            [sys.executable, *argv], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.running.pop(name)
        proc.send_signal(sig)
        proc.wait(30)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name, signal.SIGTERM)


@pytest.fixture
def processes(kafka: Broker, tmp_path: Path) -> Iterator[Processes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS,
        "KAFKA_API_VERSION": "0.9",
        "KAFKA_TOPIC_PREFIX": settings.KAFKA_TOPIC_PREFIX,
        "DEADLINE_WATCHER": "off",
        "DJANGO_SETTINGS_MODULE": "api.settings",
    }
    procs = Processes(env, tmp_path)
    yield procs
    procs.stop_all()
    for log in sorted(tmp_path.glob("*.log")):  # shown by pytest when the test failed
        print(f"----- {log.name} (last 200 lines) -----")
        print("\n".join(log.read_text(errors="replace").splitlines()[-200:]))


def http(port: int, token: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def notices_consumed() -> bool:
    """The notifications group has handled every message of the events topic."""
    topic = f"{settings.KAFKA_TOPIC_PREFIX}.events"
    done = {r.partition: r.offset + 1 for r in ConsumerOffset.objects.filter(group="notifications", topic=topic)}
    return all(done.get(partition, 0) >= end for partition, end in end_offsets(topic).items())


def test_api_relay_and_consumer_processes_survive_a_consumer_crash_and_a_broker_outage(
    kafka_world: demo.World, app: SafetyApplication, kafka: Broker, processes: Processes
):
    catch_up(app)  # as `load_demo` does: the demo is projected and chained before the API serves it
    token = Token.objects.get_or_create(user=get_user_model().objects.get(username="hm_staff"))[0].key
    leader = Token.objects.get_or_create(user=get_user_model().objects.get(username="tn_leader"))[0].key
    port = free_port()
    processes.start("relay", "manage.py", "relay")
    processes.start("consumer", "manage.py", "consume", "notifications", "--batch-size", "20")
    processes.start(
        "api", "-m", "gunicorn", "api.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2"
    )
    wait_for(lambda: NotificationView.objects.exists(), what="the demo's notices addressed by the group")
    wait_for(lambda: _answers(port), what="the API to listen")

    def discover(i: int) -> str:
        status, body = http(
            port,
            token,
            "/api/v1/hazards/",
            {
                "campaign": str(kafka_world.campaign),
                "school": str(kafka_world.units["hongmei_school"]),
                "item": "CZ-01",
                "severity": "general",
                "description": f"进程测试隐患{i}",
                "location": "操场",
            },
        )
        assert status == 201, body  # the command's own transaction: never 202, whatever runs or not
        assert body["description"] == f"进程测试隐患{i}" and body["number"]
        assert HazardLedger.objects.get(id=body["id"]).number == body["number"]
        return str(body["id"])

    for i in range(5):
        discover(i)

    processes.kill("consumer")  # SIGKILL, wherever it was
    for i in range(5, 8):
        discover(i)
    hazard = discover(8)
    status, body = http(port, leader, f"/api/v1/hazards/{hazard}/supervise/", {"note": "区教育局挂牌督办"})
    assert status == 200 and body["version"] == 2, body
    time.sleep(1)
    assert not NotificationView.objects.filter(hazard=hazard).exists(), "no consumer: the notice waits"
    processes.start("consumer", "manage.py", "consume", "notifications", "--batch-size", "7")

    kafka.stop_broker()
    for i in range(9, 12):
        discover(i)  # the broker is down: commands still succeed, answered from their transaction
    kafka.start_broker()
    for i in range(12, 14):
        discover(i)

    total = len(kafka_world.hazards) + 14
    assert HazardLedger.objects.count() == total
    last = app.recorder.max_notification_id()
    wait_for(
        lambda: ProjectionPosition.objects.filter(name=POSITION_NAME, position=last).exists(),
        timeout=120,
        what="the relay to publish everything after the outage",
    )
    wait_for(notices_consumed, timeout=120, what="the notifications consumer to catch up")
    time.sleep(1)
    processes.stop_all()

    assert NotificationView.objects.filter(hazard=hazard, kind="supervised").exists()
    numbers = list(HazardLedger.objects.values_list("school", "number"))
    assert len(numbers) == len(set(numbers)) == total, "each hazard once, numbered once within its school"
    consumed = dump_read_models()
    assert consumed == rebuilt_read_models(), "the commands' rows and the group's notices equal a rebuild"


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        return True
    except (urllib.error.URLError, OSError):
        return False
