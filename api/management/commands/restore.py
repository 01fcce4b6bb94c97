"""Restore the installation's database from a backup made by ``manage.py backup``, then migrate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import backup


class Command(BaseCommand):
    help = "从 manage.py backup 的备份恢复本安装的数据库（只恢复到新安装；--force 整体替换已有数据）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="a file written by manage.py backup")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace an installation that already holds events or logins, or whose signing key did not sign "
            "the backup's checkpoints",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup.restore(options["path"], force=options["force"])
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        call_command("migrate", verbosity=0)  # a backup of an earlier release: brought up to this one
        self.stdout.write(self.style.SUCCESS(f"恢复完成 (restored) {options['path']}: {summary.line()}"))
        self.stdout.write("请运行 manage.py verify_integrity 核对 (run manage.py verify_integrity to check it)")
