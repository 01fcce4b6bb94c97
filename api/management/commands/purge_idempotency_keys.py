"""Delete the stored outcomes of ``Idempotency-Key`` commands older than ``IDEMPOTENCY_KEY_TTL`` (default 24 h)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from api.idempotency import purge_expired


class Command(BaseCommand):
    help = "删除过期的幂等键及其保存的结果（默认24小时，见 IDEMPOTENCY_KEY_TTL_HOURS）"

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"deleted {purge_expired()} expired idempotency keys")
