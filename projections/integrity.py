"""Integrity of the log (DESIGN §3): a hash chain over the stored events and signed checkpoints.

``h_n = SHA-256(h_{n-1} ‖ canonical bytes of event n)`` in log order, from 32 zero bytes. The chain is kept
in ``ChainLink`` (one row per position, with the event's identity) and every ``CHECKPOINT_EVERY`` events an
Ed25519 signature over the head goes into ``Checkpoint``. ``verify`` recomputes the chain from the stored
events and names each problem: modified, missing, inserted, reordered or bad signature.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from eventsourcing.persistence import Notification

from domain.timerules import beijing_iso
from projections import bulk
from projections.signingkeys import KeyProblem, SigningKey, Terms, key_id_of, next_revision, public_of, terms
from projections.tracking import ProjectionPosition

if TYPE_CHECKING:
    from projections.blobcheck import BlobCheck

logger = logging.getLogger(__name__)
GENESIS = bytes(32)
PAGE = 5000
CHAIN_ROW = "chain"  # its ProjectionPosition row: one chain writer at a time; its position, the last checkpoint's
LINK_FIELDS = ["position", "originator_id", "originator_version", "hash"]


class ChainLink(models.Model):
    position = models.BigIntegerField("日志位置", primary_key=True)
    originator_id = models.UUIDField()
    originator_version = models.IntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "事件哈希链"
        verbose_name_plural = "事件哈希链"
        indexes = [models.Index(fields=["originator_id", "originator_version"], name="chain_event")]


class Checkpoint(models.Model):
    position = models.BigIntegerField("日志位置", primary_key=True)
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    public_key = models.CharField(max_length=64)
    key_id = models.CharField("密钥编号", max_length=16, default="")  # projections.signingkeys.SigningKey
    signed_at = models.DateTimeField()

    class Meta:
        verbose_name = "签名检查点"
        verbose_name_plural = "签名检查点"

    def message(self) -> bytes:
        return checkpoint_message(self.position, self.hash)

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "hash": self.hash,
            "signature": self.signature,
            "public_key": self.public_key,
            "key_id": self.key_id,
            "signed_at": beijing_iso(self.signed_at),
        }


# --- the chain ------------------------------------------------------------------------------------------


def canonical_bytes(n: Notification) -> bytes:
    """What is chained for one stored event: its identity, its topic and its stored state, unambiguously."""
    head = f"{n.originator_id}\n{n.originator_version}\n{n.topic}\n{len(n.state)}\n".encode()
    return head + bytes(n.state)


def next_hash(previous: bytes, n: Notification) -> bytes:
    return hashlib.sha256(previous + canonical_bytes(n)).digest()


def head() -> tuple[int, bytes]:
    """The last chained position and its hash (0 and the genesis hash for an empty chain)."""
    with connection.cursor() as cursor:  # one plain statement: it runs in every command
        cursor.execute(f"SELECT position, hash FROM {ChainLink._meta.db_table} ORDER BY position DESC LIMIT 1")
        last = cursor.fetchone()
    return (int(last[0]), bytes.fromhex(last[1])) if last else (0, GENESIS)


def lock_with_chain(tracking: str) -> tuple[dict[str, int], tuple[int, bytes]]:
    """Lock a tracking row, then the chain's row, in one statement (in that order, as ``catch_up`` takes them:
    the relay takes the chain's only), inside the caller's transaction; their positions by name (a row absent
    from the table being absent), and the chain's head read once both are locked (on PostgreSQL in the same
    round trip: the two statements run one after the other, the second's snapshot taken when the first has
    its locks). The chain row's position is the last checkpoint's (0: not known)."""
    if not tracking > CHAIN_ROW:  # the rows are locked in descending name order
        raise ValueError(f"a tracking row locked with the chain's must sort after {CHAIN_ROW!r}")
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""  # SQLite: the file's write lock
    sql = f"SELECT name, position FROM {ProjectionPosition._meta.db_table} WHERE name IN (%s, %s) ORDER BY name DESC"
    with bulk.together(True), connection.cursor() as cursor, connection.cursor() as last:
        cursor.execute(sql + lock, [tracking, CHAIN_ROW])
        last.execute(f"SELECT position, hash FROM {ChainLink._meta.db_table} ORDER BY position DESC LIMIT 1")
        rows, link = cursor.fetchall(), last.fetchone()
    return {name: int(position) for name, position in rows}, (
        (int(link[0]), bytes.fromhex(link[1])) if link else (0, GENESIS)
    )


def extend(notifications: Sequence[Notification], *, locked_head: tuple[int, bytes] | None = None) -> dict[int, str]:
    """Chain the events after the current head (call inside the caller's transaction); returns position→hash.

    Events already chained are not chained again, so replays and overlapping batches change nothing; the
    hashes of already chained events in the batch are returned as stored. ``locked_head``: the caller holds the
    chain's row already and read the head after taking it (``lock_with_chain``).
    """
    if not notifications:
        return {}
    if locked_head is None:
        ProjectionPosition.objects.select_for_update().get_or_create(name=CHAIN_ROW)  # one chain writer at a time
    position, previous = locked_head or head()
    first, last = notifications[0].id, min(position, notifications[-1].id)
    hashes = (
        dict(ChainLink.objects.filter(position__gte=first, position__lte=last).values_list("position", "hash"))
        if first <= last
        else {}
    )
    links = []
    for n in notifications:
        if n.id <= position:
            continue
        previous = next_hash(previous, n)
        hashes[n.id] = previous.hex()
        links.append((n.id, n.originator_id, n.originator_version, previous.hex()))
    bulk.insert(ChainLink, LINK_FIELDS, links)
    return hashes


def hashes_of(originator_id: UUID) -> dict[int, str]:
    """version → chain hash of one aggregate's events (an event not chained yet has none)."""
    return dict(ChainLink.objects.filter(originator_id=originator_id).values_list("originator_version", "hash"))


def hash_of(originator_id: UUID, version: int) -> str | None:
    return (
        ChainLink.objects.filter(originator_id=originator_id, originator_version=version)
        .values_list("hash", flat=True)
        .first()
    )


# --- checkpoints ----------------------------------------------------------------------------------------


def checkpoint_message(position: int, hash_hex: str) -> bytes:
    return f"school-safety checkpoint\n{position}\n{hash_hex}\n".encode()


def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(settings.INTEGRITY_SIGNING_KEY))


