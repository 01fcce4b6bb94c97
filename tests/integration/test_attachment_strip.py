"""An upright JPEG's location removed byte by byte (issue 16 point 1, the fast path of point 8): real photos made
here with Pillow carrying GPS EXIF, Orientation, XMP with a location, a comment, a colour profile and a phone's
trailing second picture. The served copy has none of the location but the same compressed image (the same pixels),
keeps its Orientation and time; the original is given back bit for bit although it is stored as the served copy plus
what was removed; a truncated or corrupt JPEG is refused with a code, never a 500."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import ExifTags, Image, ImageCms
from rest_framework.test import APIClient
from test_attachments import GPS, TAKEN, fetched, upload

from projections import jpegstrip, originalpatch
from projections.attachmentmedia import UnsupportedMedia, process
from projections.attachments import Attachment, AttachmentBlob, StoredFile, blob_name

from apihelpers import ok, refused

Client = Callable[[str], APIClient]
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="31,47.2N"'
    b' exif:GPSLongitude="119,57.05E"/></rdf:RDF></x:xmpmeta>'
)
TRAILER = b"\xff\xd8\xff\xe1 a phone's second picture, with GPSLatitude in its own EXIF \xff\xd9"


def photo(width: int = 960, height: int = 720, *, metadata: bool = True) -> bytes:
    """A detailed upright phone photo (Orientation 1), with everything that can say where it was taken."""
    pixels = Image.merge("RGB", [Image.effect_noise((width, height), 50) for _ in range(3)])
    out = io.BytesIO()
    if not metadata:
        pixels.save(out, format="JPEG", quality=85)
        return out.getvalue()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "TestMaker", "TestPhone"
    exif[ExifTags.Base.Software] = "kept nowhere"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = TAKEN
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pixels.save(out, format="JPEG", quality=85, exif=exif.tobytes(), xmp=XMP, comment=b"GPS 31.78N 119.95E",
                icc_profile=profile)  # fmt: skip
    data = out.getvalue()
    iptc = b"Photoshop 3.0\x008BIM\x04\x04 IPTC: City Changzhou"
    return data[:2] + b"\xff\xed" + (len(iptc) + 2).to_bytes(2, "big") + iptc + data[2:] + TRAILER


def image_data(data: bytes) -> bytes:
    """The compressed image: from the first SOS to EOI."""
    first = next(s for s in jpegstrip.segments(data) if s.marker == jpegstrip.SOS)
    return data[first.start : data.index(b"\xff\xd9", first.end) + 2]


def test_the_served_copy_has_no_location_and_the_same_image() -> None:
    original = photo()
    processed = process(original)
    served = processed.served
    assert b"GPSLatitude" not in served and b"http://ns.adobe.com/xap" not in served and b"31.78N" not in served
    assert b"Changzhou" not in served and b"Changzhou" in original  # IPTC (APP13)
    assert served.endswith(b"\xff\xd9") and TRAILER not in served
    assert image_data(served) == image_data(original)  # not re-encoded: the compressed data copied as it was
    image = Image.open(io.BytesIO(served))
    exif = image.getexif()
    assert ExifTags.IFD.GPSInfo not in exif and not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert exif[ExifTags.Base.Orientation] == 1 and exif[ExifTags.Base.Model] == "TestPhone"
    assert ExifTags.Base.Software not in exif  # only when and with what it was taken
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == TAKEN
    assert "xmp" not in image.info and "comment" not in image.info
    assert image.info["icc_profile"] == Image.open(io.BytesIO(original)).info["icc_profile"]  # the colours stay
    assert image.tobytes() == Image.open(io.BytesIO(original)).tobytes()  # the same pixels
    assert (processed.width, processed.height) == (960, 720) and processed.taken_at is not None
    thumbnail = Image.open(io.BytesIO(processed.thumbnail or b""))
    assert thumbnail.size == (320, 240)


def test_the_original_is_rebuilt_bit_for_bit_from_the_served_copy_and_its_patch() -> None:
    original = photo()
    processed = process(original)
    patch = processed.original_patch or b""
    assert len(patch) < 2_000 < len(processed.served)  # what was removed, not the image a second time
    assert originalpatch.rebuild(patch, processed.served, hashlib.sha256(original).hexdigest()) == original
    with pytest.raises(originalpatch.Unreadable):  # another served copy: not this original
        originalpatch.rebuild(patch, processed.served[:-3] + b"\x00\xff\xd9", hashlib.sha256(original).hexdigest())


def test_a_jpeg_without_metadata_is_served_as_sent() -> None:
    original = photo(metadata=False)
    processed = process(original)
    assert processed.served is original and processed.original_patch is None


def test_an_upright_photo_over_http_is_stored_once_with_its_patch(user: Client) -> None:
    original, staff = photo(), user("hm_staff")
    body = ok(upload(staff, "操场.jpg", original, "image/jpeg"), 201)
    assert (body["width"], body["height"], body["taken_at"]) == (960, 720, "2026-07-20T10:15:30+08:00")
    served = fetched(staff, body["url"])
    assert body["sha256"] != body["sha256_original"] == hashlib.sha256(original).hexdigest()
    assert b"GPSLatitude" not in served and Image.open(io.BytesIO(served)).getexif()[ExifTags.Base.Orientation] == 1
    assert fetched(staff, body["url"] + "original/") == original  # rebuilt, bit for bit, its SHA-256 checked
    row = Attachment.objects.get(id=body["id"])
    assert row.original_patch_sha256 and not StoredFile.objects.filter(name=blob_name(row.sha256_original)).exists()
    assert max(Image.open(io.BytesIO(fetched(staff, body["thumbnail_url"]))).size) == 320  # made after the upload
    stored = sum(StoredFile.objects.values_list("size", flat=True))
    assert stored < len(served) + 20_000  # the image once: served copy, patch, thumbnail
    assert AttachmentBlob.objects.count() == 3


def test_a_jpeg_with_nothing_to_strip_is_one_blob(user: Client) -> None:
    original, staff = photo(metadata=False), user("hm_staff")
    body = ok(upload(staff, "干净.jpg", original, "image/jpeg"), 201)
    assert body["sha256"] == body["sha256_original"] == hashlib.sha256(original).hexdigest()
    assert fetched(staff, body["url"]) == original == fetched(staff, body["url"] + "original/")
    assert fetched(staff, body["thumbnail_url"])  # made after the upload
    assert AttachmentBlob.objects.count() == 2 == StoredFile.objects.count()  # the photo, its thumbnail


def test_an_altered_or_missing_patch_is_named_by_verify_and_never_served(user: Client) -> None:
    staff = user("hm_staff")
    body = ok(upload(staff, "操场.jpg", photo(), "image/jpeg"), 201)
    patch = blob_name(Attachment.objects.get(id=body["id"]).original_patch_sha256 or "")
    content = bytes(StoredFile.objects.get(name=patch).content)
    StoredFile.objects.filter(name=patch).update(content=content.replace(b"31", b"30"))
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_integrity", stdout=io.StringIO(), stderr=err)
    assert (
        "blob_modified at position 0" in err.getvalue()
        and body["id"] in err.getvalue()
        and "原始文件" in err.getvalue()
    )
    refused(staff.get(body["url"] + "original/"), 409, "blob_modified")
    assert fetched(staff, body["url"]) and fetched(staff, body["thumbnail_url"])  # the served copy is intact

    StoredFile.objects.filter(name=patch).delete()
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_integrity", stdout=io.StringIO(), stderr=err)
    assert "blob_missing at position 0" in err.getvalue() and body["id"] in err.getvalue()


def cut(data: bytes) -> list[bytes]:
    """``data`` cut short in its header, in its EXIF, in its compressed image, and just before its end."""
    scan = data.index(b"\xff\xda")
    return [data[:3], data[:30], data[:scan + 6], data[: len(data) // 2], data[:-2], data[:-1]]  # fmt: skip


@pytest.mark.parametrize("metadata", [True, False])
def test_a_truncated_jpeg_is_refused_with_a_code(user: Client, metadata: bool) -> None:
    original = photo(320, 240, metadata=metadata)
    if metadata:
        original = original[: -len(TRAILER)]  # its end: the image's own
    for n, broken in enumerate(cut(original)):
        with pytest.raises(UnsupportedMedia):
            process(broken)
        refused(upload(user("hm_staff"), f"{n}.jpg", broken, "image/jpeg"), 415, "unsupported_media_type")
    assert Attachment.objects.count() == 0 == StoredFile.objects.count()


def test_corrupt_jpegs_are_refused_or_served_without_location_never_a_server_error(user: Client) -> None:
    original = photo(320, 240)
    exif_at = original.index(b"Exif\x00\x00")
    scan = original.index(b"\xff\xda")
    corrupt = [
        original[:4] + b"\xff\xff" + original[6:],  # a segment length running past the end
        original[:exif_at + 6] + b"not a TIFF header" + original[exif_at + 23 :],  # unreadable EXIF
        original[: scan + 40] + bytes(200) + original[scan + 240 :],  # zeros in the compressed data
        original[: scan + 40] + b"\xff\xc4\x00\x02" + original[scan + 44 :],  # a marker where data should be
        original[:scan] + b"\xff\xd9",  # no image at all
    ]  # fmt: skip
    staff = user("hm_staff")
    for n, data in enumerate(corrupt):
        response = upload(staff, f"{n}.jpg", data, "image/jpeg")
        if response.status_code == 201:
            served = fetched(staff, response.json()["url"])
            assert b"GPSLatitude" not in served and not Image.open(io.BytesIO(served)).getexif().get_ifd(
                ExifTags.IFD.GPSInfo
            )
        else:
            refused(response, 415, "unsupported_media_type")
    refused(upload(staff, "x.jpg", corrupt[0], "image/jpeg"), 415, "unsupported_media_type")
    refused(upload(staff, "x.jpg", corrupt[-1], "image/jpeg"), 415, "unsupported_media_type")


def without_tables(data: bytes) -> bytes:
    """A JPEG whole by its markers whose image cannot be decoded: its quantization tables removed."""
    for segment in reversed([s for s in jpegstrip.segments(data) if s.marker == 0xDB]):
        data = data[: segment.start] + data[segment.end :]
    return data


def test_a_jpeg_that_does_not_decode_is_refused_and_nothing_is_stored(user: Client) -> None:
    """Its thumbnail, made while the files are written, fails: the files written roll back with the upload."""
    refused(upload(user("hm_staff"), "坏.jpg", without_tables(photo(320, 240)), "image/jpeg"), 415,
            "unsupported_media_type")  # fmt: skip
    assert Attachment.objects.count() == 0 == StoredFile.objects.count() == AttachmentBlob.objects.count()


def test_with_a_storage_outside_the_database_a_refused_jpeg_leaves_no_file(
    user: Client, settings: Any, tmp_path: Path
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "allow_overwrite": True},
        },
    }
    staff = user("hm_staff")
    refused(upload(staff, "坏.jpg", without_tables(photo(320, 240)), "image/jpeg"), 415, "unsupported_media_type")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()] and Attachment.objects.count() == 0
    original = photo()
    body = ok(upload(staff, "操场.jpg", original, "image/jpeg"), 201)
    assert fetched(staff, body["url"] + "original/") == original  # rebuilt from the files of that storage
    assert fetched(staff, body["thumbnail_url"])  # made after the upload, stored there too
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 3  # served copy, patch, thumbnail


@pytest.mark.parametrize("options", [{"progressive": True}, {"restart_marker_blocks": 1}], ids=["progressive", "rst"])
def test_progressive_and_restart_marked_jpegs_keep_their_pixels(options: dict[str, Any]) -> None:
    """Several scans with tables between them; restart markers inside the compressed data."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    out = io.BytesIO()
    Image.merge("RGB", [Image.effect_noise((200, 150), 50) for _ in range(3)]).save(
        out, format="JPEG", exif=exif.tobytes(), **options
    )
    original = out.getvalue()
    processed = process(original)
    served = Image.open(io.BytesIO(processed.served))
    assert not served.getexif().get_ifd(ExifTags.IFD.GPSInfo) and processed.original_patch is not None
    assert served.tobytes() == Image.open(io.BytesIO(original)).tobytes()
    sha = hashlib.sha256(original).hexdigest()
    assert originalpatch.rebuild(processed.original_patch, processed.served, sha) == original


def test_the_purge_removes_an_unpinned_uploads_patch_with_its_other_files(user: Client) -> None:
    staff = user("hm_staff")
    body = ok(upload(staff, "操场.jpg", photo(), "image/jpeg"), 201)
    assert fetched(staff, body["thumbnail_url"])  # made after the upload
    assert StoredFile.objects.count() == 3  # served copy, patch, thumbnail
    Attachment.objects.filter(id=body["id"]).update(uploaded_at=timezone.now() - timedelta(days=1, minutes=1))
    call_command("purge_unpinned_attachments", stdout=io.StringIO())
    assert StoredFile.objects.count() == 0 == AttachmentBlob.objects.count() == Attachment.objects.count()
