"""``python -m benchmarks.upload_phases [--uploads 12]``: where a 5 MB photo upload's time goes, without a profiler.

The product's ``POST attachments/`` and the plain view (``bench/plain-upload/``: FileSystemStorage + fsync) through
Django's test client in this process (no HTTP: the figures are the server's side), alternating, each upload's
phases timed by wrappers around the functions that make them (wall time in the request's thread — work in other
threads, the original's SHA-256 or the thumbnail, is not counted) and its SQL statements counted (Django's cursors;
PostgreSQL's binary blob insert, on psycopg's own cursor, is not among them). A profiler inflates the many small
calls of the ORM and of the multipart parser; these are the times the requests take. Embedded SQLite, or
``DATABASE_URL`` (a fresh database ``bench_phases`` on that server). Prints the p50 of each phase per upload.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import uploads as bench

PHASES: list[tuple[str, str, str]] = [  # (label, module, attribute path)
    ("handler (all of Django's)", "django.core.handlers.base", "BaseHandler.get_response"),
    ("  DRF authentication (token + appointment)", "rest_framework.views", "APIView.perform_authentication"),
    ("  the view's post", "api.attachments", "AttachmentUpload.post"),
    ("    multipart parsing", "django.http.multipartparser", "MultiPartParser.parse"),
    ("    process: sniff, strip, structure", "api.attachments", "process"),
    ("    store_upload", "api.attachments", "store_upload"),
    ("      SHA-256 in this thread", "projections.attachments", "sha256"),
    ("      blob rows and bytes", "projections.attachments", "_put_blobs|_put_blob"),  # (before: one call a blob)
    ("        bytes (DatabaseStorage._save)", "projections.attachments", "DatabaseStorage._save"),
    ("      the upload's row", "django.db.models.query", "QuerySet.create"),
    ("      commit", "django.db.backends.base.base", "BaseDatabaseWrapper.commit"),
]


def wrap(times: dict[str, float], label: str, module: str, path: str) -> None:
    """``module.path`` (the first of ``a|b`` there is) timed into ``times[label]`` when called in the main thread."""
    import importlib

    owner: Any = importlib.import_module(module)
    *parents, names = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    name = next((n for n in names.split("|") if hasattr(owner, n)), None)
    if name is None:
        return
    original = getattr(owner, name)
    main = threading.main_thread()

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            if threading.current_thread() is main:
                times[label] = times.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, timed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upload_phases", description=__doc__)
    parser.add_argument("--uploads", type=int, default=12, help="measured uploads per side (after 3 each to warm)")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url:
        from benchmarks.common import on_database
        from benchmarks.spike_tx import fresh_database

        fresh_database(database_url, "bench_phases")
        database_url = on_database(database_url, "bench_phases")
    env = bench.environment(Path(tempfile.mkdtemp(prefix="bench-phases-")) / "var", database_url)
    world = bench.install(env)
    bench.assigned_hazards(world, 1)  # the appointments read as the server reads them
    jpeg = bench.photo_jpeg(5_000_000)
    times: dict[str, float] = {}
    for label, module, path in PHASES:
        wrap(times, label, module, path)
    from django.db import connection

    from projections.attachments import wait_for_thumbnails

    statements = [0]

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    client, auth = bench.test_client()
    sides = {"product": ("/api/v1/attachments/", auth), "plain": ("/bench/plain-upload/", {})}
    rows: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    warm = 3
    for i in range(warm + args.uploads):
        for side in list(sides)[i % 2 :] + list(sides)[: i % 2]:
            url, headers = sides[side]
            body, content_type = bench.multipart(bench.with_exif(jpeg, 50_000 + i, 1), f"p{i}.jpg")
            times.clear()
            statements[0] = 0
            with connection.execute_wrapper(counting):
                started = time.perf_counter()
                answer = client.generic("POST", url, body, content_type, **headers)
                elapsed = time.perf_counter() - started
            if answer.status_code != 201:
                raise RuntimeError(f"{side}: {answer.status_code} {answer.content[:300]!r}")
            if i >= warm:
                rows[side].append({"request (test client)": elapsed, **times, "statements": statements[0]})
            wait_for_thumbnails()  # made after the answer, in a thread: not beside the next upload
            time.sleep(0.1)
    print(f"{connection.vendor}, load {os.getloadavg()[0]:.2f}, {args.uploads} uploads per side, p50 ms per upload:")
    for side, measured in rows.items():
        print(side)
        for key in ["request (test client)", *(label for label, _, _ in PHASES), "statements"]:
            if not any(key in row for row in measured):
                continue
            values = [row.get(key, 0.0) for row in measured]
            shown = statistics.median(values) if key == "statements" else statistics.median(values) * 1000
            print(f"  {key:48s} {shown:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
