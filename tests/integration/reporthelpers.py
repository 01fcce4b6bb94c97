"""Reading real report outputs as a person would: PDF text (pdftotext), a page as PNG (pdftoppm), XLSX cells."""

from __future__ import annotations

import struct
import subprocess
import tempfile
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any


def pdf_text(pdf: bytes, first: int | None = None, last: int | None = None) -> str:
    pages = [*(["-f", str(first)] if first else []), *(["-l", str(last)] if last else [])]
    result = subprocess.run(["pdftotext", "-layout", *pages, "-", "-"], input=pdf, capture_output=True, check=True)
    return result.stdout.decode()


def pdf_pages(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def page_png(pdf: bytes, page: int = 1, keep_as: Path | None = None) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "report.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "50", "-f", str(page), "-l", str(page), str(source), str(Path(folder) / "page")],
            check=True,
        )
        png = next(Path(folder).glob("page*.png")).read_bytes()
    if keep_as is not None:
        keep_as.parent.mkdir(parents=True, exist_ok=True)
        keep_as.write_bytes(png)
    return png


def ink_ratio(png: bytes) -> float:
    """The share of non-white pixels of an 8-bit RGB PNG (pdftoppm's output): 0.0 means a blank page."""
    chunks, offset = {}, 8
    data = b""
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset : offset + 8])
        body = png[offset + 8 : offset + 8 + length]
        if kind == b"IDAT":
            data += body
        chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour == 2, "expected 8-bit RGB"
    raw, stride, previous = zlib.decompress(data), width * 3, bytearray(width * 3)
    inked = 0
    for row in range(height):
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        kind = raw[row * (stride + 1)]
        for i in range(stride):
            left = line[i - 3] if i >= 3 else 0
            up, corner = previous[i], previous[i - 3] if i >= 3 else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        inked += sum(1 for i in range(0, stride, 3) if min(line[i], line[i + 1], line[i + 2]) < 200)
        previous = line
    return inked / (width * height)


def xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(content)).active
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]
