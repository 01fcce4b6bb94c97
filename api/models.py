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


class PoliceContentRead(models.Model):
    """One read of police-only content (公安专属内容查阅记录): who read which form's notes, how and when.

    Appended by ``api.policeaccess.record_read`` and never changed: in PostgreSQL triggers refuse UPDATE and DELETE.
    """

    read_at = models.DateTimeField("查阅时间", db_index=True)
    username = models.CharField("查阅人", max_length=150)
    role = models.CharField("角色", max_length=30)
    unit = models.UUIDField("所在单位", null=True)
    via = models.CharField("途径", max_length=30)  # api | history | page | submission_copy
    form = models.UUIDField("报表", null=True, db_index=True)
    submission = models.UUIDField("报送记录", null=True)
    school = models.UUIDField("学校", null=True, db_index=True)

    class Meta:
        verbose_name = "公安专属内容查阅记录"
        verbose_name_plural = "公安专属内容查阅记录"
