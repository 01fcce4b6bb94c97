"""``/metrics``: never public, and every figure moves as the installation works — requests and commands over the
API, events recorded outside a command, the relay, a consumer group (a poison message parked), the deadline
watcher and verify.

No broker here: the relay's producer and the group's consumer are an in-memory stand-in for Kafka's topics and
partitions (the port both talk to), and the metrics read that stand-in's end offsets. The runner, the relay, the
collector and the endpoint are the real ones.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone
from kafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from api import demo, metrics
from api.deadlines import record_due_misses
from consumers.groups import groups
from consumers.relay import Relay
from consumers.runner import GroupRunner
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from domain.timerules import business_date
from projections.eventstore import get_application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("rectify_without_photo")]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-metrics-token"
PARTITIONS = 2


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class Acknowledged:
    def get(self, timeout: float | None = None) -> None:
        return None


@dataclass
class Topics:
    """Kafka's topics as the relay and a consumer see them: partitions keyed by a hash of the message key."""

    logs: dict[str, list[list[Record]]] = field(default_factory=dict)

    def partitions(self, topic: str) -> list[list[Record]]:
        return self.logs.setdefault(topic, [[] for _ in range(PARTITIONS if topic.endswith(".events") else 1)])

    def send(self, topic: str, *, key: bytes | None, value: bytes) -> Acknowledged:
        parts = self.partitions(topic)
        log = parts[zlib.crc32(key or b"") % len(parts)]
        log.append(Record(topic, parts.index(log), len(log), key, value))
        return Acknowledged()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass

    def end_offsets(self, names: list[str]) -> dict[TopicPartition, int]:
        return {TopicPartition(t, p): len(log) for t in names for p, log in enumerate(self.partitions(t))}


class Consumer:
    """A group member that is assigned every partition of its topics at once."""

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.next: dict[TopicPartition, int] = {}

    def subscribe(self, names: list[str], listener: Any) -> None:
        self.next = {TopicPartition(t, p): 0 for t in names for p in range(len(self.topics.partitions(t)))}
        listener.on_partitions_assigned(list(self.next))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.next[tp] = offset

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.next[tp] = 0

    def poll(self, timeout_ms: int | None = None) -> dict[TopicPartition, list[Record]]:
        batch = {}
        for tp, offset in self.next.items():
            if records := self.topics.partitions(tp.topic)[tp.partition][offset:]:
                batch[tp] = records
                self.next[tp] = records[-1].offset + 1
        return batch

    def commit(self, offsets: Any) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return set(self.next)

    def close(self, autocommit: bool = False) -> None:
        pass


