"""What an uploaded file is, read from its bytes (never its name or header), and the copy that is served: an upright
JPEG with its location segments removed byte by byte (``projections.jpegstrip``: pixels untouched, no decode but the
thumbnail's reduced one); other images re-encoded without their location (EXIF GPS, XMP, text chunks), orientation
applied; plus a thumbnail (Pillow)."""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image, ImageFile, ImageOps, JpegImagePlugin

from domain.timerules import BUSINESS_TZ
from projections import jpegstrip, originalpatch

THUMBNAIL_PX = 320  # the longest side of a thumbnail
MAX_PIXELS = 60_000_000  # a 50-megapixel phone photo fits; a decompression bomb does not
_FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
PDF = ("application/pdf", ".pdf")
# EXIF kept on the served copy: when and with what it was taken. Everything else (GPS, maker notes that may hold
# a location, the embedded thumbnail) is dropped; Orientation is applied to the pixels instead (an upright JPEG,
# stripped byte by byte, keeps its Orientation 1).
_KEPT_IFD0 = (ExifTags.Base.Make, ExifTags.Base.Model, ExifTags.Base.DateTime)
UPRIGHT = (1, None)  # Orientation values needing no turn; other values turn the pixels (a decode and re-encode)
_KEPT_EXIF = (ExifTags.Base.DateTimeOriginal, ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeOriginal)


class UnsupportedMedia(Exception):
    """Not a JPEG, PNG, WebP or PDF by its bytes, or an image Pillow cannot read whole."""


class TooManyPixels(Exception):
    """An image larger than ``MAX_PIXELS`` when decoded."""


@dataclass(frozen=True)
class Processed:
    """An upload as it is kept: the served bytes, the original bytes, the thumbnail, and what was read from them;
    with ``original_patch``, the original is stored as that patch of the served bytes (``projections.originalpatch``)
    instead of whole. ``thumbnail`` None for an image: made after the upload committed (``process(...,
    later=True)``; ``projections.attachments.ensure_thumbnail``)."""

    content_type: str
    extension: str
    served: bytes
    original: bytes
    thumbnail: bytes | None
    width: int | None
    height: int | None
    taken_at: datetime | None
    original_patch: bytes | None = None

    @property
    def is_image(self) -> bool:
        return is_image(self.content_type)


def is_image(content_type: str) -> bool:
    """Whether an attachment of this type has a thumbnail (every image; a PDF has none)."""
    return content_type.startswith("image/")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def process(original: bytes, *, later: bool = False) -> Processed:
    """Sniff ``original`` and derive the served copy and its thumbnail; raises ``UnsupportedMedia``. With ``later``,
    an upright JPEG — not decoded to be served — is not decoded here at all: it is checked by its structure
    (``jpegstrip.whole_by_structure``), its size read from its frame header, and its thumbnail left to be made
    after the upload (``thumbnail`` None; ``thumbnail_of``)."""
    if original.startswith(b"%PDF-"):
        return Processed(*PDF, served=original, original=original, thumbnail=None, width=None, height=None,
                         taken_at=None)  # fmt: skip
    image_format = sniff_image(original)
    if image_format is None:
        raise UnsupportedMedia()
    try:
        with strict_decoding():
            return _process_image(original, image_format, later)
    except (TooManyPixels, UnsupportedMedia):
        raise
    except Exception as error:  # Pillow raises many kinds for a truncated or malformed image
        raise UnsupportedMedia() from error