def public_key_hex() -> str:
    return signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def maybe_checkpoint(
    hashes: dict[int, str] | None = None, *, force: bool = False, last: int | None = None
) -> list[Checkpoint]:
    """Sign a checkpoint every ``CHECKPOINT_EVERY`` chained events (and the head when forced).

    ``hashes`` are the links just made (``extend``'s answer); without them only the head is considered.
    ``last``: the last checkpoint's position as the chain's row, locked by the caller, holds it (0 or None:
    not known, read from the checkpoints).
    """
    if hashes is None:
        position, digest = head()
        hashes = {position: digest.hex()} if position else {}
    if not last:
        known = last is not None  # the caller holds the chain's row, which does not know it yet: it will
        last = Checkpoint.objects.order_by("-position").values_list("position", flat=True).first() or 0
        if known and last:
            ProjectionPosition.objects.filter(name=CHAIN_ROW, position__lt=last).update(position=last)
    made = []
    positions = sorted(p for p in hashes if p > last)
    for position in positions:
        if position - last >= settings.CHECKPOINT_EVERY or (force and position == positions[-1]):
            checkpoint = _sign(position, hashes[position])
            if checkpoint is None:
                break
            made.append(checkpoint)
            last = position
    return made


def _sign(position: int, hash_hex: str) -> Checkpoint | None:
    key = signing_key_row()
    if key is None:
        return None
    checkpoint = Checkpoint(
        position=position,
        hash=hash_hex,
        signature=signing_key().sign(checkpoint_message(position, hash_hex)).hex(),
        public_key=key.public_key,
        key_id=key.key_id,
        signed_at=timezone.now(),
    )
    store_checkpoints([checkpoint])
    return checkpoint


def store_checkpoints(checkpoints: Sequence[Checkpoint]) -> None:
    """Store signed checkpoints (made here, or put back as Kafka carried them) under the chain's lock. The
    chain's row keeps the last checkpoint's position, so a command needs no query to know none is due."""
    if not checkpoints:
        return
    Checkpoint.objects.bulk_create(checkpoints)
    last = max(c.position for c in checkpoints)
    ProjectionPosition.objects.filter(name=CHAIN_ROW, position__lt=last).update(position=last)