def scrape(client: APIClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, parsed as Prometheus parses it: {(name, labels): value}."""
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain; version="), "the text exposition format"
    families = text_string_to_metric_families(answer.content.decode())
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def sum_of(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def lag_of(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], group: str) -> dict[str, float]:
    """A group's consumer lag in each partition of the events topic."""
    return {
        dict(labels)["partition"]: v
        for (name, labels), v in samples.items()
        if name == "safety_consumer_lag_messages"
        and dict(labels)["group"] == group
        and "events" in dict(labels)["topic"]
    }


def discover(client: APIClient, world: demo.World, description: str) -> str:
    answer = client.post(
        "/api/v1/hazards/",
        {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"]), "item": "CZ-01",
         "severity": "general", "description": description, "location": "操场"},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 201, answer.content
    return str(answer.json()["id"])


def test_metrics_are_refused_without_the_token_and_absent_without_the_setting(
    world: demo.World, anonymous: APIClient, settings: Any
) -> None:
    settings.METRICS_TOKEN = ""
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404

    settings.METRICS_TOKEN = TOKEN
    without = anonymous.get("/metrics")
    assert without.status_code == 401 and without["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert anonymous.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 403
    for refused in (without, anonymous.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token")):
        assert b"safety_" not in refused.content
    assert value(scrape(anonymous), "safety_log_head_position") > 0


def test_every_figure_moves_with_commands_the_relay_a_consumer_the_watcher_and_verify(
    world: demo.World,
    app: SafetyApplication,
    client_for: Callable[[str], APIClient],
    anonymous: APIClient,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.KAFKA_BOOTSTRAP_SERVERS = "broker.invalid:9092"  # production mode; the topics below stand in for it
    topics = Topics()
    monkeypatch.setattr(metrics, "kafka_end_offsets", topics.end_offsets)
    staff = client_for("hm_staff")
    before = scrape(anonymous)
    assert value(before, "safety_parked_messages", group="notifications") == 0
    assert ("safety_verify_ok", ()) not in before, "never verified yet"
    assert ("safety_deadline_watcher_last_run_timestamp_seconds", ()) not in before, "the watcher never ran"

    # Commands over the API: counted by route and status, timed by kind; the relay falls behind.
    hazard = discover(staff, world, "楼梯扶手松动")
    discover(staff, world, "灭火器过期")
    after = scrape(anonymous)
    route = {"route": "hazards", "method": "POST", "status": "201"}
    assert (
        value(after, "safety_http_requests_total", **route) == value(before, "safety_http_requests_total", **route) + 2
    )
    timed = {"command": "Hazard.Discovered", "outcome": "recorded"}
    assert value(after, "safety_command_duration_seconds_count", **timed) == (
        value(before, "safety_command_duration_seconds_count", **timed) + 2
    )
    assert value(after, "safety_command_duration_seconds_sum", **timed) > value(
        before, "safety_command_duration_seconds_sum", **timed
    )
    head = value(after, "safety_log_head_position")
    assert head > value(before, "safety_log_head_position")
    assert value(after, "safety_projection_lag_events", projection="read_models") == 0, "commands project inline"
    assert value(after, "safety_relay_lag_events") == head, "nothing published yet"

    # Refusals: counted under the route's name, not the path; a command the domain refuses is timed as refused.
    missing = staff.post(f"/api/v1/hazards/{world.campaign}/rectify/", {"description": "x"}, format="json")
    assert missing.status_code == 404
    refused = client_for("hm_principal").post(f"/api/v1/hazards/{hazard}/verify/", {"accepted": True}, format="json")
    assert refused.status_code == 409, refused.content  # not rectified: the domain refuses it
    refusals = scrape(anonymous)
    route = {"route": "hazard-rectify", "method": "POST", "status": "404"}
    assert (
        value(refusals, "safety_http_requests_total", **route)
        == value(before, "safety_http_requests_total", **route) + 1
    )
    timed = {"command": "none", "outcome": "refused"}  # no event: it recorded nothing
    assert value(refusals, "safety_command_duration_seconds_count", **timed) == (
        value(before, "safety_command_duration_seconds_count", **timed) + 1
    )

    # Events recorded outside a command (as the demo loader or an older release leaves them): projection lag.
    start = timezone.now() - timedelta(days=5)
    hazard = app.discover_hazard(
        actor=world.actor("hm_staff"), campaign=world.campaign, school=world.units["hongmei_school"],  # type: ignore[arg-type]
        description="围墙裂缝", severity=Severity.GENERAL, occurred_at=start,
    ).id  # fmt: skip
    app.assign_hazard(
        hazard, actor=world.actor("hm_principal"), owner="hm_staff", owner_unit=world.units["hongmei_school"],
        deadline=business_date(timezone.now()) - timedelta(days=2), occurred_at=start + timedelta(minutes=5),
    )  # fmt: skip
    lagging = scrape(anonymous)
    assert value(lagging, "safety_projection_lag_events", projection="read_models") == 2

    # The deadline watcher catches up (lag back to 0) and records the miss: its last run and its count appear.
    assert record_due_misses(get_application()) == 1
    watched = scrape(anonymous)
    assert value(watched, "safety_projection_lag_events", projection="read_models") == 0
    assert value(watched, "safety_deadline_watcher_last_run_timestamp_seconds") >= timezone.now().timestamp() - 60
    assert value(watched, "safety_deadline_watcher_last_run_misses") == 1
    assert value(watched, "safety_deadline_watcher_misses_recorded_total") == 1
    head = value(watched, "safety_log_head_position")
    assert value(watched, "safety_relay_lag_events") == head

    # The relay publishes: its lag goes to 0, and the consumer group now lags by what was published.
    events = f"{settings.KAFKA_TOPIC_PREFIX}.events"
    relay = Relay(app, producer_factory=lambda: topics, batch_size=7)  # type: ignore[arg-type,return-value]
    while relay.publish_once():
        pass
    published = scrape(anonymous)
    assert value(published, "safety_relay_lag_events") == 0
    assert value(published, "safety_relay_position") == head
    assert value(published, "safety_kafka_end_offsets_up") == 1
    assert lag_of(published, "notifications") == {"0": len(topics.logs[events][0]), "1": len(topics.logs[events][1])}
    assert sum(lag_of(published, "notifications").values()) == head, "the group lags by all that was published"

    notices = GroupRunner(groups(get_application)["notifications"], consumer=Consumer(topics))  # type: ignore[arg-type]
    first = next(p for p, log in enumerate(topics.logs[events]) if log)
    notices.handle(TopicPartition(events, first), topics.logs[events][first][:1])
    assert sum(lag_of(scrape(anonymous), "notifications").values()) == head - 1, "one message handled"

    # A poison message in the events topic is parked; the group drains the rest: lag 0 in every partition.
    topics.send(events, key=b"poison", value=b"\xff not json")
    while (outcome := notices.poll_once()).applied + outcome.parked + outcome.duplicates:
        pass
    drained = scrape(anonymous)
    assert value(drained, "safety_parked_messages", group="notifications") == 1
    assert value(drained, "safety_parked_messages", group="police-mirror") == 0
    assert value(drained, "safety_kafka_end_offsets_up") == 1
    assert lag_of(drained, "notifications") == {"0": 0, "1": 0}
    applied = [v for k, v in drained.items() if k[0] == "safety_consumer_applied_position"]
    assert max(applied) == head

    # Verify: its time and its result.
    call_command("verify_integrity")
    verified = scrape(anonymous)
    assert value(verified, "safety_verify_ok") == 1
    assert value(verified, "safety_verify_last_problems") == 0
    assert value(verified, "safety_verify_last_run_timestamp_seconds") >= timezone.now().timestamp() - 60

    # What the operator's alerts (ops/alerts.yml, loaded by docker-compose's Prometheus) ask for is served.
    served = {name for name, _ in verified}
    asked = set(re.findall(r"\bsafety_\w+", (ROOT / "ops" / "alerts.yml").read_text()))
    assert asked and asked <= served, asked - served


def test_the_compose_prometheus_scrapes_metrics_with_the_token() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    config = yaml.safe_load((ROOT / "ops" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"] == [{"targets": ["api:8000"]}]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
    assert "metrics_token" in services["prometheus"]["secrets"]
    assert "api" in services["api"]["environment"]["DJANGO_ALLOWED_HOSTS"].split(",")
    assert services["api"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] in "".join(services["api"]["tmpfs"])


@pytest.mark.kafka
def test_consumer_lag_is_the_brokers_end_offset_less_the_groups_stored_offset(
    kafka_world: demo.World, app: SafetyApplication, anonymous: APIClient, settings: Any
) -> None:
    """Against the real broker: the end offsets are asked of Kafka at scrape time."""
    from kafkahelpers import drain, runner

    settings.METRICS_TOKEN = TOKEN
    relay = Relay(app, batch_size=50)
    try:
        while relay.publish_once():
            pass
    finally:
        relay.close()
    published = scrape(anonymous)
    head = value(published, "safety_log_head_position")
    assert head > 0 and value(published, "safety_relay_lag_events") == 0
    assert value(published, "safety_kafka_end_offsets_up") == 1
    assert sum(lag_of(published, "notifications").values()) == head, "the group has not started: it lags by all"

    notices = runner("notifications")
    try:
        drain(notices)
    finally:
        notices.close()
    drained = scrape(anonymous)
    assert set(lag_of(drained, "notifications").values()) == {0}
    assert len(lag_of(drained, "notifications")) == 4, "every partition of the events topic"
