"""An upright JPEG's thumbnail is made after the upload has answered (issue 16 point 8: the answer does not wait for
its one decode): in a thread once the upload has committed, or — asked for before that thread is done, or after the
process ended — when it is first asked for, then stored, once. A photo accepted by its structure whose pixels cannot
be read has no thumbnail: 404, never a 500; a thumbnail whose storing fails leaves nothing half written."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from PIL import Image
from rest_framework.test import APIClient
from test_attachment_strip import photo
from test_attachments import fetched, upload

from projections import attachments, jpegstrip
from projections.attachments import Attachment, AttachmentBlob, StoredFile, ensure_thumbnail, wait_for_thumbnails

from apihelpers import ok, refused

Client = Callable[[str], APIClient]


def undecodable(data: bytes) -> bytes:
    """A JPEG whole by its structure whose pixels no decoder can read: its first Huffman table's counts made bogus."""
    table = next(s for s in jpegstrip.segments(data) if s.marker == 0xC4)
    return data[: table.start + 5] + bytes([255] * 16) + data[table.start + 21 :]


def test_the_answer_does_not_wait_for_the_thumbnail_which_is_made_once_when_asked_for(user: Client) -> None:
    staff = user("hm_staff")
    body = ok(upload(staff, "操场.jpg", photo(), "image/jpeg"), 201)
    assert (body["width"], body["height"]) == (960, 720)  # from the frame header, no decode
    assert body["thumbnail_sha256"] is None and body["thumbnail_url"] == body["url"] + "thumbnail/"
    assert StoredFile.objects.count() == 2  # served copy and patch: no thumbnail yet
    first = staff.get(body["thumbnail_url"])
    assert first.status_code == 200 and Image.open(io.BytesIO(first.content)).size == (320, 240)
    digest = hashlib.sha256(first.content).hexdigest()
    assert first["X-Content-SHA256"] == digest == Attachment.objects.get(id=body["id"]).thumbnail_sha256
    assert ok(staff.get(body["url"] + "meta/"))["thumbnail_sha256"] == digest
    again = staff.get(body["thumbnail_url"])
    assert again.content == first.content and StoredFile.objects.count() == 3 == AttachmentBlob.objects.count()


@pytest.mark.django_db(transaction=True)  # the upload commits: its thumbnail is made in a thread after it
def test_after_the_upload_commits_its_thumbnail_is_made_without_being_asked_for(user: Client) -> None:
    body = ok(upload(user("hm_staff"), "操场.jpg", photo(), "image/jpeg"), 201)
    wait_for_thumbnails()
    digest = Attachment.objects.get(id=body["id"]).thumbnail_sha256
    assert digest and StoredFile.objects.filter(name=attachments.blob_name(digest)).exists()
    assert hashlib.sha256(fetched(user("hm_staff"), body["thumbnail_url"])).hexdigest() == digest


def test_a_photo_whose_pixels_cannot_be_read_has_no_thumbnail_never_a_server_error(user: Client) -> None:
    staff = user("hm_staff")
    body = ok(upload(staff, "坏.jpg", undecodable(photo(320, 240)), "image/jpeg"), 201)
    served = fetched(staff, body["url"])
    assert b"GPSLatitude" not in served and b"Changzhou" not in served  # the location removed all the same
    for _ in range(2):
        refused(staff.get(body["thumbnail_url"]), 404, "attachment_not_found")
    assert Attachment.objects.get(id=body["id"]).thumbnail_sha256 is None


def test_a_thumbnail_whose_storing_fails_leaves_nothing_and_is_made_when_next_asked_for(
    user: Client, monkeypatch: Any
) -> None:
    staff = user("hm_staff")
    body = ok(upload(staff, "操场.jpg", photo(), "image/jpeg"), 201)
    put_blobs = attachments._put_blobs

    def crash(blobs: dict[str, bytes]) -> None:
        raise RuntimeError("the process ends here")

    monkeypatch.setattr(attachments, "_put_blobs", crash)
    with pytest.raises(RuntimeError):
        ensure_thumbnail(UUID(body["id"]))
    assert Attachment.objects.get(id=body["id"]).thumbnail_sha256 is None and StoredFile.objects.count() == 2
    monkeypatch.setattr(attachments, "_put_blobs", put_blobs)
    assert Image.open(io.BytesIO(fetched(staff, body["thumbnail_url"]))).size == (320, 240)
    assert Attachment.objects.get(id=body["id"]).thumbnail_sha256 and StoredFile.objects.count() == 3


@pytest.mark.django_db(transaction=True)  # the upload commits: its on_commit runs as in the product
def test_the_thumbnails_thread_starts_once_the_answer_has_been_made(user: Client, monkeypatch: Any) -> None:
    """Not at the commit, while the answer is being made: the thread's reading and hashing of the photo would hold
    the interpreter meanwhile (issue 16 point 8); Django's ``request_finished`` starts it."""
    import threading
    from types import SimpleNamespace

    import api.attachments

    events: list[str] = []

    class Recorded(threading.Thread):
        def start(self) -> None:
            events.append("thumbnail thread")
            super().start()

    namespace = SimpleNamespace(Thread=Recorded, Lock=threading.Lock, current_thread=threading.current_thread)
    monkeypatch.setattr(attachments, "threading", namespace)
    answer_json = api.attachments.attachment_json

    def answered(*args: Any) -> Any:
        events.append("answer")
        return answer_json(*args)

    monkeypatch.setattr(api.attachments, "attachment_json", answered)
    body = ok(upload(user("hm_staff"), "操场.jpg", photo(), "image/jpeg"), 201)
    wait_for_thumbnails()
    assert events == ["answer", "thumbnail thread"]
    assert Attachment.objects.get(id=body["id"]).thumbnail_sha256  # made all the same
