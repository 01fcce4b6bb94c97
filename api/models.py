"""The API's own store: the exact bytes of each submitted report copy (the log holds their SHA-256), the police
content access log, and the stored outcomes of commands sent with an ``Idempotency-Key``."""

from __future__ import annotations

from django.conf import settings
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


class IdempotencyRecord(models.Model):
    """The stored outcome of a command sent with an ``Idempotency-Key`` (``api.idempotency``): unique per user
    and key, written in the command's own transaction, deleted after ``IDEMPOTENCY_KEY_TTL``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=255)
    created_at = models.DateTimeField(db_index=True)
    method = models.CharField(max_length=10)
    path = models.TextField()
    request_sha256 = models.CharField(max_length=64)  # of the request's content type and body
    status = models.PositiveSmallIntegerField(null=True)  # null only inside the claiming transaction
    response_content_type = models.CharField(max_length=200, default="")
    response_body = models.BinaryField(default=b"")

    class Meta:
        verbose_name = "幂等键"
        verbose_name_plural = "幂等键"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_outcome_per_user_and_key")]
