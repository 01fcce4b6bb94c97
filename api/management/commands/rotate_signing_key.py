"""Start a new checkpoint signing key (issue 18 §4): the current key signs a last checkpoint at the chain's head and
is retired there; the new key signs from the next log position. The relay publishes the change to Kafka and the
police-side mirror keeps it. Old checkpoints keep verifying under their own key (each checkpoint names its key id).

The private key stays outside the database, where ``INTEGRITY_SIGNING_KEY`` is configured today:
- without ``--key-file``: a new key is generated into the keys file (``var/keys.json``, the embedded server's);
- with ``--key-file PATH``: the new key is read from PATH (64 hex characters, an Ed25519 seed) and, unless the
  environment sets ``INTEGRITY_SIGNING_KEY``, stored in the keys file; if the environment sets it, the operator
  sets it to the new key and restarts (until then the old key signs nothing more).
Exit 0 on success; a plain message and exit 1 on bad input, nothing changed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from api.keyfile import store_key
from projections import integrity
from projections.signingkeys import KeyProblem, public_of

NAME = "INTEGRITY_SIGNING_KEY"


class Command(BaseCommand):
    help = "轮换检查点签名密钥：旧密钥在当前哈希链头处停用，新密钥自下一日志位置起签名"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--key-file", help="a file holding the new Ed25519 seed (64 hex characters)")

    def handle(self, *args: Any, **options: Any) -> None:
        from_environment = bool(os.environ.get(NAME))
        if options["key_file"]:
            seed = self._read(Path(options["key_file"]))
        elif from_environment:
            raise CommandError(
                f"签名密钥由环境变量 {NAME} 配置：请用 --key-file 指定新私钥文件，轮换后将该变量改为新私钥并重启"
            )
        else:
            seed = secrets.token_hex(32)
        try:
            public_of(seed)
            with transaction.atomic():
                old, new = integrity.rotate(seed)
                if not from_environment:
                    store_key(Path(settings.KEYS_FILE), NAME, seed)  # a failure here rolls the registry back
        except KeyProblem as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"无法写入密钥文件 {settings.KEYS_FILE}：{exc.strerror}") from exc
        settings.INTEGRITY_SIGNING_KEY = seed  # this process signs with the new key from now on
        self.stdout.write(
            f"签名密钥已轮换：旧密钥 {old.key_id} 有效至日志位置 {old.valid_until_position}；"
            f"新密钥 {new.key_id}（公钥 {new.public_key}）自日志位置 {new.valid_from_position} 起签名。"
        )
        if from_environment:
            self.stdout.write(f"请将环境变量 {NAME} 改为 {options['key_file']} 中的新私钥并重启各进程。")
        else:
            self.stdout.write(f"新私钥已写入 {settings.KEYS_FILE}；请重启各进程（未重启的进程不再签名检查点）。")

    @staticmethod
    def _read(path: Path) -> str:
        try:
            seed = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"无法读取新私钥文件 {path}") from exc
        try:
            public_of(seed)
        except KeyProblem as exc:
            raise CommandError(str(exc)) from exc
        return seed
