"""Kafka figures, each beside kafka-python's own speed on the same broker, in the same run.

1. relay throughput: ``Relay.publish_once`` over N events recorded by commands (chained in their own
   transactions; read the log and the stored hashes, build the envelope, produce with acks=all, wait for every
   acknowledgement, save the position) vs a bare ``KafkaProducer`` sending the very same keyed messages with the
   same settings;
2. end-to-end lag at a steady command rate (default 200 commands/s) of what lags behind a command: from a command
   returning (its events, read-model rows and chain link committed in one transaction) to the `notifications`
   group's view of the hazard showing it, with the relay and that group running as separate processes — vs the
   bare produce → group-consume latency of the same messages at the same rate. (The ledger, the history, the
   forms and the directory lag by nothing: the command's transaction wrote them.)

    .venv/bin/python -m benchmarks.kafka [--events 5000] [--rate 200] [--seconds 20] [--json]

Starts its own durable PostgreSQL (fsync on) unless DATABASE_URL is set, and its own broker (Kafka 0.9.0.1,
scripts/kafka_broker.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, figure, percentile, production_env
from benchmarks.pg import durable_postgres

sys.path.insert(0, str(ROOT / "scripts"))
from kafka_broker import Broker  # noqa: E402


def _setup(url: str, bootstrap: str, prefix: str) -> None:
    os.environ.update(production_env(url))
    os.environ.update({"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_API_VERSION": "0.9", "KAFKA_TOPIC_PREFIX": prefix})
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _world() -> Any:
    from django.utils import timezone

    from api import demo
    from projections.eventstore import get_application

    return demo.load(get_application(), timezone.now(), with_hazards=False)


def _discover(app: Any, world: Any, i: int, school: str = "hongmei_school") -> Any:
    """One command as the API runs it: events, read-model rows, chain link and position in one transaction."""
    from domain.hazard.aggregate import Severity
    from projections.djangorecorder import execute_inline

    return execute_inline(
        app,
        lambda a: a.discover_hazard(
            actor=world.actor("hm_staff"),
            campaign=world.campaign,
            school=world.units[school],
            inspection=None,
            item="CZ-01",
            description=f"基准隐患{i}",
            severity=Severity.GENERAL,
            location="操场",
            rectified_on_spot=False,
        ),
    )


def relay_throughput(broker: Broker, world: Any, events: int) -> list[dict[str, Any]]:
    from kafka import KafkaProducer

    from consumers import envelope
    from consumers.relay import Relay, make_producer
    from projections import integrity
    from projections.eventstore import get_application

    app = get_application()
    schools = ["hongmei_school", "qinglong_school", "lihua_school"]
    schools = [s for s in schools if s in world.units] or ["hongmei_school"]
    for i in range(events):
        _discover(app, world, i, schools[i % len(schools)])
    total = app.recorder.max_notification_id()

    # ours: the relay, batch by batch, until caught up
    warm = Relay(app, batch_size=10)
    warm.publish_once()  # connects and warms up; not timed
    warm.close()
    relay = Relay(app, batch_size=1000)
    started_at = relay.position()
    t0 = time.perf_counter()
    while relay.publish_once():
        pass
    ours_seconds = time.perf_counter() - t0
    relay.close()
    published = total - started_at

    # baseline: the same keyed envelopes, produced raw with the same settings, acks=all, flushed
    messages = []
    for n in integrity.stored_events(app.recorder):
        if n.id <= started_at:
            continue
        event = app.mapper.to_domain_event(n)
        school = getattr(event, "school", None)
        body = envelope.encode(envelope.build(n, event, "0" * 64, school))
        messages.append((envelope.key(school, n.originator_id), body))
    topic = f"raw-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, 4)
    producer: KafkaProducer = make_producer()
    t0 = time.perf_counter()
    futures = [producer.send(topic, key=k, value=v) for k, v in messages]
    producer.flush(60)
    for f in futures:
        f.get(60)
    raw_seconds = time.perf_counter() - t0
    producer.close()
    ours, raw = published / ours_seconds, len(messages) / raw_seconds
    return [
        figure(
            "relay throughput (events/s)",
            ours,
            raw,
            "events/s",
            "reported (issue 6); ratio vs raw produce",
            None,
            detail=f"{published} events, batch 1000, acks=all; baseline: same messages via KafkaProducer",
        )
    ]


def end_to_end_lag(
    broker: Broker, world: Any, url: str, rate: float, seconds: float, prefix: str
) -> list[dict[str, Any]]:
    from kafka import KafkaConsumer, KafkaProducer

    from projections.eventstore import get_application
    from projections.hazard.rows import HazardLedger
    from projections.notifications import NotificationHazard

    app = get_application()
    hazards = HazardLedger.objects.count()  # written by the commands themselves
    env = {
        **os.environ,
        **production_env(url),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_API_VERSION": "0.9",
        "KAFKA_TOPIC_PREFIX": prefix,
    }
    logs = Path(tempfile.mkdtemp(prefix="bench-kafka-logs."))
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=env,
            stdout=open(logs / f"{argv[0]}.log", "wb"),
            stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        for argv in (["relay"], ["consume", "notifications", "--batch-size", "200"])
    ]
    try:
        # warm up: the group first applies everything already in the topic
        deadline = time.monotonic() + 600
        while NotificationHazard.objects.count() < hazards and time.monotonic() < deadline:
            time.sleep(0.2)
        lags: list[float] = []
        pending: dict[uuid.UUID, float] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def watch() -> None:
            from django.db import connection

            while not stop.is_set() or pending:
                with lock:
                    ids = list(pending)
                if ids:
                    seen = set(NotificationHazard.objects.filter(id__in=ids).values_list("id", flat=True))
                    now = time.perf_counter()
                    with lock:
                        for i in seen:
                            lags.append(now - pending.pop(i))
                if stop.is_set() and time.monotonic() > stop_deadline:
                    break
                time.sleep(0.005)
            connection.close()

        stop_deadline = float("inf")
        watcher = threading.Thread(target=watch)
        watcher.start()
        interval = 1 / rate
        count = int(rate * seconds)
        start = time.perf_counter()
        slow = 0
        for i in range(count):
            target = start + i * interval
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                slow += 1
            hazard = _discover(app, world, i)
            with lock:
                pending[hazard.id] = time.perf_counter()
        achieved = count / (time.perf_counter() - start)
        stop_deadline = time.monotonic() + 60
        stop.set()
        watcher.join()
        lost = len(pending)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)

    # baseline: bare produce → group consume of same-sized messages at the same rate
    topic = f"lag-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, 4)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        api_version=(0, 9),
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    while not consumer.assignment():
        consumer.poll(100)
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap,
        api_version=(0, 9),
        acks="all",
        linger_ms=5,
        max_in_flight_requests_per_connection=1,
    )
    payload = b"x" * 1500
    received: list[float] = []
    sent: dict[int, float] = {}
    done = threading.Event()

    def consume() -> None:
        while not done.is_set() or len(received) < len(sent):
            for records in consumer.poll(timeout_ms=50).values():
                now = time.perf_counter()
                for r in records:
                    received.append(now - sent[int(r.key)])
            if done.is_set() and time.perf_counter() > end_by:
                break

    end_by = float("inf")
    thread = threading.Thread(target=consume)
    thread.start()
    start = time.perf_counter()
    for i in range(count):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent[i] = time.perf_counter()
        producer.send(topic, key=str(i).encode(), value=payload)
    producer.flush(30)
    end_by = time.perf_counter() + 30
    done.set()
    thread.join()
    producer.close()
    consumer.close()

    detail = (
        f"{count} commands at {achieved:.0f}/s target {rate:.0f}/s, {lost} not seen within 60 s; "
        f"relay + notifications group as processes; baseline: raw produce→consume of {len(received)} messages"
    )
    p50, p99 = percentile(lags, 50) * 1000, percentile(lags, 99) * 1000
    b50, b99 = percentile(received, 50) * 1000, percentile(received, 99) * 1000
    return [
        figure("kafka end-to-end lag p50 (ms)", p50, b50, "ms", "reported", None, detail=detail),
        figure("kafka end-to-end lag p99 (ms)", p99, b99, "ms", "≤ 1000 ms", p99 <= 1000 and lost == 0, detail=detail),
    ]


def measure(
    args: dict[str, Any] | None = None, *, events: int = 5000, rate: float = 200, seconds: float = 20
) -> list[dict[str, Any]]:
    """Run in a child process (it sets up Django on its own database and broker); returns the figures.

    ``args`` (the harness's size arguments) are accepted and not needed: the Kafka figures use their own history.
    """
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.kafka",
            "--json",
            "--events",
            str(events),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-kafka.") as folder, durable_postgres() as url:
        broker = Broker(Path(folder))
        broker.start()
        try:
            prefix = f"bench{uuid.uuid4().hex[:6]}"
            broker.create_topic(f"{prefix}.events", 4)
            broker.create_topic(f"{prefix}.checkpoints", 1)
            _setup(url, broker.bootstrap, prefix)
            world = _world()
            figures = relay_throughput(broker, world, args.events)
            figures += end_to_end_lag(broker, world, url, args.rate, args.seconds, prefix)
        finally:
            broker.stop()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for f in figures:
            print(
                f"{f['name']:<36} ours {f['ours']:>10} baseline {f['baseline']:>10} ratio {f['ratio']}  {f['detail']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