def signing_key_row() -> SigningKey | None:
    """The registry's row of the configured key if it is the current key (the first key is registered on first
    use, from position 0); else None, logged: a retired, compromised or unregistered key signs nothing (a
    process still running with the key a rotation retired signs no more checkpoints until restarted)."""
    public = public_key_hex()
    key = SigningKey.objects.filter(public_key=public).first()
    if key is None and not SigningKey.objects.exists():
        key = SigningKey.objects.create(
            key_id=key_id_of(public),
            public_key=public,
            valid_from_position=0,
            created_at=timezone.now(),
            revision=next_revision(),
        )
    if key is None or key.valid_until_position is not None or key.compromised_after_position is not None:
        logger.error(
            "the configured INTEGRITY_SIGNING_KEY (public %s) is not the registry's current key: no checkpoint signed"
            " (restart with the key `manage.py rotate_signing_key` installed)",
            public,
        )
        return None
    return key


def rotate(new_seed_hex: str) -> tuple[SigningKey, SigningKey]:
    """Retire the configured key at the chain's head (signing a last checkpoint there if none is) and register the
    new key from the next position, in one transaction under the chain's lock; the caller installs the private key
    (inside the same ``transaction.atomic`` to roll all of it back if that fails). Returns (old, new)."""
    new_public = public_of(new_seed_hex)
    with transaction.atomic():
        ProjectionPosition.objects.select_for_update().get_or_create(name="chain")  # no event chained meanwhile
        old = signing_key_row()
        if old is None:
            raise KeyProblem("当前配置的签名密钥不是登记簿中的现行密钥，无法轮换（请先配置现行密钥）")
        if SigningKey.objects.filter(public_key=new_public).exists():
            raise KeyProblem("该新密钥已在登记簿中，不能再次启用")
        position, digest = head()
        last = Checkpoint.objects.order_by("-position").values_list("position", flat=True).first() or 0
        if position > last:
            _sign(position, digest.hex())  # the old key's last checkpoint: everything up to the head
        now = timezone.now()
        old.valid_until_position, old.retired_at, old.revision = position, now, next_revision()
        old.save(update_fields=["valid_until_position", "retired_at", "revision"])
        new = SigningKey.objects.create(
            key_id=key_id_of(new_public),
            public_key=new_public,
            valid_from_position=position + 1,
            created_at=now,
            revision=next_revision(),
        )
    return old, new


def mark_compromised(key_id: str, after_position: int) -> SigningKey:
    """Record that ``key_id``'s checkpoints after log position ``after_position`` are not to be trusted."""
    if after_position < 0:
        raise KeyProblem("日志位置不能为负数")
    with transaction.atomic():
        ProjectionPosition.objects.select_for_update().get_or_create(name="chain")  # revisions taken one at a time
        key = SigningKey.objects.select_for_update().filter(key_id=key_id).first()
        if key is None:
            raise KeyProblem(f"登记簿中没有密钥 {key_id}")
        if key.valid_until_position is None:
            raise KeyProblem(f"密钥 {key_id} 是现行密钥：请先轮换（manage.py rotate_signing_key），再标记其泄露")
        if key.compromised_after_position is not None and key.compromised_after_position <= after_position:
            raise KeyProblem(f"密钥 {key_id} 已标记为在日志位置 {key.compromised_after_position} 之后泄露")
        key.compromised_after_position, key.compromised_marked_at = after_position, timezone.now()
        key.revision = next_revision()
        key.save(update_fields=["compromised_after_position", "compromised_marked_at", "revision"])
    return key


def signature_valid(position: int, hash_hex: str, signature_hex: str, public_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature_hex), checkpoint_message(position, hash_hex)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


# --- verification ---------------------------------------------------------------------------------------


@dataclass
class Problem:
    # modified | missing | inserted | reordered | unchained | bad_signature | key_compromised | blob_modified |
    # blob_missing
    kind: str
    position: int
    detail: str
    # An attachment's problem (projections/blobcheck.py) also names, as data: the hazard or inspection, the event,
    # the attachment and which of its files; and knows the school, to name it only to those who see that school.
    subject: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    attachment: str | None = None
    blob: str | None = None
    school: UUID | None = field(default=None, repr=False)
    police_only: bool = field(default=False, repr=False)  # an attachment of police-only content: named to police

    def as_dict(self) -> dict[str, Any]:
        shown = asdict(self)
        del shown["school"], shown["police_only"]
        return {k: v for k, v in shown.items() if v is not None or k in ("kind", "position", "detail")}


