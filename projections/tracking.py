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
