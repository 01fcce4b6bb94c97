"""Attachments (照片、文件): each upload's own row, its bytes kept once per SHA-256 behind Django's storage API —
by default ``DatabaseStorage``, in the installation's database, so one backup holds the log and every photo."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import connection, connections, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from domain.attachments import AttachmentRef, Attachments
from domain.errors import AttachmentNotFound, InvalidAttachment
from domain.policy import Actor, Role
from projections import originalpatch, scope
from projections.attachmentmedia import Processed, UnsupportedMedia, is_image, sha256, thumbnail_of
from projections.attachmentuse import AttachmentUse

logger = logging.getLogger(__name__)

STORAGE = "attachments"  # the STORAGES alias the blobs live in
UNPINNED_FOR = timedelta(days=1)  # an upload no command referenced is removed after this


class StoredFile(models.Model):
    """``DatabaseStorage``'s files: a name and its bytes."""

    name = models.CharField(max_length=255, primary_key=True)
    content = models.BinaryField()
    size = models.BigIntegerField()

    class Meta:
        verbose_name = verbose_name_plural = "数据库存储文件"


class AttachmentBlob(models.Model):
    """One stored byte string, named by its SHA-256, whatever the storage: the row that uploads (reusing it)
    and the purge (removing it) lock, so a blob is never removed under an upload that is about to use it."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "附件数据块"

    @property
    def name(self) -> str:
        return blob_name(self.sha256)


class Attachment(models.Model):
    """One upload (its own id, never shared): what was read from it and the SHA-256 of each of its blobs."""

    id = models.UUIDField(primary_key=True, default=uuid4)
    uploaded_by = models.CharField(max_length=150, db_index=True)
    uploaded_at = models.DateTimeField(db_index=True)
    filename = models.CharField(max_length=255)
    caption = models.CharField(max_length=500, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()  # of the served bytes
    size_original = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)  # of the served bytes (location stripped)
    sha256_original = models.CharField(max_length=64)
    thumbnail_sha256 = models.CharField(max_length=64, null=True)
    # Set when the original is stored as a patch of the served bytes (``projections.originalpatch``), not whole.
    original_patch_sha256 = models.CharField(max_length=64, null=True)
    width = models.IntegerField(null=True)
    height = models.IntegerField(null=True)
    taken_at = models.DateTimeField(null=True)
    # Set by the command that first references the upload, under a lock on this row (select_for_update), the
    # same lock ``purge_unpinned`` takes: a photo being attached is never removed.
    pinned = models.BooleanField(default=False)

    class Meta:
        verbose_name = verbose_name_plural = "附件"

    def blob_hashes(self) -> set[str]:
        hashes = (self.sha256, self.sha256_original, self.thumbnail_sha256, self.original_patch_sha256)
        return {h for h in hashes if h}


@deconstructible
class DatabaseStorage(Storage):
    """Django's storage API over ``StoredFile``, on Django's connection: a file saved inside a transaction commits
    or rolls back with it. Names are content addresses: saving a name that exists keeps the stored bytes."""

    def _save(self, name: str, content: File) -> str:
        data = content.read()
        if connection.vendor == "postgresql":
            _insert_binary(name, data)
        else:
            StoredFile.objects.bulk_create([StoredFile(name=name, content=data, size=len(data))], ignore_conflicts=True)
        return name

    def _open(self, name: str, mode: str = "rb") -> File:
        row = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
        if row is None:
            raise FileNotFoundError(name)
        return ContentFile(bytes(row), name=name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name

    def exists(self, name: str) -> bool:
        return StoredFile.objects.filter(name=name).exists()

    def delete(self, name: str) -> None:
        StoredFile.objects.filter(name=name).delete()

    def size(self, name: str) -> int:
        size = StoredFile.objects.filter(name=name).values_list("size", flat=True).first()
        if size is None:
            raise FileNotFoundError(name)
        return int(size)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("attachments are served by the API (api/attachments.py), which checks who asks")


def _insert_binary(name: str, data: bytes) -> None:
    """PostgreSQL: the bytes sent as a binary parameter, on Django's connection (in its transaction). Django's
    cursors bind parameters on the client, so a 5 MB file would travel as a 10 MB hex literal for the server to parse:
    measured 340–470 ms against 50–80 ms this way."""
    import psycopg

    connection.ensure_connection()
    table = connection.ops.quote_name(StoredFile._meta.db_table)
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, content, size) VALUES (%s, %b, %s) ON CONFLICT (name) DO NOTHING",
            (name, data, len(data)),
        )


@deconstructible
class DurableFileSystemStorage(FileSystemStorage):
    """``FileSystemStorage`` whose file is on the disk when ``save`` returns, as a commit is: the file, then each
    directory from its own up to ``location`` (a new ``sha256/ab/`` included), synced. Django's own does not sync: a
    photo answered 201 could be lost in a power cut while the database kept its row. ``_put_blobs`` stores the bytes
    before the row commits, so a row never names a file that a crash left unwritten."""

    def _save(self, name: str, content: File) -> str:
        name = super()._save(name, content)
        root = os.path.realpath(self.location)
        target = os.path.realpath(self.path(name))
        while True:
            _fsync(target)
            if target == root or os.path.dirname(target) == target:
                return name
            target = os.path.dirname(target)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def blob_name(digest: str) -> str:
    return f"sha256/{digest[:2]}/{digest}"


def read_blob(digest: str) -> bytes:
    with storages[STORAGE].open(blob_name(digest)) as stored:
        return bytes(stored.read())


def read_original(row: Attachment) -> bytes:
    """The bytes uploaded: stored whole, or rebuilt from the served copy and its patch and checked against
    ``sha256_original`` (``originalpatch.Unreadable`` when they do not give it back; ``FileNotFoundError`` when one
    is not stored)."""
    if not row.original_patch_sha256:
        return read_blob(row.sha256_original)
    return originalpatch.rebuild(read_blob(row.original_patch_sha256), read_blob(row.sha256), row.sha256_original)


def store_upload(processed: Processed, *, uploaded_by: str, filename: str, caption: str) -> Attachment:
    """The upload's blobs (each once per SHA-256) and its own row, in one transaction of its own (or the caller's).
    An image stored without its thumbnail (``process(..., later=True)``) has it made once that transaction has
    committed, in a thread (``make_thumbnail_later``); until then, and if that thread never finishes (the process
    ended), ``ensure_thumbnail`` makes it when it is first asked for."""
    # Each SHA-256 once: a 5 MB photo's is ~3 ms. (The original's in a thread beside the served copy's and the blob
    # writes was measured no faster on the shared 2-core machine, twice: 20 ms against 17 one after the other at
    # load 6; the request's own SHA-256 time 5.6 against 5.7 ms at load 1.8 — BENCHMARKS.md.)
    served = sha256(processed.served)
    original = served if processed.original is processed.served else sha256(processed.original)  # a PDF
    patch = sha256(processed.original_patch) if processed.original_patch is not None else None
    blobs = {served: processed.served}
    if patch and processed.original_patch is not None:  # the original: the served bytes and what was removed
        blobs[patch] = processed.original_patch
    else:
        blobs[original] = processed.original
    thumb = sha256(processed.thumbnail) if processed.thumbnail else None
    with _checkpoint_after_the_answer(), transaction.atomic():
        _put_blobs(blobs)  # locked in one order (by SHA-256): two uploads never wait on each other in a cycle
        # Last: the thumbnail, derived from the served bytes, is never one of another upload's blobs locked before
        # its own thumbnail.
        if processed.thumbnail and thumb:
            _put_blobs({thumb: processed.thumbnail})
        row = Attachment.objects.create(
            uploaded_by=uploaded_by,
            uploaded_at=timezone.now(),
            filename=filename,
            caption=caption,
            content_type=processed.content_type,
            size=len(processed.served),
            size_original=len(processed.original),
            sha256=served,
            sha256_original=original,
            thumbnail_sha256=thumb,
            original_patch_sha256=patch,
            width=processed.width,
            height=processed.height,
            taken_at=processed.taken_at,
        )
        if (processed.is_image and thumb is None) or connection.vendor == "sqlite":
            transaction.on_commit(partial(make_thumbnail_later, row.id))
        return row


@contextmanager
def _checkpoint_after_the_answer() -> Iterator[None]:
    """SQLite (embedded): an upload's commit writes its megabytes to the write-ahead log and syncs it — durable when
    answered — but does not also copy them into the database file at once (the automatic checkpoint a commit makes
    once the log holds 1,000 pages: the bytes written a second time and the file synced, measured 40 ms against
    15 for the commit alone, 5 MB at load 6). The thread started after the commit does it (``_checkpoint``). Inside
    a caller's transaction the setting is back before that commits: its commit checkpoints as any other."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (pages,) = cursor.fetchone()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")


