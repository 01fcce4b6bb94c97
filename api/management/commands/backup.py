"""Back up the installation's one database to a new file (README "Backup and restore"); the keys are not in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import backup


class Command(BaseCommand):
    help = "备份本安装的数据库（事件日志、读模型、哈希链、检查点、留存副本、附件、账号）到新文件；密钥另行备份"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the backup file to write (must not exist)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup.backup(options["path"])
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"备份完成 (backed up) {options['path']}: {summary.line()}"))
        self.stdout.write(
            "密钥不在备份中，请另行保管 var/keys.json 或环境变量中的密钥 (the keys are not in the backup)"
        )
