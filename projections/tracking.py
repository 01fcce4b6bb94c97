"""Tracking position: the last event-log position applied to the read models, committed with them."""

from __future__ import annotations

from django.db import models


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

