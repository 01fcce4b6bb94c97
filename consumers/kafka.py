"""Kafka settings in one place: servers, topic names, the API version, client construction."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def bootstrap_servers() -> list[str]:
    servers = [s.strip() for s in settings.KAFKA_BOOTSTRAP_SERVERS.split(",") if s.strip()]
    if not servers:
        raise ImproperlyConfigured("KAFKA_BOOTSTRAP_SERVERS is not set: the relay and the consumers need a broker")
    return servers


def events_topic() -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}.events"


def checkpoints_topic() -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}.checkpoints"


def client_options() -> dict[str, Any]:
    """Options every client shares; ``KAFKA_API_VERSION=0.9`` skips probing (the test broker)."""
    options: dict[str, Any] = {"bootstrap_servers": bootstrap_servers()}
    if settings.KAFKA_API_VERSION:
        try:
            options["api_version"] = tuple(int(p) for p in settings.KAFKA_API_VERSION.split("."))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"KAFKA_API_VERSION must look like 0.9 or 2.8, not {settings.KAFKA_API_VERSION!r}"
            ) from exc
    return options
