"""A JPEG's location metadata removed at the byte level, its pixels untouched (issue 16 point 1): the marker
segments are walked and the served copy is the original without the segments that can carry a location — EXIF
rewritten with only its kept tags (no GPS IFD, no maker notes), XMP and every other application segment, comments
and whatever follows the image (a phone's second pictures) dropped; the compressed image data is copied as it is."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PIL import ExifTags, Image

from projections import originalpatch

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
APP0, APP1, APP2, APP14, APP15 = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn: no length follows
EXIF = b"Exif\x00\x00"
# Application segments kept as they are: the JFIF header, the colour profile, Adobe's colour transform — none
# holds a location, and without the last two the colours would change.
KEPT_APP = ((APP0, b"JFIF\x00"), (APP2, b"ICC_PROFILE\x00"), (APP14, b"Adobe"))
# The segments that make the image: frame headers (SOFn), Huffman, arithmetic and quantization tables, restart
# interval, scans and their ends. Anything else (comments, reserved and extension markers) is dropped.
IMAGE = frozenset({*range(0xC0, 0xD0), *range(0xD0, 0xD8), EOI, SOS, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0x01}) - {0xC8}
# In compressed data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker; anything else is a marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


class Malformed(Exception):
    """Not a whole JPEG: a segment runs past the end, a marker is missing, or the image has no end."""


@dataclass(frozen=True)
class Segment:
    marker: int
    start: int  # its first byte (0xFF) in the file
    end: int  # one past its last byte; a scan's compressed data is part of its SOS segment

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 4 : self.end] if self.marker != SOS else b""


@dataclass(frozen=True)
class Stripped:
    """The served copy, the original's EXIF (empty without one) as read before it was rewritten, and the original as
    pieces of the served copy and what was removed (``projections.originalpatch``; None when nothing was)."""

    served: bytes
    exif: Image.Exif
    original: list[originalpatch.Piece] | None
    markers: tuple[int, ...] = ()  # the markers of the image's segments, in order (SOI not included, EOI last)


def segments(data: bytes) -> Iterator[Segment]:
    """The segments after SOI up to and including EOI; what follows EOI is not the image's."""
    if not data.startswith(b"\xff\xd8"):
        raise Malformed("no SOI")
    position = 2
    while True:
        if data[position : position + 1] != b"\xff" or position + 2 > len(data):
            raise Malformed(f"no marker at {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte before a marker
            position += 1
            continue
        if marker == EOI or marker in STANDALONE:
            yield Segment(marker, position, position + 2)
            if marker == EOI:
                return
            position += 2
            continue
        end = position + 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if end > len(data) or end < position + 4:
            raise Malformed(f"segment {marker:#x} at {position} runs past the end")
        if marker == SOS:  # the compressed data follows, up to the next marker
            found = _NEXT_MARKER.search(data, end)
            if found is None:
                raise Malformed("the image data has no end")
            end = found.start()
        yield Segment(marker, position, end)
        position = end


def strip(data: bytes, rewrite_exif: Callable[[Image.Exif], Image.Exif]) -> Stripped:
    """``data`` without its location: the first EXIF segment replaced by ``rewrite_exif``'s (dropped when that is
    empty), every application segment but ``KEPT_APP``, comments, other EXIF segments and trailing bytes dropped.
    When nothing had to change, ``served`` is ``data`` itself (the same object)."""
    kept: list[tuple[int, int] | bytes] = [(0, 2)]  # ranges of ``data`` served as they are, and rewritten segments
    exif: Image.Exif | None = None
    markers: list[int] = []
    for segment in segments(data):
        markers.append(segment.marker)
        if segment.marker == APP1 and exif is None and segment.payload(data).startswith(EXIF):
            exif = _loaded(segment.payload(data))
            rewritten = _exif_segment(rewrite_exif(exif))
            if rewritten != data[segment.start : segment.end]:
                kept.append(rewritten)
                continue
        elif not _kept(segment, data):
            continue
        last = kept[-1]
        if isinstance(last, tuple) and last[1] == segment.start:
            kept[-1] = (last[0], segment.end)
        else:
            kept.append((segment.start, segment.end))
    exif = exif if exif is not None else Image.Exif()
    if kept == [(0, len(data))]:
        return Stripped(data, exif, None, tuple(markers))
    view = memoryview(data)
    served = b"".join(p if isinstance(p, bytes) else view[p[0] : p[1]] for p in kept)
    return Stripped(served, exif, _original(data, kept), tuple(markers))


# Start of frame: baseline, extended, progressive, lossless (Huffman 0xC0–0xC3, 0xC5–0xC7; arithmetic 0xC9–0xCB,
# 0xCD–0xCF); 0xC4 (DHT), 0xC8 (JPG) and 0xCC (DAC) are not frames.
SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
DQT = 0xDB


def whole_by_structure(markers: tuple[int, ...]) -> bool:
    """Whether the segments make an image a decoder can start on and that ends: quantization tables, one frame
    header before the first scan, at least one scan, EOI last (``segments`` stops there and refuses compressed
    data with no marker after it, so a file cut short anywhere fails here). The compressed data itself is not
    decoded: a photo damaged inside it is kept (its thumbnail, made later, may then fail: no thumbnail)."""
    if SOS not in markers or markers[-1] != EOI or DQT not in markers:
        return False
    first_scan = markers.index(SOS)
    frames = [at for at, marker in enumerate(markers) if marker in SOF]
    return len(frames) == 1 and frames[0] < first_scan


def _original(data: bytes, kept: list[tuple[int, int] | bytes]) -> list[originalpatch.Piece]:
    """``data`` as ranges of the served copy (what ``kept`` made of it) and the bytes that were removed between."""
    pieces: list[originalpatch.Piece] = []
    served_at = original_at = 0
    for piece in kept:
        if isinstance(piece, bytes):
            served_at += len(piece)
            continue
        start, end = piece
        if start > original_at:
            pieces.append(data[original_at:start])
        pieces.append((served_at, served_at + end - start))
        served_at, original_at = served_at + end - start, end
    if original_at < len(data):
        pieces.append(data[original_at:])
    return pieces


def _kept(segment: Segment, data: bytes) -> bool:
    if APP0 <= segment.marker <= APP15:
        payload = data[segment.start + 4 : segment.start + 4 + 16]
        return any(segment.marker == marker and payload.startswith(name) for marker, name in KEPT_APP)
    return segment.marker in IMAGE


def _loaded(payload: bytes) -> Image.Exif:
    """The EXIF of a segment; an unreadable one reads as empty (and is dropped)."""
    exif = Image.Exif()
    try:
        exif.load(payload)
    except Exception:  # noqa: BLE001 — Pillow raises many kinds for a malformed TIFF structure
        return Image.Exif()
    return exif


def _exif_segment(exif: Image.Exif) -> bytes:
    body = exif.tobytes() if len(exif) or exif.get_ifd(ExifTags.IFD.Exif) else b""
    return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body if body else b""
