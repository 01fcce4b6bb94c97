"""The API's own store: the exact bytes of each submitted report copy (the log holds their SHA-256)."""

from __future__ import annotations

from django.db import models


class SubmissionCopy(models.Model):
    submission = models.UUIDField(db_index=True)
    line = models.CharField(max_length=20)  # education | police
    content_type = models.CharField(max_length=100)
    filename = models.CharField(max_length=300)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = "报送副本"
        verbose_name_plural = "报送副本"
        constraints = [models.UniqueConstraint(fields=["submission", "line"], name="one_copy_per_line_per_submission")]
