"""Attachments with real files (issue 16 points 1, 5, 3 for the uploader): a JPEG with EXIF time and GPS, a PNG, a
WebP and a PDF made here; sniffed by their bytes, served without location, every byte equal to its SHA-256; each
upload its own id; unreferenced uploads visible to their uploader alone; purged when unpinned and a day old."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from PIL import ExifTags, Image
from rest_framework.test import APIClient

from projections.attachments import Attachment, AttachmentBlob, StoredFile

from apihelpers import API, ok, refused

Client = Callable[[str], APIClient]
TAKEN = "2026:07:20 10:15:30"
GPS = {1: "N", 2: (31.0, 47.0, 12.5), 3: "E", 4: (119.0, 57.0, 3.0)}  # 常州


def jpeg_with_exif_and_gps(width: int = 640, height: int = 480) -> bytes:
    """A phone photo: taken sideways (Orientation 6), with its time and where it was taken."""
    image = Image.new("RGB", (width, height), (200, 40, 40))
    image.paste((30, 120, 200), (0, 0, width // 2, height // 3))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Model] = "TestPhone"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = TAKEN
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88, exif=exif.tobytes())
    return out.getvalue()


def image_bytes(image_format: str, size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 200)).save(out, format=image_format)
    return out.getvalue()


def pdf_bytes() -> bytes:
    from weasyprint import HTML

    return bytes(HTML(string="<h1>整改验收单</h1><p>危化品柜已加锁</p>").write_pdf())


def upload(client: APIClient, name: str, data: bytes, content_type: str = "application/octet-stream", **extra: Any):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    headers = {k: extra.pop(k) for k in list(extra) if k.startswith("HTTP_")}
    body = {"file": SimpleUploadedFile(name, data, content_type=content_type), **extra}
    return client.post(f"{API}attachments/", body, format="multipart", **headers)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetched(client: APIClient, url: str) -> bytes:
    """GET a file: 200, and its bytes are what its ``X-Content-SHA256`` and ``ETag`` say."""
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    data = b"".join(response) if response.streaming else response.content
    assert sha(data) == response["X-Content-SHA256"] and response["ETag"] == f'"{sha(data)}"'
    return data


def test_a_phone_photo_is_served_without_its_location_and_kept_whole(user: Client) -> None:
    original = jpeg_with_exif_and_gps()
    staff = user("hm_staff")
    body = ok(upload(staff, "危化品柜.jpg", original, "image/jpeg", caption="整改前"), 201)
    assert body["content_type"] == "image/jpeg" and body["filename"] == "危化品柜.jpg" and body["caption"] == "整改前"
    assert (body["width"], body["height"]) == (480, 640)  # the orientation applied: upright
    assert body["taken_at"] == "2026-07-20T10:15:30+08:00"  # no offset in the EXIF: Beijing time
    assert body["sha256_original"] == sha(original)
    assert body["url"].endswith(f"/api/v1/attachments/{body['id']}/")
    assert body["thumbnail_url"] == body["url"] + "thumbnail/"

    served = fetched(staff, body["url"])
    assert sha(served) == body["sha256"] != body["sha256_original"] and len(served) == body["size"]
    photo = Image.open(io.BytesIO(served))
    assert photo.format == "JPEG" and photo.size == (480, 640)
    exif = photo.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.Base.Orientation not in exif
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == TAKEN  # the time stays

    kept = fetched(staff, body["url"] + "original/")  # auditors and bureaus too, once referenced (point 2)
    assert kept == original and sha(kept) == body["sha256_original"]
    assert Image.open(io.BytesIO(kept)).getexif().get_ifd(ExifTags.IFD.GPSInfo)[2] == GPS[2]

    thumb = Image.open(io.BytesIO(fetched(staff, body["thumbnail_url"])))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320 and thumb.size == (240, 320)
    assert ok(staff.get(body["url"] + "meta/")) == body


def test_an_upright_photo_loses_its_location_too(user: Client) -> None:
    """Orientation 1 (nothing to turn): the served copy is still re-encoded without GPS, its thumbnail made from it."""
    image = Image.open(io.BytesIO(jpeg_with_exif_and_gps(800, 600)))
    exif = image.getexif()
    exif[ExifTags.Base.Orientation] = 1
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88, exif=exif.tobytes())
    staff = user("hm_staff")
    body = ok(upload(staff, "操场.jpg", out.getvalue(), "image/jpeg"), 201)
    assert (body["width"], body["height"]) == (800, 600) and body["taken_at"] == "2026-07-20T10:15:30+08:00"
    served = Image.open(io.BytesIO(fetched(staff, body["url"])))
    assert served.size == (800, 600) and not served.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert Image.open(io.BytesIO(fetched(staff, body["thumbnail_url"]))).size == (320, 240)


@pytest.mark.parametrize(("image_format", "content_type"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_recognised_by_their_bytes(user: Client, image_format: str, content_type: str) -> None:
    staff = user("hm_staff")
    body = ok(upload(staff, "现场.jpg", image_bytes(image_format), "image/jpeg"), 201)  # the name lies
    assert body["content_type"] == content_type and body["filename"] == f"现场.{image_format.lower()}"
    assert (body["width"], body["height"], body["taken_at"]) == (400, 300, None)
    served = fetched(staff, body["url"])
    assert sha(served) == body["sha256"] and Image.open(io.BytesIO(served)).format == image_format
    response = staff.get(body["url"])
    assert response["Content-Type"] == content_type and response["Content-Disposition"].startswith("inline")
    assert max(Image.open(io.BytesIO(fetched(staff, body["thumbnail_url"]))).size) <= 320


def test_a_pdf_is_kept_as_sent_without_a_thumbnail(user: Client) -> None:
    document = pdf_bytes()
    staff = user("hm_staff")
    body = ok(upload(staff, "验收单.pdf", document, "application/pdf"), 201)
    assert body["content_type"] == "application/pdf" and body["thumbnail_url"] is None
    assert body["sha256"] == body["sha256_original"] == sha(document)
    assert (body["width"], body["height"], body["taken_at"]) == (None, None, None)
    response = staff.get(body["url"])
    assert response.content == document and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment") and "filename" in response["Content-Disposition"]
    refused(staff.get(body["url"] + "thumbnail/"), 404, "attachment_not_found")


def test_html_named_jpg_is_refused_by_its_bytes(user: Client) -> None:
    html = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    body = refused(upload(user("hm_staff"), "photo.jpg", html, "image/jpeg"), 415, "unsupported_media_type")
    assert "JPEG" in body["detail"]
    broken = jpeg_with_exif_and_gps()[:400]  # a JPEG's magic number, then nothing Pillow can read whole
    refused(upload(user("hm_staff"), "photo.jpg", broken, "image/jpeg"), 415, "unsupported_media_type")
    assert Attachment.objects.count() == 0 and StoredFile.objects.count() == 0


def test_an_upload_over_the_limit_is_refused_naming_it(user: Client, settings: Any) -> None:
    big = bytes(25 * 1024 * 1024)  # 25 MB in memory, refused by its Content-Length before it is read
    body = refused(upload(user("hm_staff"), "big.jpg", big, "image/jpeg"), 413, "attachment_too_large")
    assert "20MB" in body["detail"]
    settings.ATTACHMENT_MAX_BYTES = 50_000  # a body within the multipart allowance whose file is over the limit
    photo = jpeg_with_exif_and_gps(1600, 1200) + bytes(50_000)
    body = refused(upload(user("hm_staff"), "big.jpg", photo, "image/jpeg"), 413, "attachment_too_large")
    assert "50000" in body["detail"]
    assert Attachment.objects.count() == 0


def test_json_bodies_keep_their_one_mebibyte_limit(user: Client) -> None:
    text = "x" * (1024 * 1024 + 10)
    for path in ("attachments/", "hazards/"):
        response = user("hm_staff").post(f"{API}{path}", {"caption": text}, format="json")
        refused(response, 413, "request_too_large")


def test_the_same_bytes_twice_are_two_attachments_over_one_stored_copy(user: Client) -> None:
    photo = jpeg_with_exif_and_gps()
    first = ok(upload(user("hm_staff"), "a.jpg", photo), 201)
    second = ok(upload(user("ql_staff"), "b.jpg", photo), 201)
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert AttachmentBlob.objects.count() == 3 == StoredFile.objects.count()  # served, original, thumbnail
    for suffix in ("", "thumbnail/", "meta/", "original/"):  # no handle on the other's upload
        refused(user("ql_staff").get(f"{API}attachments/{first['id']}/{suffix}"), 404, "attachment_not_found")


@pytest.mark.parametrize(
    "who", ["ql_staff", "hm_principal", "hm_officer", "tn_inspector", "cz_police", "admin", "auditor"]
)
def test_an_unreferenced_upload_is_seen_by_its_uploader_alone(user: Client, who: str) -> None:
    body = ok(upload(user("hm_staff"), "a.jpg", jpeg_with_exif_and_gps()), 201)
    for suffix in ("", "thumbnail/", "meta/", "original/"):
        refused(user(who).get(f"{API}attachments/{body['id']}/{suffix}"), 404, "attachment_not_found")
        assert user("hm_staff").get(f"{API}attachments/{body['id']}/{suffix}").status_code == 200
    refused(user("hm_staff").get(f"{API}attachments/not-an-id/"), 404, "attachment_not_found")


def test_an_auditor_cannot_upload(user: Client) -> None:
    refused(upload(user("auditor"), "a.png", image_bytes("PNG")), 403, "read_only_role")


def test_a_retry_with_the_same_idempotency_key_answers_the_first_upload(user: Client) -> None:
    staff, photo = user("hm_staff"), image_bytes("PNG")
    first = upload(staff, "a.png", photo, HTTP_IDEMPOTENCY_KEY="photo-1")
    again = upload(staff, "a.png", photo, HTTP_IDEMPOTENCY_KEY="photo-1")  # another boundary, same parts
    assert ok(first, 201) == ok(again, 201) and again["Idempotent-Replayed"] == "true"
    assert Attachment.objects.count() == 1
    refused(upload(staff, "b.png", photo, HTTP_IDEMPOTENCY_KEY="photo-1"), 422, "idempotency_key_reused")


def test_purge_removes_only_unpinned_uploads_older_than_a_day(user: Client) -> None:
    staff = user("hm_staff")
    old, pinned, recent = (ok(upload(staff, f"{n}.png", image_bytes("PNG", (10 + n, 10))), 201) for n in range(3))
    shared = ok(upload(staff, "shared.png", image_bytes("PNG", (10, 10))), 201)  # the same bytes as ``old``
    day_ago = timezone.now() - timedelta(days=1, minutes=1)
    Attachment.objects.filter(id__in=[old["id"], pinned["id"]]).update(uploaded_at=day_ago)
    Attachment.objects.filter(id=pinned["id"]).update(pinned=True)
    out = io.StringIO()
    call_command("purge_unpinned_attachments", stdout=out)
    assert "removed 1" in out.getvalue()
    assert {str(i) for i in Attachment.objects.values_list("id", flat=True)} == {
        pinned["id"],
        recent["id"],
        shared["id"],
    }
    refused(staff.get(old["url"]), 404, "attachment_not_found")
    assert sha(fetched(staff, shared["url"])) == old["sha256"]  # its blobs are still used by ``shared``
    Attachment.objects.filter(id=shared["id"]).update(uploaded_at=day_ago)
    call_command("purge_unpinned_attachments", stdout=out)
    assert not AttachmentBlob.objects.filter(sha256=old["sha256"]).exists()
    assert not StoredFile.objects.filter(name__endswith=old["sha256"]).exists()
    for kept in (pinned, recent):
        assert sha(fetched(staff, kept["url"])) == kept["sha256"]


def test_another_storage_can_be_configured(user: Client, settings: Any, tmp_path: Path) -> None:
    """The blobs go through Django's storage API: a file system (as an object store would) instead of the database."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "allow_overwrite": True},
        },
    }
    staff, photo = user("hm_staff"), jpeg_with_exif_and_gps()
    body = ok(upload(staff, "a.jpg", photo), 201)
    assert StoredFile.objects.count() == 0
    assert (tmp_path / "sha256" / body["sha256_original"][:2] / body["sha256_original"]).read_bytes() == photo
    assert sha(fetched(staff, body["url"])) == body["sha256"]


