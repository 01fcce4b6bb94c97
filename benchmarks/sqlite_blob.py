"""``python -m benchmarks.sqlite_blob [--inserts 12] [--megabytes 5]``: the floor of keeping a photo in SQLite.

A 5 MB ``BLOB`` inserted and committed in WAL mode with ``synchronous`` FULL (the embedded store's settings), in
one transaction each, beside the same bytes written to a file and fsynced (what the plain upload view of
``benchmarks.uploads`` pays), and the SQLite settings that would change it: a larger page cache, larger pages (a
whole file's setting: every command's commit would write that many more bytes), ``synchronous`` NORMAL (not
durable: for comparison only). Prints the p50 of each, in ms."""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

VARIANTS: dict[str, tuple[list[str], int | None]] = {  # label: (PRAGMAs, page size)
    "as the product (4 KiB pages, 2 MB cache)": ([], None),
    "page cache 20 MB": (["PRAGMA cache_size=-20000"], None),
    "16 KiB pages": ([], 16384),
    "64 KiB pages": ([], 65536),
    "synchronous NORMAL (not durable)": (["PRAGMA synchronous=NORMAL"], None),
}


def sqlite_blob(directory: Path, label: str, data: bytes, inserts: int) -> tuple[float, float]:
    pragmas, page_size = VARIANTS[label]
    db = sqlite3.connect(directory / f"{len(os.listdir(directory))}.sqlite3", isolation_level=None)
    if page_size:
        db.execute(f"PRAGMA page_size={page_size}")
    db.execute("PRAGMA journal_mode=WAL")
    for pragma in pragmas:
        db.execute(pragma)
    db.execute("CREATE TABLE stored (name TEXT PRIMARY KEY, content BLOB, size INTEGER)")
    insert, commit = [], []
    for i in range(inserts + 2):
        unique = data[:-8] + i.to_bytes(8, "big")
        db.execute("PRAGMA wal_autocheckpoint=0")  # as an upload: checkpointed after the answer
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO stored VALUES (?, ?, ?)", (f"n{i}", unique, len(unique)))
        inserted = time.perf_counter()
        db.execute("COMMIT")
        committed = time.perf_counter()
        db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        if i >= 2:
            insert.append(inserted - started)
            commit.append(committed - inserted)
    db.close()
    return statistics.median(insert) * 1000, statistics.median(commit) * 1000


def file_and_fsync(directory: Path, data: bytes, writes: int) -> float:
    times = []
    for i in range(writes + 2):
        started = time.perf_counter()
        with (directory / f"file-{i}").open("wb") as out:
            for at in range(0, len(data), 64 * 1024):  # as Django's upload handlers write it
                out.write(data[at : at + 64 * 1024])
            out.flush()
            os.fsync(out.fileno())
        if i >= 2:
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sqlite_blob", description=__doc__)
    parser.add_argument("--inserts", type=int, default=12, help="measured inserts per variant (after 2)")
    parser.add_argument("--megabytes", type=float, default=5.0)
    args = parser.parse_args(argv)
    data = os.urandom(int(args.megabytes * 1e6))
    with tempfile.TemporaryDirectory(prefix="sqlite-blob-") as work:
        directory = Path(work)
        print(f"file written and fsynced: {file_and_fsync(directory, data, args.inserts):6.2f} ms")
        for label in VARIANTS:
            insert, commit = sqlite_blob(directory, label, data, args.inserts)
            print(f"{label:42s} insert {insert:6.2f} + commit {commit:6.2f} = {insert + commit:6.2f} ms")
        print(f"file written and fsynced: {file_and_fsync(directory, data, args.inserts):6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