# --- thumbnails made after the upload ------------------------------------------------------------------------

_making: dict[UUID, threading.Lock] = {}  # per attachment, in this process: one thread decodes, the others wait
_making_guard = threading.Lock()
_later: set[threading.Thread] = set()  # the threads of ``make_thumbnail_later`` not yet finished


_held = threading.local()  # ``hold_thumbnails``: per thread, the uploads whose thumbnail waits for the answer


def hold_thumbnails() -> None:
    """From now on in this thread, ``make_thumbnail_later`` notes the upload and starts nothing until
    ``release_thumbnails`` (a request: once its answer has been sent — the thread's reading and hashing of 5 MB would
    otherwise compete with the answer being made and written, on the GIL and the 2 cores)."""
    if getattr(_held, "uploads", None) is None:
        _held.uploads = []


def release_thumbnails() -> None:
    """The thumbnails ``hold_thumbnails`` held in this thread: their threads started now (none held: nothing)."""
    uploads, _held.uploads = getattr(_held, "uploads", None) or [], None
    for pk in uploads:
        make_thumbnail_later(pk)


def make_thumbnail_later(pk: UUID) -> None:
    """``ensure_thumbnail`` in a thread of its own (after the upload's commit: the answer does not wait for the
    decode; in a request, once the answer has been sent: ``hold_thumbnails``), then on SQLite the checkpoint the
    upload's commit left (``_checkpoint_after_the_answer``). A failure leaves the row without a thumbnail, made again
    when asked for; a process that ends meanwhile leaves nothing half done (the blob and the row's
    ``thumbnail_sha256`` are written in one transaction; the log is checkpointed by the next commit that finds it
    long)."""
    held = getattr(_held, "uploads", None)
    if held is not None:
        held.append(pk)
        return
    thread = threading.Thread(target=_make_in_thread, args=(pk,), name=f"thumbnail-{pk}", daemon=True)
    with _making_guard:
        _later.add(thread)
    thread.start()


