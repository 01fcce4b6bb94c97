"""The hazard as a mutable row; django-simple-history copies the row into its history table on every save."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class Hazard(models.Model):
    number = models.CharField(max_length=20)
    school = models.UUIDField(db_index=True)
    category = models.CharField(max_length=100)
    description = models.TextField()
    severity = models.CharField(max_length=10, default="general")
    status = models.CharField(max_length=20, default="assigned")
    owner = models.CharField(max_length=150, null=True)
    deadline = models.DateField(null=True)
    progress = models.IntegerField(default=0)
    progress_note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.IntegerField(default=1)
    history = HistoricalRecords()

    class Meta:
        app_label = "baseline_app"
