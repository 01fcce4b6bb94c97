"""Mark a retired checkpoint signing key compromised after a log position (issue 18 §4): ``verify`` names each
checkpoint that key signed after that position ``key_compromised``, judged by position against both the registry
and the police-side mirror's copy (the relay publishes the mark), never by a time the key itself signed.

A current key is rotated first (``manage.py rotate_signing_key``). Exit 0 on success; a plain message and exit 1 on
bad input, nothing changed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projections import integrity
from projections.signingkeys import KeyProblem


class Command(BaseCommand):
    help = "标记检查点签名密钥自某日志位置之后泄露：该密钥在此位置之后签名的检查点校验失败（key_compromised）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key_id", help="the key's id (audit/public-key/ lists them)")
        parser.add_argument(
            "--after-position", type=int, required=True, help="the last log position the key is still trusted for"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = integrity.mark_compromised(options["key_id"], options["after_position"])
        except KeyProblem as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"密钥 {key.key_id} 已标记为在日志位置 {key.compromised_after_position} 之后泄露；"
            "其此后签名的检查点将校验失败（key_compromised）。"
        )
