"""How an upload's bytes are stored (issue 16 points 5 and 8): each blob's row locked in one statement for all of
them, the bytes sent as they are (PostgreSQL: a binary parameter, no compression attempt), in the upload's one
transaction — a failure after the blob writes leaves nothing."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from PIL import ExifTags, Image
from rest_framework.test import APIClient
from test_attachments import fetched, upload

from projections.attachments import STORAGE, Attachment, AttachmentBlob, StoredFile, blob_name, read_blob

from apihelpers import API, ok

Client = Callable[[str], APIClient]


def upright_photo_with_gps(seed: int = 0) -> bytes:
    """An upright phone photo (Orientation 1) with its location: served stripped, the original kept as a patch."""
    image = Image.effect_noise((800, 600), 60 + seed).convert("RGB")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:07:20 10:15:30"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: "N", 2: (31.0, 47.0, 12.5), 3: "E", 4: (119.0, 57.0, 3.0)})
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def test_an_upload_locks_its_blobs_in_one_statement_and_asks_no_storage_first(user: Client) -> None:
    staff = user("hm_staff")
    with CaptureQueriesContext(connection) as queries:
        body = ok(upload(staff, "现场.jpg", upright_photo_with_gps(), "image/jpeg"), 201)
    blob_rows = [q["sql"] for q in queries if "attachmentblob" in q["sql"].lower()]
    asks = [q["sql"] for q in queries if "storedfile" in q["sql"].lower() and q["sql"].lstrip().startswith("SELECT")]
    assert len(blob_rows) == 1 and not asks, (blob_rows, asks)  # was: 3 statements a blob and one to ask each
    stored = Attachment.objects.get(id=body["id"])
    assert stored.original_patch_sha256 and stored.sha256 != stored.sha256_original  # the original kept as a patch
    assert AttachmentBlob.objects.filter(sha256__in=[stored.sha256, stored.original_patch_sha256]).count() == 2


def test_an_original_kept_as_a_patch_is_recorded_and_given_back_by_its_own_sha256(user: Client) -> None:
    staff = user("hm_staff")
    for seed in range(3):
        photo = upright_photo_with_gps(seed)
        body = ok(upload(staff, f"现场{seed}.jpg", photo, "image/jpeg"), 201)
        assert body["sha256_original"] == hashlib.sha256(photo).hexdigest() != body["sha256"]
        assert fetched(staff, f"{API}attachments/{body['id']}/original/") == photo


def test_a_failure_after_the_blob_writes_leaves_no_blob_and_no_row(user: Client, monkeypatch: Any) -> None:
    """The bytes (on PostgreSQL sent on a cursor of psycopg's own, for the binary parameter) are written on Django's
    connection in the upload's transaction: the row refused after them rolls them back."""

    def crash(**fields: Any) -> Attachment:
        raise RuntimeError("the process ends here")

    monkeypatch.setattr(Attachment.objects, "create", crash)
    assert upload(user("hm_staff"), "现场.jpg", upright_photo_with_gps(), "image/jpeg").status_code == 500
    assert StoredFile.objects.count() == AttachmentBlob.objects.count() == Attachment.objects.count() == 0


def test_a_blob_round_trips_byte_exact_with_nul_bytes_and_megabytes(db: Any) -> None:
    data = bytes(range(256)) * 24_000 + b"\x00\x00\\x00'\\\x00"  # ~6 MB, every byte value, NULs, escapes, quotes
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        storages[STORAGE].save(blob_name(digest), ContentFile(data))
        storages[STORAGE].save(blob_name(digest), ContentFile(b"other bytes"))  # a name kept: its bytes stay
    assert read_blob(digest) == data and StoredFile.objects.get(name=blob_name(digest)).size == len(data)


def test_the_same_bytes_again_store_a_blob_that_went_missing(user: Client) -> None:
    """The blob's row is there but its bytes are not (removed by hand): the next upload of those bytes stores them."""
    staff, photo = user("hm_staff"), upright_photo_with_gps()
    first = ok(upload(staff, "a.jpg", photo, "image/jpeg"), 201)
    StoredFile.objects.filter(name=blob_name(first["sha256"])).delete()
    second = ok(upload(staff, "b.jpg", photo, "image/jpeg"), 201)
    assert second["sha256"] == first["sha256"]
    assert fetched(staff, second["url"]) == fetched(staff, first["url"])


@pytest.mark.postgres
def test_postgresql_keeps_the_bytes_out_of_line_uncompressed(db: Any) -> None:
    assert connection.vendor == "postgresql", "this test needs the PostgreSQL run (scripts/test.sh)"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'content'",
            [StoredFile._meta.db_table],
        )
        assert cursor.fetchone() == ("e",)  # EXTERNAL (migration 0018): no pglz pass over JPEG bytes