@dataclass
class Report:
    ok: bool
    events_checked: int
    head: dict[str, Any] | None  # the chain's head (the last chained position and its hash)
    problems: list[Problem] = field(default_factory=list)
    log_head: int = 0  # the log's head: the newest stored event's position
    checked_at: datetime = field(default_factory=timezone.now)
    blobs_checked: int = 0  # distinct attachment files read and hashed

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "head": self.head,
            "problems": [p.as_dict() for p in self.problems],
            "log_head": self.log_head,
            "blobs_checked": self.blobs_checked,
        }


def signature_problem(keys: dict[str, Terms], cp: Checkpoint) -> Problem | None:
    """Whether the checkpoint's key (``keys``: ``signingkeys.terms()``) vouches for it: its signature under the
    key's public half, the key not compromised before the position, the position within the key's period."""
    key = keys.get(cp.key_id)
    if key is None or key.public_key != cp.public_key or not signature_valid(
        cp.position, cp.hash, cp.signature, key.public_key
    ):
        return Problem("bad_signature", cp.position, f"检查点签名无效（密钥编号 {cp.key_id or '无'}）")
    if key.compromised_after is not None and cp.position > key.compromised_after:
        detail = f"检查点由密钥 {key.key_id} 签名，该密钥已登记为在日志位置 {key.compromised_after} 之后泄露"
        return Problem("key_compromised", cp.position, detail)
    if not key.covers(cp.position):
        until = "" if key.valid_until is None else key.valid_until
        detail = f"检查点位置不在密钥 {key.key_id} 的有效期（日志位置 {key.valid_from}–{until}）内"
        return Problem("bad_signature", cp.position, detail)
    return None


