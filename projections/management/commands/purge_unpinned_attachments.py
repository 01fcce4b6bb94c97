"""Remove the uploads no command referenced (unpinned) that are older than a day, and the blobs no upload uses."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from projections.attachments import purge_unpinned


class Command(BaseCommand):
    help = "删除一天前上传、未被任何操作引用的附件（及不再使用的文件数据）"

    def handle(self, *args: Any, **options: Any) -> None:
        removed = purge_unpinned()
        self.stdout.write(f"removed {removed} unpinned attachment(s)")
