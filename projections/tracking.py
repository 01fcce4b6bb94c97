"""Tracking position: the last event-log position applied to the read models, committed with them."""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.utils import timezone


class ProjectionPosition(models.Model):
    name = models.CharField(max_length=64, primary_key=True)
    position = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "投影进度"
        verbose_name_plural = "投影进度"

    def __str__(self) -> str:
        return f"{self.name}@{self.position}"


class ConsumerOffset(models.Model):
    """A consumer group's progress in one Kafka partition, committed with the read-model change it caused.

    ``offset`` is the last Kafka offset handled; ``position`` the highest event-log position applied from this
    partition (a school's events stay in one partition in log order, so a lower or equal one is a duplicate).
    """

    group = models.CharField(max_length=64)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField(default=-1)
    position = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "消费进度"
        verbose_name_plural = "消费进度"
        constraints = [models.UniqueConstraint(fields=["group", "topic", "partition"], name="one_offset_per_partition")]


class ParkedMessage(models.Model):
    """A message a consumer group could not apply (poison): kept with its reason, the group went on."""

    group = models.CharField(max_length=64)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.TextField(blank=True)
    value = models.BinaryField()
    reason = models.TextField()
    parked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "搁置的消息"
        verbose_name_plural = "搁置的消息"
        constraints = [models.UniqueConstraint(fields=["group", "topic", "partition", "offset"], name="park_once")]




WATCHER_RUN = "deadline_watcher"
VERIFY_RUN = "verify"


class OperationRun(models.Model):
    """The last run of an operation that runs outside the API (the deadline watcher, verify): when, whether it
    passed, and a running count of what it recorded — read by ``/metrics`` (``api/metrics.py``) at scrape time,
    whichever process ran it."""

    name = models.CharField(max_length=64, primary_key=True)
    last_run_at = models.DateTimeField()
    ok = models.BooleanField(default=True)
    last_count = models.BigIntegerField(default=0)
    total_count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "运行记录"
        verbose_name_plural = "运行记录"

    def __str__(self) -> str:
        return f"{self.name}@{self.last_run_at:%Y-%m-%d %H:%M:%S}"


def record_run(name: str, *, ok: bool, count: int = 0) -> None:
    """Note a finished run of ``name`` (``count``: what this run recorded or found, added to the running total)."""
    now = timezone.now()
    updated = OperationRun.objects.filter(name=name).update(
        last_run_at=now, ok=ok, last_count=count, total_count=F("total_count") + count
    )
    if not updated:
        OperationRun.objects.get_or_create(
            name=name, defaults={"last_run_at": now, "ok": ok, "last_count": count, "total_count": count}
        )
