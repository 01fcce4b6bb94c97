"""``attachments/``: upload a photo or PDF (multipart), then fetch its served bytes, thumbnail, original and meta."""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.auth import actor_of
from api.common import DeclaredQuery, parse_uuid, validated
from api.idempotency import Fingerprint, IdempotentCommand
from api.middleware import MULTIPART_OVERHEAD, attachment_limit_detail
from domain.attachments import AttachmentRef
from domain.errors import AttachmentNotFound
from projections import originalpatch
from projections.attachmentmedia import MAX_PIXELS, TooManyPixels, UnsupportedMedia, is_image, process
from projections.attachments import (
    Attachment,
    ensure_thumbnail,
    hold_thumbnails,
    meta,
    read_blob,
    read_original,
    release_thumbnails,
    store_upload,
    visible_attachment,
)

SERVED_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
BINARY = {(200, content_type): OpenApiTypes.BINARY for content_type in SERVED_TYPES}
MEDIA_HELP = "JPEG、PNG、WebP 或 PDF（按文件内容识别，不看文件名和 Content-Type）"


class UnsupportedMediaType(exceptions.APIException):
    status_code = 415
    default_code = "unsupported_media_type"
    default_detail = f"不支持的文件类型：仅接受{MEDIA_HELP}"


class AttachmentTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "attachment_too_large"


class StoredOriginalDamaged(exceptions.APIException):
    """The original could not be rebuilt from its stored parts as the bytes its SHA-256 names: never served. 409, not
    500: the server did not fail, the stored bytes contradict the log (verify_integrity names them)."""

    status_code = 409
    default_code = "blob_modified"
    default_detail = "原件的存储已被改动，无法提供；请审计人员运行完整性校验（verify_integrity）"


class WholeInMemory(MemoryFileUploadHandler):
    """An upload within the attachment limit kept in memory while the body is parsed — it is read whole at once
    anyway — rather than written to a temporary file (``FILE_UPLOAD_MAX_MEMORY_SIZE``, 2.5 MB) and read back."""

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, boundary: Any, encoding: Any = None  # noqa: N803
    ) -> None:
        self.activated = content_length <= settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD


def parse_in_memory(request: Request) -> None:
    """This request's multipart body parsed by ``WholeInMemory`` (unless it was parsed already, e.g. for an
    ``Idempotency-Key``'s fingerprint: then as Django's settings say)."""
    django_request = request._request
    if not hasattr(django_request, "_files"):
        django_request.upload_handlers = [WholeInMemory(django_request), TemporaryFileUploadHandler(django_request)]