def sniff_image(data: bytes) -> str | None:
    """The image format the magic number names."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


_strict = threading.Lock()


@contextmanager
def strict_decoding() -> Iterator[None]:
    """Damaged pixels refused, whoever imported WeasyPrint: it sets Pillow's process-wide
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` on import, and a photo damaged inside its compressed data then decodes as
    grey instead of failing (the tests found one so, depending on which test had rendered a PDF before)."""
    with _strict:
        saved, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _open(data: bytes, image_format: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=[image_format])
        if image.width * image.height > MAX_PIXELS:
            raise TooManyPixels()
        return image


def _process_image(original: bytes, image_format: str, later: bool) -> Processed:
    if image_format == "JPEG":
        try:
            stripped = jpegstrip.strip(original, _kept_upright_exif)
        except jpegstrip.Malformed as error:
            raise UnsupportedMedia() from error
        if stripped.exif.get(ExifTags.Base.Orientation, 1) in UPRIGHT:
            return _upright_jpeg(original, stripped, later)
    _open(original, image_format).verify()  # the whole file parses (verify leaves the image unusable: reopen)
    image = _open(original, image_format)
    image.load()
    exif = image.getexif()
    kept, when = _kept_exif(exif), taken_at(exif)  # read before the orientation tag is removed with the turn
    # Turned upright in place: a photo already upright is not copied (a 12-megapixel copy is ~30 ms).
    ImageOps.exif_transpose(image, in_place=True)
    served = _encode(image, image, image_format, kept, lossless=_webp_lossless(original))
    content_type, extension = _FORMATS[image_format]
    width, height = image.size
    return Processed(
        content_type, extension, served=served, original=original, thumbnail=thumbnail(image),
        width=width, height=height, taken_at=when,
    )  # fmt: skip


def _upright_jpeg(original: bytes, stripped: jpegstrip.Stripped, later: bool) -> Processed:
    """The stripped copy served as it is; reading its size needs no decode, its thumbnail a reduced one (the DCT
    scaled down to about the thumbnail's size), made here or, with ``later``, after the upload."""
    if not jpegstrip.whole_by_structure(stripped.markers):
        # e.g. no quantization table: not an image any decoder can read (libjpeg in a long-lived process has been
        # seen to decode one to grey rather than fail, so this is decided here, on the file's structure)
        raise UnsupportedMedia()
    image = _open(stripped.served, "JPEG")  # the header only: size and frame checked, pixels not read
    width, height = image.size
    return Processed(
        *_FORMATS["JPEG"], served=stripped.served, original=original,
        thumbnail=None if later else _reduced_thumbnail(image),
        width=width, height=height, taken_at=taken_at(stripped.exif),
        original_patch=originalpatch.make(stripped.original) if stripped.original is not None else None,
    )  # fmt: skip


def thumbnail_of(served: bytes, content_type: str) -> bytes:
    """The thumbnail of an image's served bytes (a JPEG by a reduced decode); ``UnsupportedMedia`` when its pixels
    cannot be read (a photo damaged inside its compressed data, accepted by its structure)."""
    image_format = sniff_image(served)
    if image_format is None or _FORMATS[image_format][0] != content_type:
        raise UnsupportedMedia()
    try:
        with strict_decoding():
            image = _open(served, image_format)
            return _reduced_thumbnail(image) if image_format == "JPEG" else thumbnail(image)
    except Exception as error:  # Pillow raises many kinds for a damaged image
        raise UnsupportedMedia() from error


def _reduced_thumbnail(image: Image.Image) -> bytes:
    image.draft(None, (THUMBNAIL_PX, THUMBNAIL_PX))
    return thumbnail(image)


def _kept_upright_exif(exif: Image.Exif) -> Image.Exif:
    kept = _kept_exif(exif)
    if exif.get(ExifTags.Base.Orientation) == 1:
        kept[ExifTags.Base.Orientation] = 1
    return kept


def _encode(source: Image.Image, upright: Image.Image, image_format: str, exif: Image.Exif, *, lossless: bool) -> bytes:
    """The pixels again, with only ``exif`` (and the colour profile) as metadata."""
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": source.info.get("icc_profile")}
    if image_format == "JPEG":
        # The original's quantization tables and subsampling: the same quality, not a guess at one.
        options |= {
            "qtables": getattr(source, "quantization", None),
            "subsampling": JpegImagePlugin.get_sampling(source),
        }
        options["subsampling"] = options["subsampling"] if options["subsampling"] != -1 else 2
    elif image_format == "WEBP":
        options |= {"lossless": lossless, "quality": 100 if lossless else 90}
    if len(exif) or exif.get_ifd(ExifTags.IFD.Exif):
        options["exif"] = exif.tobytes()
    upright.save(out, format=image_format, **{k: v for k, v in options.items() if v is not None})
    return out.getvalue()


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP's image chunk is the lossless kind (``VP8L``): walk the RIFF chunks to the first image."""
    offset = 12
    while data[:4] == b"RIFF" and offset + 8 <= len(data):
        fourcc, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        if fourcc in (b"VP8 ", b"VP8L"):
            return fourcc == b"VP8L"
        offset += 8 + size + (size & 1)
    return False


def _kept_exif(exif: Image.Exif) -> Image.Exif:
    kept = Image.Exif()
    for tag in _KEPT_IFD0:
        if tag in exif:
            kept[tag] = exif[tag]
    inner = exif.get_ifd(ExifTags.IFD.Exif)
    taken: dict[int, object] = {tag: inner[tag] for tag in _KEPT_EXIF if tag in inner}
    if taken:
        kept.get_ifd(ExifTags.IFD.Exif).update(taken)
    return kept


def thumbnail(image: Image.Image) -> bytes:
    """A JPEG no larger than ``THUMBNAIL_PX`` on either side, transparency laid on white. ``image`` itself is
    reduced (a full-size photo is not copied first): make it last."""
    small = image
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    if small.mode in ("RGBA", "LA", "P", "PA"):
        small = small.convert("RGBA")
        background = Image.new("RGB", small.size, "white")
        background.paste(small, mask=small.getchannel("A"))
        small = background
    elif small.mode != "RGB":
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return out.getvalue()


def taken_at(exif: Image.Exif) -> datetime | None:
    """EXIF DateTimeOriginal, at its OffsetTimeOriginal, else in Asia/Shanghai; None when absent or unreadable."""
    inner = exif.get_ifd(ExifTags.IFD.Exif)
    text = inner.get(ExifTags.Base.DateTimeOriginal)
    try:
        moment = datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=_offset(inner.get(ExifTags.Base.OffsetTimeOriginal)) or BUSINESS_TZ)


def _offset(text: object) -> timezone | None:
    try:
        sign, hours, minutes = str(text)[0], int(str(text)[1:3]), int(str(text)[4:6])
    except (ValueError, IndexError):
        return None
    if sign not in "+-" or hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(delta if sign == "+" else -delta)
