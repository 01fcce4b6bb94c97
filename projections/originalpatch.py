"""An upload's original kept as its served copy plus what was removed from it: when the served copy is the original
less a few metadata segments (``projections.jpegstrip``), storing the original whole would store the image data
twice. A patch is a byte recipe — copy ranges of the served bytes, insert literal bytes — that gives back exactly the
original; whoever reads it checks the result against the original's SHA-256 (``rebuild`` does)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

MAGIC = b"safety-original-patch/1\n"
COPY, LITERAL = b"C", b"L"
_RANGE = struct.Struct(">QQ")
_LENGTH = struct.Struct(">Q")

# A piece of the original: a range (start, end) of the served bytes, or bytes of its own.
Piece = tuple[int, int] | bytes


class Unreadable(Exception):
    """Not a patch, or one that does not give back the original's bytes."""


def make(pieces: Sequence[Piece]) -> bytes:
    out = [MAGIC]
    for piece in pieces:
        if isinstance(piece, bytes):
            out += [LITERAL, _LENGTH.pack(len(piece)), piece]
        else:
            out += [COPY, _RANGE.pack(*piece)]
    return b"".join(out)


def rebuild(patch: bytes, served: bytes, sha256_original: str) -> bytes:
    """The original; ``Unreadable`` unless it hashes to ``sha256_original``."""
    if not patch.startswith(MAGIC):
        raise Unreadable("not a patch")
    view, out, at = memoryview(served), [], len(MAGIC)
    try:
        while at < len(patch):
            kind, at = patch[at : at + 1], at + 1
            if kind == COPY:
                start, end = _RANGE.unpack_from(patch, at)
                if not 0 <= start <= end <= len(served):
                    raise Unreadable("a range outside the served bytes")
                out.append(view[start:end])
                at += _RANGE.size
            elif kind == LITERAL:
                (length,) = _LENGTH.unpack_from(patch, at)
                at += _LENGTH.size
                out.append(memoryview(patch)[at : at + length])
                at += length
            else:
                raise Unreadable(f"unknown piece {kind!r}")
    except struct.error as error:
        raise Unreadable("cut short") from error
    original = b"".join(out)
    if hashlib.sha256(original).hexdigest() != sha256_original:
        raise Unreadable("the result is not the original")
    return original