def test_the_durable_file_storage_syncs_each_file_and_its_directories_before_the_upload_is_answered(
    user: Client, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``DurableFileSystemStorage`` (README: a file system instead of the database): a photo answered 201 is on the
    disk, not only in the page cache — the file and every directory up to the location synced, new ones included."""
    location = tmp_path / "blobs"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "projections.attachments.DurableFileSystemStorage",
            "OPTIONS": {"location": str(location), "allow_overwrite": True},
        },
    }
    synced: list[Path] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(Path(os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])  # fmt: skip
    staff = user("hm_staff")
    body = ok(upload(staff, "a.jpg", jpeg_with_exif_and_gps()), 201)
    served = location / "sha256" / body["sha256"][:2] / body["sha256"]
    assert served.read_bytes() == fetched(staff, body["url"])
    for path in (served, served.parent, served.parent.parent, location):
        assert path.resolve() in synced, (path, synced)


@pytest.mark.django_db(transaction=True)  # each thread has its own connection: the world is committed
def test_two_concurrent_uploads_of_the_same_bytes_store_one_blob(user: Client) -> None:
    photo, answers = jpeg_with_exif_and_gps(), []
    clients = [user("hm_staff"), user("ql_staff")]
    barrier = threading.Barrier(2)

    def send(client: APIClient) -> None:
        barrier.wait()
        try:
            answers.append(upload(client, "a.jpg", photo))
        finally:
            connection.close()

    if connection.vendor == "postgresql":
        threads = [threading.Thread(target=send, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    else:  # SQLite has one writer at a time: one after the other
        answers = [upload(client, "a.jpg", photo) for client in clients]
    bodies = [ok(answer, 201) for answer in answers]
    assert len({body["id"] for body in bodies}) == 2 and len({body["sha256"] for body in bodies}) == 1
    assert AttachmentBlob.objects.count() == 3 == StoredFile.objects.count()


@pytest.mark.parametrize("image_format", ["JPEG", "WEBP"])
def test_location_in_xmp_is_not_served_either(user: Client, image_format: str) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="31,47.2N"/></rdf:RDF>'
        b"</x:xmpmeta>"
    )
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, format=image_format, exif=exif.tobytes(), xmp=xmp)
    staff = user("hm_staff")
    body = ok(upload(staff, "a.jpg", out.getvalue()), 201)
    served = fetched(staff, body["url"])
    assert b"GPSLatitude" in fetched(staff, body["url"] + "original/") and b"GPSLatitude" not in served
    assert not Image.open(io.BytesIO(served)).getexif().get_ifd(ExifTags.IFD.GPSInfo)


def test_the_schema_documents_the_upload_as_multipart_with_chinese_summaries(user: Client) -> None:
    paths = ok(user("hm_staff").get(f"{API}schema/", {"format": "json"}))["paths"]
    upload_operation = paths["/api/v1/attachments/"]["post"]
    assert set(upload_operation["requestBody"]["content"]) == {"multipart/form-data"}
    assert upload_operation["summary"] == "上传附件（照片或PDF）" and "201" in upload_operation["responses"]
    for part in ("", "thumbnail/", "original/", "meta/"):
        assert "附件" in paths[f"/api/v1/attachments/{{id}}/{part}"]["get"]["summary"]
