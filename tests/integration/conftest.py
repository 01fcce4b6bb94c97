"""Integration fixtures: the demo district (no hazards) and API clients logged in per user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from kafkahelpers import Broker, port_open, use_topics
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api import demo
from domain.application import SafetyApplication
from projections.attachments import wait_for_thumbnails
from projections.runner import catch_up


@pytest.fixture
def world(app: SafetyApplication) -> demo.World:
    """天宁区: a district bureau, the city police bureau, two stations, three schools, every role, a campaign."""
    world = demo.load(app, timezone.now(), with_hazards=False)
    get_user_model().objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
    catch_up(app)
    return world


@pytest.fixture
def rectify_without_photo(settings: Any) -> None:
    """For tests of other rules that rectify through the application itself (not over HTTP, where
    ``apihelpers.with_photo`` attaches one): the installation's rule relaxed (``RECTIFY_REQUIRES_PHOTO``)."""
    settings.RECTIFY_REQUIRES_PHOTO = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """The demo world creates a dozen logins; the default hasher would make every test seconds slower."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client_for(db: None) -> Callable[[str], APIClient]:
    """A client logged in by token; server errors come back as responses, so a 500 fails an assertion."""

    def login(username: str) -> APIClient:
        client = APIClient(raise_request_exception=False)
        token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username=username))
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return login


@pytest.fixture
def user(world: demo.World, client_for: Callable[[str], APIClient]) -> Callable[[str], APIClient]:
    """Clients for the demo district's users (the world is built first)."""
    return client_for


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient(raise_request_exception=False)


@pytest.fixture
def past() -> Callable[[float], str]:
    """An ISO business time ``hours`` ago (commands must be in time order per hazard)."""
    start = timezone.now() - timedelta(days=10)

    def at(hours: float) -> str:
        return (start + timedelta(hours=hours)).isoformat()

    return at


# --- the real Kafka broker (tests marked `kafka`: production mode, PostgreSQL + Kafka) --------------------


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Apache Kafka 0.9.0.1 + ZooKeeper for the session, started here and always stopped (RECIPES)."""
    broker = Broker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def kafka(kafka_broker: Broker, settings: Any, app: SafetyApplication) -> Iterator[Broker]:
    """Production mode for one test: this broker, fresh topics (4 partitions); commands project all but the
    notifications, which are the `notifications` group's."""
    assert connection.vendor == "postgresql", "Kafka tests run in production mode: DATABASE_URL must be PostgreSQL"
    settings.KAFKA_BOOTSTRAP_SERVERS = kafka_broker.bootstrap
    settings.KAFKA_API_VERSION = "0.9"
    settings.KAFKA_TOPIC_PREFIX = use_topics(kafka_broker)
    yield kafka_broker
    if not port_open(kafka_broker.port):  # a test stopped the broker and failed before restarting it
        kafka_broker.start_broker()


@pytest.fixture
def kafka_world(kafka: Broker, app: SafetyApplication) -> demo.World:
    """The demo district with its hazards, written to the log only, outside any command: neither projected nor
    chained yet, as the demo loader leaves it before its catch-up (or an older release left its log)."""
    world = demo.load(app, timezone.now())
    get_user_model().objects.create_superuser("admin", "admin@example.invalid", demo.DEMO_PASSWORD)
    return world


@pytest.fixture(autouse=True)
def _thumbnails_made_within_the_test() -> Iterator[None]:
    """A photo's thumbnail is made after its upload commits, in a thread (tests with committed transactions): none
    is left running into the next test."""
    yield
    wait_for_thumbnails()
