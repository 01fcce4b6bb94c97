"""``/metrics``: the installation's figures for Prometheus (``prometheus_client``), behind ``METRICS_TOKEN``.

Two kinds of figure. Requests and command latencies are counted in the process that serves them (a counter and a
histogram). Everything about the log and what follows it — projection, relay and consumer lag, parked messages, the
deadline watcher's and verify's last runs — is read from the database at scrape time (``DatabaseCollector``), so it
is the same whichever process answers and covers what other processes (relay, consumers, watcher) did.

Several gunicorn workers: with ``PROMETHEUS_MULTIPROC_DIR`` set (docker-compose does, see README "Metrics"), the
counters and histograms are kept in files there by every worker and summed at scrape time (prometheus_client's
multiprocess mode); without it (the embedded server: one worker) they live in the process.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from eventsourcing.persistence import Recording
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from consumers.groups import groups
from consumers.relay import POSITION_NAME as RELAY_POSITION
from domain.errors import DomainError
from projections.eventstore import get_application
from projections.runner import NOTIFICATIONS_POSITION, POSITION_NAME, notifications_in_process
from projections.tracking import (
    VERIFY_RUN,
    WATCHER_RUN,
    ConsumerOffset,
    OperationRun,
    ParkedMessage,
    ProjectionPosition,
)

logger = logging.getLogger(__name__)

PROCESS = CollectorRegistry(auto_describe=True)  # this process's counters (or, multiprocess, its files')
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REQUESTS = Counter(
    "safety_http_requests",
    "Requests answered, by URL pattern name (not the raw path), method and status",
    ["route", "method", "status"],
    registry=PROCESS,
)
COMMAND_SECONDS = Histogram(
    "safety_command_duration_seconds",
    "A command's transaction (events, read models, chain, position), by the type of the first event it recorded",
    ["command", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=PROCESS,
)


# --- in the process: requests and commands ---------------------------------------------------------------------


class MetricsMiddleware:
    """Count every answered request by its URL pattern's name; ``unmatched`` when no pattern matched (404s,
    refusals before routing), so a scan of random paths cannot grow the label set."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or match.route) if match is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(route=route, method=method, status=str(response.status_code)).inc()
        return response


class CommandTimer:
    """Times one command (``api.services.execute``); ``recorded`` is handed to ``execute_inline``."""

    def __init__(self) -> None:
        self.kind = "none"

    def recorded(self, recordings: Sequence[Recording[UUID]]) -> None:
        if recordings:
            self.kind = type(recordings[0].domain_event).__qualname__  # e.g. Hazard.Rectified

    def __enter__(self) -> CommandTimer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        outcome = "recorded" if error is None else ("refused" if isinstance(error, DomainError) else "failed")
        COMMAND_SECONDS.labels(command=self.kind, outcome=outcome).observe(time.perf_counter() - self.started)


# --- at scrape time: the database ------------------------------------------------------------------------------