def _make_in_thread(pk: UUID) -> None:
    try:
        ensure_thumbnail(pk)
        _checkpoint()
    except Exception:  # noqa: BLE001 — asked for, it is made then (or answered as missing)
        logger.warning("after the upload of attachment %s: thumbnail or checkpoint not done", pk, exc_info=True)
    finally:
        connections.close_all()  # this thread's own connections
        with _making_guard:
            _later.discard(threading.current_thread())


def _checkpoint() -> None:
    """SQLite: the write-ahead log copied into the database file as far as no reader needs it (never waits)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def wait_for_thumbnails(timeout: float = 60.0) -> None:
    """Until the thumbnails being made after uploads in this process are made (tests; a clean shutdown)."""
    release_thumbnails()  # any this thread held (a request's that was never finished)
    with _making_guard:
        threads = list(_later)
    for thread in threads:
        thread.join(timeout)


def ensure_thumbnail(pk: UUID) -> str | None:
    """The SHA-256 of the attachment's thumbnail, made now if it has none yet: from its served bytes (checked
    against their SHA-256 first), stored with the row's ``thumbnail_sha256`` in one transaction, once — in this
    process one caller decodes while the others wait, between processes the row's update decides. None when it has
    none and can have none: not an image, the upload removed, its served bytes missing or altered, or its pixels
    unreadable (a photo accepted by its structure whose compressed data is damaged)."""
    with _making_guard:
        lock = _making.setdefault(pk, threading.Lock())
    try:
        with lock:
            return _ensure_thumbnail(pk)
    finally:
        with _making_guard:
            if not lock.locked():
                _making.pop(pk, None)


def _ensure_thumbnail(pk: UUID) -> str | None:
    row = Attachment.objects.filter(id=pk).only("sha256", "content_type", "thumbnail_sha256").first()
    if row is None or row.thumbnail_sha256 or not is_image(row.content_type):
        return row.thumbnail_sha256 if row else None
    try:
        served = read_blob(row.sha256)
    except FileNotFoundError:
        return None
    if sha256(served) != row.sha256:
        return None  # not the bytes the upload recorded: no picture made of them (verify names the blob)
    try:
        thumbnail = thumbnail_of(served, row.content_type)
    except UnsupportedMedia:
        return None
    digest = sha256(thumbnail)
    with transaction.atomic():
        # The row first (locked by the update), then the blob: the order ``purge_unpinned`` locks them in.
        if not Attachment.objects.filter(id=pk, thumbnail_sha256__isnull=True).update(thumbnail_sha256=digest):
            return Attachment.objects.filter(id=pk).values_list("thumbnail_sha256", flat=True).first()
        _put_blobs({digest: thumbnail})
    return digest


def _put_blobs(blobs: dict[str, bytes]) -> None:
    """The blobs' rows locked, each created if new, in one statement and one order (by SHA-256: the order of its
    ``VALUES``, in which PostgreSQL locks them — ``ON CONFLICT DO UPDATE`` locks an existing row as ``SELECT … FOR
    UPDATE`` does, the lock ``purge_unpinned`` takes; one that the purge removed meanwhile is inserted again), then
    each one's bytes stored unless the storage has them already (``DatabaseStorage`` skips a name it has itself, in
    its insert: no statement asks first)."""
    digests = sorted(blobs)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    table = connection.ops.quote_name(AttachmentBlob._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (sha256, size, created_at) VALUES {', '.join(['(%s, %s, %s)'] * len(digests))} "
            "ON CONFLICT (sha256) DO UPDATE SET size = EXCLUDED.size",
            [value for digest in digests for value in (digest, len(blobs[digest]), now)],
        )
    storage = storages[STORAGE]
    for digest in digests:
        name = blob_name(digest)
        if isinstance(storage, DatabaseStorage) or not storage.exists(name):
            storage.save(name, ContentFile(blobs[digest]))


def purge_unpinned(now: datetime | None = None) -> int:
    """Remove the uploads no command referenced that are older than ``UNPINNED_FOR``, and the blobs no
    remaining upload uses. Each row is locked first and judged again under the lock: one pinned meanwhile stays."""
    cutoff = (now or timezone.now()) - UNPINNED_FOR
    with transaction.atomic():
        # locked in one order (by id), as ``pin`` locks them: the two never wait on each other in a cycle
        unpinned = Attachment.objects.select_for_update().filter(pinned=False, uploaded_at__lt=cutoff)
        doomed = list(unpinned.order_by("id"))
        hashes = set().union(*(a.blob_hashes() for a in doomed)) if doomed else set()
        Attachment.objects.filter(id__in=[a.id for a in doomed]).delete()
        _remove_unused_blobs(hashes)
    return len(doomed)


def _remove_unused_blobs(hashes: set[str]) -> None:
    locked = list(AttachmentBlob.objects.select_for_update().filter(sha256__in=sorted(hashes)).order_by("sha256"))
    fields = ("sha256", "sha256_original", "thumbnail_sha256", "original_patch_sha256")
    used = Q()
    for field in fields:
        used |= Q(**{f"{field}__in": hashes})
    in_use: set[str] = set()
    for row in Attachment.objects.filter(used).values(*fields):
        in_use.update(v for v in row.values() if v)
    storage = storages[STORAGE]
    for blob in locked:
        if blob.sha256 not in in_use:
            storage.delete(blob.name)
            blob.delete()


def pin(actor: Actor, ids: Sequence[UUID]) -> Attachments:
    """The references a command records for the uploads ``ids``, each pinned (never purged from now on).

    Call inside the command's transaction: the rows are locked (``select_for_update``, by id — the order
    ``purge_unpinned`` locks them in), so an upload is either removed before (then ``invalid_attachment``) or pinned
    and kept; a command that fails rolls its pins back with everything else. Each must be one the actor may see
    (``visible_attachment``'s rule): an id that is unknown, removed or not theirs → 400 ``invalid_attachment``.
    The order given is kept (a repeated id is the domain's to refuse)."""
    if not ids:
        return ()
    locked = Attachment.objects.select_for_update().filter(id__in=sorted(set(ids))).order_by("id")
    rows = {row.id: row for row in locked}
    for pk in ids:
        row = rows.get(pk)
        if row is None or not _may_see(actor, row, original=False):
            raise InvalidAttachment(f"附件 {pk} 不存在、已被清理或您无权使用", attachment=str(pk))
    Attachment.objects.filter(id__in=[pk for pk, row in rows.items() if not row.pinned]).update(pinned=True)
    return tuple(ref_of(rows[pk]) for pk in ids)


def ref_of(row: Attachment) -> AttachmentRef:
    """What an event records of an upload: its id and the hashes, size and type of its bytes."""
    return AttachmentRef(
        id=row.id,
        sha256=row.sha256,
        sha256_original=row.sha256_original,
        size=row.size,
        content_type=row.content_type,
    )


def visible_attachment(actor: Actor, pk: UUID, *, original: bool = False) -> Attachment:
    """The attachment if the actor may see it (its original bytes, with ``original``), else 404 — never 403."""
    row = Attachment.objects.filter(id=pk).first()
    if row is None or not _may_see(actor, row, original=original):
        raise AttachmentNotFound(id=str(pk))
    return row


# Who may read the original bytes (location metadata kept) of an attachment they see: auditors and the bureaus.
ORIGINAL_READERS = frozenset({Role.AUDITOR, Role.EDU_INSPECTOR, Role.EDU_LEADER, Role.POLICE_OFFICER})


def _may_see(actor: Actor, row: Attachment, *, original: bool) -> bool:
    """The one rule. Its uploader always sees an upload, its original too (the bytes they sent); no one else while
    no event references it. Once referenced (``AttachmentUse``): whoever may see one of the referencing hazards or
    inspections (their school in the actor's scope, ``projections.scope``), police-only uses police units only;
    the original only to auditors and bureau roles among them."""
    if row.uploaded_by == actor.username:
        return True
    if original and actor.role not in ORIGINAL_READERS:
        return False
    uses = AttachmentUse.objects.filter(attachment=row.id)
    if not scope.sees_police_content(actor):
        uses = uses.filter(police_only=False)
    return bool(scope.filter_by_school(uses, actor).exists())


def meta(row: Attachment) -> dict[str, Any]:
    """What an upload is, for its JSON (the API adds the URLs)."""
    return {
        "id": row.id,
        "sha256": row.sha256,
        "sha256_original": row.sha256_original,
        "filename": row.filename,
        "caption": row.caption,
        "content_type": row.content_type,
        "size": row.size,
        "width": row.width,
        "height": row.height,
        "taken_at": row.taken_at,
        "uploaded_by": row.uploaded_by,
        "uploaded_at": row.uploaded_at,
        "thumbnail_sha256": row.thumbnail_sha256,
    }