class UploadInput(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField(help_text=f"{MEDIA_HELP}；上限见 ATTACHMENT_MAX_BYTES（默认20MB）")
    caption = serializers.CharField(required=False, allow_blank=True, max_length=500, help_text="说明（可选）")


class AttachmentOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.UUIDField(help_text="本次上传的编号（同样的字节再次上传也是另一个编号）")
    sha256 = serializers.CharField(help_text="所提供字节（已去除位置信息）的 SHA-256")
    sha256_original = serializers.CharField(help_text="上传原件的 SHA-256（原件仅上传者和审计人员可取）")
    filename = serializers.CharField()
    caption = serializers.CharField()
    content_type = serializers.CharField(help_text="按内容识别的类型")
    size = serializers.IntegerField(help_text="所提供字节数")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    taken_at = serializers.DateTimeField(
        allow_null=True, help_text="拍摄时间（EXIF DateTimeOriginal；无时区按北京时间）"
    )
    uploaded_by = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    thumbnail_sha256 = serializers.CharField(
        allow_null=True, help_text="缩略图的 SHA-256（照片的缩略图在上传后生成，生成前为 null；PDF 无缩略图）"
    )
    thumbnail_url = serializers.URLField(allow_null=True, help_text="缩略图地址（PDF 无缩略图：null）")
    url = serializers.URLField(help_text="文件地址")


class AttachmentRefOutput(serializers.Serializer):  # type: ignore[type-arg]
    """An attachment as an event recorded it (id, both SHA-256s, size, type), with its upload's name and caption
    and the addresses of its bytes."""

    id = serializers.UUIDField()
    filename = serializers.CharField(allow_null=True, help_text="上传时的文件名（上传记录已不存在时为 null）")
    caption = serializers.CharField(allow_null=True, help_text="说明")
    content_type = serializers.CharField(help_text="事件记录的类型")
    size = serializers.IntegerField(help_text="事件记录的字节数（所提供副本）")
    sha256 = serializers.CharField(help_text="事件记录的所提供字节的 SHA-256（入哈希链）")
    sha256_original = serializers.CharField(help_text="事件记录的原件 SHA-256（入哈希链）")
    thumbnail_url = serializers.URLField(allow_null=True, help_text="缩略图地址（PDF 无缩略图：null）")
    url = serializers.URLField(help_text="文件地址")


class AttachmentUpload(IdempotentCommand, DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    parser_classes = [MultiPartParser]
    serializer_class = AttachmentOutput

    @extend_schema(
        summary="上传附件（照片或PDF）",
        description="multipart/form-data：file（必填）、caption（可选）。415 unsupported_media_type：不是"
        f"{MEDIA_HELP}；413 attachment_too_large：超过上限。照片的GPS等位置信息从所提供的副本中去除，原件保留供审计。"
        "未被任何操作引用的上传仅上传者可见，一天后删除。照片的缩略图在应答之后生成（应答中 thumbnail_sha256 为 null，"
        "thumbnail_url 随时可取：尚未生成时当场生成）。",
        request={"multipart/form-data": UploadInput},
        responses={201: AttachmentOutput},
    )
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        parse_in_memory(request)
        data = validated(UploadInput, request.data)
        upload = data["file"]
        if upload.size > settings.ATTACHMENT_MAX_BYTES:
            raise AttachmentTooLarge(attachment_limit_detail())
        caption = data.get("caption", "")
        try:
            # an upright JPEG's thumbnail (its one decode) made after the answer: ``store_upload``
            processed = process(upload.read(), later=True)
            filename = clean_filename(upload.name or "", processed.extension)
            hold_thumbnails()  # its thread started once the answer has been sent (``_thumbnails_after_the_answer``)
            row = store_upload(processed, uploaded_by=actor.username, filename=filename, caption=caption)
        except UnsupportedMedia:
            raise UnsupportedMediaType() from None
        except TooManyPixels:
            raise AttachmentTooLarge(f"图片像素过多（上限{MAX_PIXELS}像素）") from None
        return Response(attachment_json(row, request), status=201)

    def fingerprint(self, request: HttpRequest) -> Fingerprint:
        """A multipart body's boundary differs between two sends of one upload: its parts are compared instead."""
        digest = hashlib.sha256()
        try:
            for key in sorted(request.POST):
                digest.update(f"{key}={request.POST.getlist(key)}\n".encode())
            for key in sorted(request.FILES):
                for upload in request.FILES.getlist(key):
                    digest.update(f"{key}:{upload.name}:{upload.size}\n".encode())
                    for chunk in upload.chunks():
                        digest.update(chunk)
                    upload.seek(0)
        except MultiPartParserError:
            digest.update(b"unparsable")
        return Fingerprint(request.method or "", request.get_full_path(), digest.hexdigest())


def _thumbnails_after_the_answer(sender: Any, **kwargs: Any) -> None:
    """Django's ``request_finished`` (sent when the WSGI server closes the answer, i.e. after writing it; by the test
    client before it returns): the thumbnails the upload held (``hold_thumbnails``) made now, in their threads."""
    release_thumbnails()


request_finished.connect(_thumbnails_after_the_answer, dispatch_uid="attachments-thumbnails-after-the-answer")


class AttachmentFile(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    @extend_schema(summary="下载附件（已去除位置信息的副本）", responses=BINARY)
    def get(self, request: Request, pk: str) -> HttpResponse:
        row = visible_attachment(actor_of(request), attachment_id(pk))
        return blob_response(request, row.sha256, row.content_type, row.filename)


class AttachmentThumbnail(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    @extend_schema(
        summary="附件缩略图（JPEG，最长边320像素；PDF 无缩略图）", responses={(200, "image/jpeg"): OpenApiTypes.BINARY}
    )
    def get(self, request: Request, pk: str) -> HttpResponse:
        row = visible_attachment(actor_of(request), attachment_id(pk))
        if not is_image(row.content_type):
            raise AttachmentNotFound("该附件没有缩略图", id=pk)
        # made after the upload, in a thread; asked for before that is done (or after it failed), made now
        digest = row.thumbnail_sha256 or ensure_thumbnail(row.id)
        if not digest:
            raise AttachmentNotFound("该图片的像素无法读取，没有缩略图", id=pk)
        stem = os.path.splitext(row.filename)[0]
        return blob_response(request, digest, "image/jpeg", f"{stem}-缩略图.jpg")


class AttachmentOriginal(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    @extend_schema(summary="附件原件（含位置信息，仅上传者和审计人员）", responses=BINARY)
    def get(self, request: Request, pk: str) -> HttpResponse:
        row = visible_attachment(actor_of(request), attachment_id(pk), original=True)
        return blob_response(
            request, row.sha256_original, row.content_type, row.filename, as_attachment=True,
            read=lambda: _original(row),
        )  # fmt: skip


def _original(row: Attachment) -> bytes:
    try:
        return read_original(row)
    except originalpatch.Unreadable:
        raise StoredOriginalDamaged() from None


class AttachmentMeta(DeclaredQuery, generics.GenericAPIView):  # type: ignore[type-arg]
    serializer_class = AttachmentOutput

    @extend_schema(summary="附件信息（哈希、类型、尺寸、拍摄时间）", responses=AttachmentOutput)
    def get(self, request: Request, pk: str) -> Response:
        return Response(attachment_json(visible_attachment(actor_of(request), attachment_id(pk)), request))


def attachment_id(pk: str) -> UUID:
    return parse_uuid(pk, AttachmentNotFound)


def clean_filename(name: str, extension: str) -> str:
    """The uploaded name without its path or control characters, with the extension of what the bytes are."""
    base = os.path.basename(name.replace("\\", "/"))
    stem = "".join(c for c in os.path.splitext(base)[0] if unicodedata.category(c)[0] != "C").strip()
    return f"{stem[:200] or '附件'}{extension}"


def attachment_json(row: Attachment, request: HttpRequest) -> dict[str, Any]:
    return {**meta(row), **urls(row.id, is_image(row.content_type), request)}


def urls(attachment: UUID, has_thumbnail: bool, request: HttpRequest) -> dict[str, str | None]:
    """``thumbnail_url`` (None for what has none: a PDF) and ``url`` of an attachment: the one place they are made."""
    url = request.build_absolute_uri(f"/api/v1/attachments/{attachment}/")
    return {"thumbnail_url": f"{url}thumbnail/" if has_thumbnail else None, "url": url}


def refs_json(groups: Sequence[Sequence[AttachmentRef]], request: HttpRequest) -> list[list[dict[str, Any]]]:
    """Each group of refs (e.g. each event's) as ``AttachmentRefOutput`` items, their uploads read in one query. The
    hashes, size and type are the event's (what the chain covers); the name and caption are the upload's."""
    rows = Attachment.objects.in_bulk(sorted({ref.id for refs in groups for ref in refs}))
    return [[_ref_json(ref, rows.get(ref.id), request) for ref in refs] for refs in groups]


def _ref_json(ref: AttachmentRef, row: Attachment | None, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": ref.id,
        "filename": row.filename if row else None,
        "caption": row.caption if row else None,
        "content_type": ref.content_type,
        "size": ref.size,
        "sha256": ref.sha256,
        "sha256_original": ref.sha256_original,
        **urls(ref.id, row is not None and is_image(row.content_type), request),
    }


def blob_response(
    request: HttpRequest,
    digest: str,
    content_type: str,
    filename: str,
    *,
    as_attachment: bool = False,
    read: Callable[[], bytes] | None = None,
) -> HttpResponse:
    """The bytes whose SHA-256 is ``digest`` (the blob of that name, or what ``read`` gives), marked with it
    (``ETag``, ``X-Content-SHA256``); PDFs are downloaded, images shown."""
    etag = f'"{digest}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(read() if read else read_blob(digest), content_type=content_type)
        download = as_attachment or content_type == "application/pdf"
        response["Content-Disposition"] = content_disposition_header(download, filename)
    response["ETag"] = etag
    response["X-Content-SHA256"] = digest
    response["Cache-Control"] = "private, no-cache"
    return response