class DatabaseCollector:
    """Gauges read from the database at each scrape."""

    def __init__(self, end_offsets: Callable[[list[str]], dict[Any, int] | None] | None = None) -> None:
        self.end_offsets = end_offsets or kafka_end_offsets

    def collect(self) -> Iterator[Metric]:
        head = get_application().recorder.max_notification_id() or 0
        positions = dict(ProjectionPosition.objects.values_list("name", "position"))
        yield _gauge("safety_log_head_position", "The newest stored event's log position", head)
        yield from self._projections(head, positions)
        if settings.KAFKA_BOOTSTRAP_SERVERS:
            relay = positions.get(RELAY_POSITION, 0)
            yield _gauge("safety_relay_position", "The last log position the relay published", relay)
            yield _gauge("safety_relay_lag_events", "Events stored but not yet published (head - relay)", head - relay)
            yield from self._consumers()
        yield from self._parked()
        yield from self._runs()

    @staticmethod
    def _projections(head: int, positions: dict[str, int]) -> Iterator[Metric]:
        names = [POSITION_NAME] + ([NOTIFICATIONS_POSITION] if notifications_in_process() else [])
        position = GaugeMetricFamily(
            "safety_projection_position", "A projection's tracking position", labels=["projection"]
        )
        lag = GaugeMetricFamily(
            "safety_projection_lag_events", "Events not yet projected (head - position)", labels=["projection"]
        )
        for name in names:
            position.add_metric([name], positions.get(name, 0))
            lag.add_metric([name], max(0, head - positions.get(name, 0)))
        yield position
        yield lag

    def _consumers(self) -> Iterator[Metric]:
        stored = {(r.group, r.topic, r.partition): r for r in ConsumerOffset.objects.all()}
        offset = GaugeMetricFamily(
            "safety_consumer_offset", "The last Kafka offset a group handled in a partition", labels=LABELS
        )
        applied = GaugeMetricFamily(
            "safety_consumer_applied_position",
            "The highest log position a group applied from a partition",
            labels=LABELS,
        )
        for (group, topic, partition), row in sorted(stored.items()):
            offset.add_metric([group, topic, str(partition)], row.offset)
            applied.add_metric([group, topic, str(partition)], row.position)
        yield offset
        yield applied
        yield from self._consumer_lag(stored)

    def _consumer_lag(self, stored: dict[tuple[str, str, int], ConsumerOffset]) -> Iterator[Metric]:
        subscriptions = {name: group.topics() for name, group in groups(get_application).items()}
        ends = self.end_offsets(sorted({topic for topics in subscriptions.values() for topic in topics}))
        yield _gauge("safety_kafka_end_offsets_up", "Whether the broker answered for the end offsets", ends is not None)
        lag = GaugeMetricFamily(
            "safety_consumer_lag_messages",
            "Messages in a partition after the group's stored offset (the broker's end offset - stored offset - 1)",
            labels=LABELS,
        )
        for tp, end in sorted((ends or {}).items(), key=lambda item: (item[0].topic, item[0].partition)):
            for group in sorted(name for name, topics in subscriptions.items() if tp.topic in topics):
                row = stored.get((group, tp.topic, tp.partition))
                lag.add_metric([group, tp.topic, str(tp.partition)], max(0, end - 1 - (row.offset if row else -1)))
        yield lag

    @staticmethod
    def _parked() -> Iterator[Metric]:
        counts = dict(ParkedMessage.objects.values("group").annotate(n=Count("id")).values_list("group", "n"))
        parked = GaugeMetricFamily("safety_parked_messages", "Messages a consumer group parked", labels=["group"])
        for group in sorted(set(groups(get_application)) | set(counts)):
            parked.add_metric([group], counts.get(group, 0))
        yield parked

    @staticmethod
    def _runs() -> Iterator[Metric]:
        runs = {run.name: run for run in OperationRun.objects.filter(name__in=[WATCHER_RUN, VERIFY_RUN])}
        if watcher := runs.get(WATCHER_RUN):
            yield _gauge(
                "safety_deadline_watcher_last_run_timestamp_seconds",
                "When the deadline watcher last finished a pass",
                watcher.last_run_at.timestamp(),
            )
            yield _gauge("safety_deadline_watcher_last_run_misses", "Misses its last pass recorded", watcher.last_count)
            total = CounterMetricFamily("safety_deadline_watcher_misses_recorded", "Misses the watcher has recorded")
            total.add_metric([], watcher.total_count)
            yield total
        if verify := runs.get(VERIFY_RUN):
            yield _gauge(
                "safety_verify_last_run_timestamp_seconds",
                "When the log was last verified",
                verify.last_run_at.timestamp(),
            )
            yield _gauge("safety_verify_ok", "Whether the last verify found the log and its files intact", verify.ok)
            yield _gauge("safety_verify_last_problems", "Problems the last verify found", verify.last_count)


LABELS = ["group", "topic", "partition"]


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


_kafka_lock = threading.Lock()
_kafka_consumer: Any = None


def kafka_end_offsets(topics: list[str]) -> dict[Any, int] | None:
    """The broker's end offset of every partition of these topics (one group-less consumer per process, kept), or
    None when the broker does not answer: the scrape goes on without consumer lag (``safety_kafka_end_offsets_up``
    0)."""
    global _kafka_consumer
    from kafka import KafkaConsumer, TopicPartition

    from consumers.kafka import client_options

    with _kafka_lock:
        try:
            if _kafka_consumer is None:
                _kafka_consumer = KafkaConsumer(request_timeout_ms=5000, **client_options())
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(_kafka_consumer.partitions_for_topic(topic) or [])
            ]
            return dict(_kafka_consumer.end_offsets(partitions)) if partitions else {}
        except Exception:  # noqa: BLE001 - the broker's trouble never fails a scrape
            logger.warning("metrics: no end offsets from the broker", exc_info=True)
            _close_quietly(_kafka_consumer)
            _kafka_consumer = None
            return None


def _close_quietly(consumer: Any) -> None:
    if consumer is None:
        return
    try:
        consumer.close()
    except Exception:  # noqa: BLE001 - closing a broken client may fail too
        logger.debug("closing the metrics consumer failed", exc_info=True)


# --- the endpoint ----------------------------------------------------------------------------------------------


class _Forward:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def scrape() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(PROCESS))
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def metrics(request: HttpRequest) -> HttpResponse:
    """``/metrics``: 404 unless ``METRICS_TOKEN`` is set; then only for ``Authorization: Bearer <METRICS_TOKEN>``
    (401 without credentials, 403 with others). Never public."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not given:
        response = HttpResponse("需要 Bearer 令牌\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse("令牌无效\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