def verify(
    notifications: Iterable[Notification], *, max_problems: int = 100, blobs: BlobCheck | None = None
) -> Report:
    """Recompute the chain over the stored events and compare it with the links and the checkpoints.

    Links and events are walked together in position order. On a mismatch the chain continues from the stored
    link, so one edit is reported once and later problems are still found. The chain's head must be the log's
    head: a link after the newest event is ``missing``; an event after the chain's head is ``unchained`` (every
    event is chained in the transaction that stores it, in every mode); a checkpoint after either head is ``missing``.
    The checkpoints are read first, then the links, then the events (each committed no later than the next), and
    links stored while this runs are looked up again at the end: a command committed meanwhile is not a problem.
    With ``blobs`` (``projections.blobcheck.verify``) the attachments the events reference are noted on the way and
    their stored files checked after the walk; their problems follow the chain's.
    """
    if blobs is not None:
        notifications = blobs.watch(notifications)
    checkpoints = list(Checkpoint.objects.order_by("position"))
    links = _links()
    identities = {(link[1], link[2]): link[0] for link in links.values()}
    link_positions = iter(sorted(links))
    next_link = next(link_positions, None)
    last_link = max(links, default=0)
    problems: list[Problem] = []
    absent: list[int] = []  # chained positions with no stored event (missing, or moved elsewhere)
    recomputed: dict[int, str] = {}
    seen: set[tuple[UUID, int]] = set()
    tail: list[Notification] = []  # events after the chain's head as it was when the check began
    previous = GENESIS
    checked = 0
    log_head = 0

    def compare(n: Notification, previous: bytes, link: tuple[int, UUID, int, str]) -> None:
        identity = (n.originator_id, n.originator_version)
        digest = next_hash(previous, n).hex()
        recomputed[n.id] = digest
        _, link_id, link_version, link_hash = link
        if digest == link_hash:
            return
        if identity == (link_id, link_version):
            problems.append(Problem("modified", n.id, f"事件 {_name(identity)} 的内容与哈希链不符"))
        else:
            kind = "reordered" if identity in identities else "inserted"
            detail = f"该位置应为 {_name((link_id, link_version))}，现为 {_name(identity)}"
            problems.append(Problem(kind, n.id, detail))

    for n in notifications:
        while next_link is not None and next_link < n.id:
            absent.append(next_link)
            previous = bytes.fromhex(links[next_link][3])
            next_link = next(link_positions, None)
        checked += 1
        log_head = n.id
        identity = (n.originator_id, n.originator_version)
        seen.add(identity)
        if next_link != n.id:
            if n.id < last_link:
                recomputed[n.id] = next_hash(previous, n).hex()
                problems.append(Problem("inserted", n.id, f"哈希链中没有的事件 {_name(identity)}"))
            else:
                tail.append(n)
            continue
        compare(n, previous, links[n.id])
        previous = bytes.fromhex(links[n.id][3])
        next_link = next(link_positions, None)
    while next_link is not None:
        absent.append(next_link)
        next_link = next(link_positions, None)
    for position in absent:
        identity = (links[position][1], links[position][2])
        kind = "reordered" if identity in seen else "missing"
        problems.append(Problem(kind, position, f"事件 {_name(identity)} 不在原位置"))

    # The tail: chained since the links were read (a command committed meanwhile), or not chained at all.
    late = _links(after=last_link, upto=tail[-1].id) if tail else {}
    chain_head = max(late, default=last_link)
    unchained: list[Notification] = []
    for n in tail:
        if n.id in late:
            compare(n, previous, late[n.id])
            previous = bytes.fromhex(late[n.id][3])
        elif n.id < chain_head:  # as in the walk above: the chain goes on from the link before
            recomputed[n.id] = next_hash(previous, n).hex()
            identity = (n.originator_id, n.originator_version)
            problems.append(Problem("inserted", n.id, f"哈希链中没有的事件 {_name(identity)}"))
        else:
            recomputed[n.id] = next_hash(previous, n).hex()
            previous = bytes.fromhex(recomputed[n.id])
            unchained.append(n)
    for n in unchained:
        detail = (
            f"事件 {_name((n.originator_id, n.originator_version))} 未链入哈希链"
            f"（日志头 {log_head}，哈希链头 {chain_head}）"
        )
        problems.append(Problem("unchained", n.id, detail))

    keys = terms()  # the registry and the police-side mirror's copy, the stricter winning
    for cp in checkpoints:
        signed = signature_problem(keys, cp)
        if signed is not None:
            problems.append(signed)
        elif cp.position > log_head:
            if not any(log_head < p.position <= cp.position for p in problems):
                detail = f"签名检查点 {cp.position} 超出日志头 {log_head}：其签名覆盖的事件已不在日志中"
                problems.append(Problem("missing", cp.position, detail))
        elif cp.position > chain_head:
            if not any(chain_head < p.position <= cp.position for p in problems):
                detail = f"签名检查点 {cp.position} 超出哈希链头 {chain_head}：其后的链接已被删除"
                problems.append(Problem("missing", cp.position, detail))
        elif recomputed.get(cp.position) != cp.hash and not any(p.position <= cp.position for p in problems):
            problems.append(Problem("modified", cp.position, "检查点之前的哈希链被改写"))
    problems.sort(key=lambda p: p.position)
    if blobs is not None:
        problems.extend(blobs.problems())
    head_link = late.get(chain_head) or links.get(chain_head)
    return Report(
        ok=not problems,
        events_checked=checked,
        head={"position": chain_head, "hash": head_link[3]} if head_link else None,
        problems=problems[:max_problems],
        log_head=log_head,
        blobs_checked=blobs.blobs_checked if blobs is not None else 0,
    )


def _links(*, after: int = 0, upto: int | None = None) -> dict[int, tuple[int, UUID, int, str]]:
    rows = ChainLink.objects.filter(position__gt=after)
    if upto is not None:
        rows = rows.filter(position__lte=upto)
    return {
        row[0]: row
        for row in rows.order_by("position")
        .values_list("position", "originator_id", "originator_version", "hash")
        .iterator(chunk_size=PAGE)
    }


def _name(identity: tuple[UUID, int]) -> str:
    return f"{identity[0]}#{identity[1]}"


def stored_events(recorder: Any, *, page: int = PAGE, start: int = 0) -> Iterator[Notification]:
    """Every stored event (after position ``start``) in log order, read in large pages (the library's log section
    is 10)."""
    while True:
        batch = recorder.select_notifications(start=start, limit=page, inclusive_of_start=False)
        if not batch:
            return
        yield from batch
        start = batch[-1].id
