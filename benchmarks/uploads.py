"""``python -m benchmarks.uploads [--uploads 40] [--rectifies 30] [--profile 10] [--pause 0]``: issue 16 point 8.

1. A 5 MB phone photo (a 4032×3024 JPEG made here with Pillow, EXIF with its time, camera and GPS, so stripping has
   work to do) uploaded over HTTP to the product's ``POST /api/v1/attachments/`` (token auth, multipart parsed in
   memory, sniffing, the JPEG checked by its structure, location removed byte by byte — ``projections.jpegstrip`` —
   SHA-256s, blobs and row in the database; the thumbnail, from a reduced decode, made after the commit in a thread
   of the server, so beside the next requests: counted after the server stopped) against
   ``bench/plain-upload/`` — a plain Django view that saves the same bytes with ``FileSystemStorage`` and fsyncs
   them (benchmarks/upload_site, a URLconf of the benchmark's own beside the product's routes) — in the same
   server (``manage.py serve``: gunicorn, one worker, embedded SQLite or PostgreSQL), one client, the two
   alternating request by request (each first in turn). Each upload differs from the others by its EXIF time, as
   photos do: no upload reuses a stored blob.
2. Over HTTP, in the same server after the uploads: ``POST hazards/{id}/rectify/`` with ``"attachments"``: the ids
   of 3 photos uploaded just before (``POST attachments/``, each a 1024×768 JPEG: a rectify records references, the
   size of the bytes does not matter to it), a fresh three for each command so that each pins 3 unpinned rows
   (``projections.attachments.pin``: a ``SELECT … FOR UPDATE`` and an ``UPDATE``, in the command's transaction),
   against a rectify without photos, the setting ``RECTIFY_REQUIRES_PHOTO`` off for that request only (header
   ``X-Bench-Rectify-Requires-Photo``, ``benchmarks.upload_site.urls.PhotoRuleMiddleware``; sent on both sides);
   alternating, one client, on hazards discovered and assigned at the application layer before the server started.
3. The same at the application layer (``api.services.execute(lambda app: app.rectify_hazard(...,
   **attached(actor, {"attachments": ids})))``: the view's own call, pin included, without HTTP), alternating, on
   the same database after the server has stopped, with another fresh three uploads per command.
4. With ``--profile N``: cProfile of N product uploads, by step; then N rectifies with 3 photos and N without,
   alternating, ``pin`` timed and the statements counted, and N more of each under cProfile, by step — through
   Django's test client in this process.

Embedded SQLite by default; with ``DATABASE_URL`` set (``bash scripts/pg.sh start /tmp/pg-bench``), on a fresh
database ``bench_uploads`` of that server. Prints a table, writes ``results/uploads[-postgresql].json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, machine, percentile

USER = "hm_staff"
PASSWORD = "demo-pass-2026"
PRODUCT, PLAIN = "product: POST attachments/", "plain Django: FileSystemStorage + fsync"
WITH, WITHOUT = "rectify with 3 photos", "rectify without photos (rule off)"
PHOTO_RULE_HEADER = "X-Bench-Rectify-Requires-Photo"  # benchmarks.upload_site.urls.PhotoRuleMiddleware
CLEAN = ("DJANGO_", "INTEGRITY_", "POLICE_", "KAFKA_", "DATABASE_URL", "EVENT_STORE_", "SAFETY_", "BENCH_")
FILES_VARIABLE = "BENCH_ATTACHMENT_FILES"  # benchmarks.upload_site.settings: the blobs in these files (--storage)
DATABASE = "bench_uploads"  # on DATABASE_URL's server, dropped and created again by each run


def photo_pixels(width: int = 4032, height: int = 3024) -> Any:
    """A 12-megapixel picture with the fine detail of a real photo (noise over gradients), so that it compresses
    to about 5 MB as a phone's JPEG does."""
    from PIL import Image

    noise = Image.effect_noise((width, height), 40)
    base = Image.linear_gradient("L").resize((width, height))
    channels = (
        Image.blend(base, noise, 0.5),
        Image.blend(base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise.transpose(Image.Transpose.ROTATE_180), 0.5),
        Image.blend(base.transpose(Image.Transpose.FLIP_TOP_BOTTOM), noise, 0.3),
    )
    return Image.merge("RGB", channels)


def photo_jpeg(target: int) -> bytes:
    """The picture as a JPEG without metadata, at the quality that comes nearest ``target`` bytes."""
    pixels, best = photo_pixels(), b""
    for quality in range(80, 96):
        out = io.BytesIO()
        pixels.save(out, format="JPEG", quality=quality)
        if abs(out.tell() - target) < abs(len(best) - target) or not best:
            best = out.getvalue()
        if out.tell() > target:
            break
    return best


def with_exif(jpeg: bytes, n: int, orientation: int) -> bytes:
    """``jpeg`` with a phone's EXIF (camera, time — second ``n`` — GPS, orientation) after its JFIF segment."""
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "BenchPhone", "BP-12"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = (
        f"2026:07:20 {n // 3600 % 24:02}:{n // 60 % 60:02}:{n % 60:02}"
    )
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: "N", 2: (31.0, 47.0, 12.5), 3: "E", 4: (119.0, 57.0, 3.0)})
    segment = exif.tobytes()
    at = 4 + int.from_bytes(jpeg[4:6], "big") if jpeg[2:4] == b"\xff\xe0" else 2  # after SOI and APP0 (JFIF)
    return jpeg[:at] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + jpeg[at:]


def multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post(
    url: str, body: bytes, content_type: str, token: str | None = None, extra: dict[str, str] | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type, **({"Authorization": f"Token {token}"} if token else {}), **(extra or {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=300) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as refusal:
        return refusal.code, refusal.read()[:500]


def environment(var_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN)}
    env.update(
        SAFETY_VAR_DIR=str(var_dir), PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING", DEADLINE_WATCHER="off",
        DJANGO_SETTINGS_MODULE="benchmarks.upload_site.settings", DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        PLAIN_UPLOAD_DIR=str(var_dir.parent / "plain"),
    )  # fmt: skip
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def install(env: dict[str, str]) -> Any:
    """This process on the installation (its keys written first, as ``serve`` would): migrated, the demo
    district's units, staff and campaign (no hazards)."""
    from api.keyfile import KEYS_FILE_NAME, ensure_keys

    var_dir = Path(env["SAFETY_VAR_DIR"])
    var_dir.mkdir(parents=True)
    ensure_keys(var_dir / KEYS_FILE_NAME)
    os.environ.update(env, DJANGO_DEBUG="0", DJANGO_HTTPS="0")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from api import demo
    from projections.eventstore import get_application, set_application

    call_command("migrate", verbosity=0)
    world = demo.load(get_application(), timezone.now() - timedelta(days=1), with_hazards=False)
    set_application(None)
    connections.close_all()
    return world


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    log_path = Path(env["SAFETY_VAR_DIR"]).parent / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}", "--no-demo", "--threads", "4"],
        cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("serve did not answer /healthz")


def summary(latencies: list[float], size: int) -> dict[str, Any]:
    """p50/p99 in ms and MB/s (uploaded bytes over the time the requests took, one at a time)."""
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        "mb_per_s": round(size * len(latencies) / sum(latencies) / 1e6, 1),
    }


def login(base: str) -> str:
    status, answer = post(
        f"{base}/api/v1/auth/token/", json.dumps({"username": USER, "password": PASSWORD}).encode(), "application/json"
    )
    if status != 200:
        raise RuntimeError(f"token: {status} {answer!r}")
    return str(answer["token"])


def uploads(base: str, photos: Callable[[int], bytes], n: int, warm: int, pause: float = 0.0) -> dict[str, Any]:
    """``n`` uploads to each side after ``warm`` each, alternating (each side first in turn); one client. With
    ``pause`` (seconds), the client waits that long after each request: what the server does after an answer (the
    product: the thumbnail) is then done before the next request, which it would otherwise slow — whichever side's."""
    token = login(base)
    targets = {PRODUCT: (f"{base}/api/v1/attachments/", token), PLAIN: (f"{base}/bench/plain-upload/", None)}
    timings: dict[str, list[float]] = {name: [] for name in targets}
    sizes = []
    for i in range(warm + n):
        data = photos(i)
        sizes.append(len(data))
        order = list(targets)[i % 2 :] + list(targets)[: i % 2]
        for name in order:
            url, auth = targets[name]
            body, content_type = multipart(data, f"现场{i}.jpg")
            started = time.perf_counter()
            status, answer = post(url, body, content_type, auth)
            elapsed = time.perf_counter() - started
            if status != 201:
                raise RuntimeError(f"{name}: {status} {answer!r}")
            if i >= warm:
                timings[name].append(elapsed)
            time.sleep(pause)
    size = round(statistics.fmean(sizes))
    figures = {name: summary(values, size) for name, values in timings.items()}
    return {
        "photo_bytes": size,
        "pause_after_each_request_s": pause,
        **figures,
        "ratio_p50": ratio(figures, "p50_ms"),
        "ratio_p99": ratio(figures, "p99_ms"),
    }


def ratio(figures: dict[str, Any], key: str) -> float:
    return round(figures[PRODUCT][key] / figures[PLAIN][key], 2)


def assigned_hazards(world: Any, count: int) -> list[Any]:
    """``count`` hazards discovered at 红梅小学 and assigned to ``USER``, at the application layer."""
    from django.utils import timezone

    from api.services import execute
    from domain.hazard.aggregate import Severity

    school, campaign = world.units["hongmei_school"], world.campaign
    staff, principal = world.actor(USER), world.actor("hm_principal")
    deadline = (timezone.now() + timedelta(days=30)).date()
    hazards = []
    for i in range(count):
        h = execute(lambda a, i=i: a.discover_hazard(actor=staff, campaign=campaign, school=school,
                                                     description=f"消防通道堆放杂物 {i}", item="CZ-01",
                                                     severity=Severity.GENERAL)).id  # fmt: skip
        execute(lambda a, h=h: a.assign_hazard(h, actor=principal, owner=USER, owner_unit=school, deadline=deadline))
        hazards.append(h)
    return hazards


def small_jpeg() -> bytes:
    """A 1024×768 photo of the same kind (about 0.3 MB): what a rectify carries is its reference, not its bytes."""
    out = io.BytesIO()
    photo_pixels(1024, 768).save(out, format="JPEG", quality=85)
    return out.getvalue()


def upload_ids(base: str, token: str, photos: Callable[[int], bytes], count: int, first: int) -> list[str]:
    """``count`` photos uploaded over HTTP (each its own EXIF time from ``first`` on): their attachment ids."""
    ids = []
    for i in range(first, first + count):
        body, content_type = multipart(photos(i), f"整改后{i}.jpg")
        status, answer = post(f"{base}/api/v1/attachments/", body, content_type, token)
        if status != 201:
            raise RuntimeError(f"upload: {status} {answer!r}")
        ids.append(str(answer["id"]))
    return ids


def command_figures(timings: dict[str, list[float]]) -> dict[str, Any]:
    figures = {
        name: {
            "commands": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 2),
            "p99_ms": round(percentile(values, 99) * 1000, 2),
            "commands_per_s": round(len(values) / sum(values), 1),
        }
        for name, values in timings.items()
    }
    photos, plain = figures[WITH], figures[WITHOUT]
    return {
        **figures,
        "ratio_p50": round(photos["p50_ms"] / plain["p50_ms"], 2),
        "ratio_p99": round(photos["p99_ms"] / plain["p99_ms"], 2),
    }


def alternate(paths: dict[str, Callable[[Any, int], None]], hazards: list[Any], n: int, warm: int) -> dict[str, Any]:
    """``warm + n`` commands per side, alternating (each side first in turn), each on a hazard of its own."""
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for k in range(warm + n):
        order = list(paths)[k % 2 :] + list(paths)[: k % 2]
        for name in order:
            started = time.perf_counter()
            paths[name](hazards[2 * k + order.index(name)], k)
            if k >= warm:
                timings[name].append(time.perf_counter() - started)
    return command_figures(timings)


def http_rectifies(base: str, token: str, hazards: list[Any], ids: list[str], n: int, warm: int) -> dict[str, Any]:
    """Over HTTP: ``POST hazards/{id}/rectify/`` with 3 fresh attachment ids (the photo rule on) against one
    without (the rule off for that request), alternating."""

    def rectify(h: Any, body: dict[str, Any], rule: str) -> None:
        status, answer = post(f"{base}/api/v1/hazards/{h}/rectify/", json.dumps(body).encode(), "application/json",
                              token, {PHOTO_RULE_HEADER: rule})  # fmt: skip
        if status != 200 or answer.get("status") != "rectified":
            raise RuntimeError(f"rectify: {status} {answer!r}")

    def with_photos(h: Any, k: int) -> None:
        rectify(h, {"note": "已整改，附整改后照片", "attachments": ids[3 * k : 3 * k + 3]}, "1")

    def without(h: Any, k: int) -> None:
        rectify(h, {"note": "已整改"}, "0")

    return alternate({WITH: with_photos, WITHOUT: without}, hazards, n, warm)


def rectifies(world: Any, ids: list[str], n: int, warm: int) -> dict[str, Any]:
    """At the application layer, as the view calls it (``attached``: pin inside the command): ``n`` rectifies with
    3 fresh uploads and ``n`` without (the setting off), alternating, on hazards assigned here."""
    from django.conf import settings

    from api.services import attached, execute

    staff = world.actor(USER)
    hazards = assigned_hazards(world, 2 * (warm + n))

    def with_photos(h: Any, k: int) -> None:
        data = {"note": "已整改，附整改后照片", "attachments": [uuid.UUID(i) for i in ids[3 * k : 3 * k + 3]]}
        settings.RECTIFY_REQUIRES_PHOTO = True
        execute(lambda a: a.rectify_hazard(h, actor=staff, **attached(staff, data)))

    def without(h: Any, k: int) -> None:
        settings.RECTIFY_REQUIRES_PHOTO = False
        execute(lambda a: a.rectify_hazard(h, actor=staff, **attached(staff, {"note": "已整改", "attachments": []})))

    try:
        return alternate({WITH: with_photos, WITHOUT: without}, hazards, n, warm)
    finally:
        settings.RECTIFY_REQUIRES_PHOTO = True


# (file suffix, function) → step of the product's upload, for the profile's summary (cumulative, per upload)
STEPS = {
    "the view (DRF post)": ("api/attachments.py", "post"),
    "multipart parsing (Django)": ("django/http/multipartparser.py", "parse"),
    "process: sniff, check, strip (upright JPEG) or decode, re-encode, thumbnail": (
        "projections/attachmentmedia.py",
        "process",
    ),
    "  byte-level strip of an upright JPEG (marker walk, EXIF rewritten)": ("projections/jpegstrip.py", "strip"),
    "  original as a patch of the served copy": ("projections/originalpatch.py", "make"),
    "  Pillow verify": ("PIL/Image.py", "verify"),
    "  Pillow decode (load; reduced by draft for an upright JPEG)": ("PIL/ImageFile.py", "load"),
    "  orientation (exif_transpose)": ("PIL/ImageOps.py", "exif_transpose"),
    "  re-encode without location": ("projections/attachmentmedia.py", "_encode"),
    "  thumbnail (in the request: not an upright JPEG's)": ("projections/attachmentmedia.py", "thumbnail"),
    "SHA-256 (all calls)": ("projections/attachmentmedia.py", "sha256"),
    "store_upload: blobs and row, one transaction": ("projections/attachments.py", "store_upload"),
    "  blob writes (DatabaseStorage._save)": ("projections/attachments.py", "_save"),
    "  commit": ("django/db/backends/base/base.py", "commit"),
}


def by_step(profile: cProfile.Profile, steps: dict[str, tuple[str, str]], n: int) -> dict[str, float]:
    """Cumulative ms per call of each step's function (file suffix, name), over ``n`` requests."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    return {
        step: round(
            sum(
                row[3]
                for (file, _, name), row in stats.stats.items()  # type: ignore[attr-defined]
                if file.endswith(suffix) and name == function
            )
            / n
            * 1000,
            2,
        )
        for step, (suffix, function) in steps.items()
    }


def top_cumulative(profile: cProfile.Profile, lines: int = 30) -> str:
    top = io.StringIO()
    pstats.Stats(profile, stream=top).sort_stats("cumulative").print_stats(lines)
    return top.getvalue()


def test_client() -> tuple[Any, dict[str, str]]:
    from django.test import Client

    client = Client()
    token = client.post(
        "/api/v1/auth/token/", {"username": USER, "password": PASSWORD}, content_type="application/json"
    )
    return client, {"HTTP_AUTHORIZATION": f"Token {token.json()['token']}"}


def profiled(photos: Callable[[int], bytes], n: int) -> dict[str, Any]:
    """cProfile of ``n`` product uploads through Django's test client (in this process, the server stopped)."""
    from projections.attachments import wait_for_thumbnails

    client, auth = test_client()
    bodies = [multipart(photos(10_000 + i), f"剖析{i}.jpg") for i in range(n + 1)]
    client.generic("POST", "/api/v1/attachments/", bodies[0][0], bodies[0][1], **auth)  # warm
    profile, wall = cProfile.Profile(), 0.0
    for body, content_type in bodies[1:]:
        started = time.perf_counter()
        profile.enable()
        answer = client.generic("POST", "/api/v1/attachments/", body, content_type, **auth)
        profile.disable()
        wall += time.perf_counter() - started
        assert answer.status_code == 201, answer.content[:300]
        wait_for_thumbnails()  # made after the answer, in a thread (not profiled): not beside the next upload
    return {"uploads": n, "wall_ms_per_upload_under_profiler": round(wall / n * 1000, 1),
            "ms_per_upload": by_step(profile, STEPS, n), "top_cumulative": top_cumulative(profile)}  # fmt: skip


# the same for a rectify with 3 photos through the view
RECTIFY_STEPS = {
    "the view (HazardCommand.post)": ("api/hazards/views.py", "post"),
    "  scope check (visible_hazard)": ("api/hazards/views.py", "visible_hazard"),
    "  execute_inline: the command's transaction": ("projections/djangorecorder.py", "execute_inline"),
    "    pin: SELECT … FOR UPDATE of 3 rows + UPDATE": ("projections/attachments.py", "pin"),
    "    rectify_hazard (load, decide, insert the event)": ("domain/hazard/rectification.py", "rectify_hazard"),
    "    project_inline (read-model rows, chain link, position)": ("projections/djangorecorder.py", "project_inline"),
    "      AttachmentUse rows (AttachmentUseProjector)": ("projections/attachmentuse.py", "apply_batch"),
    "    commit": ("django/db/backends/base/base.py", "commit"),
}


def profiled_rectifies(world: Any, small: Callable[[int], bytes], n: int) -> dict[str, Any]:
    """Through Django's test client: ``n`` rectifies with 3 fresh uploads and ``n`` without (the setting off),
    alternating, timed, ``pin`` timed and the statements counted (no profiler); then ``n`` more of each under
    cProfile, by step (one profile per side, so that the difference is attributable)."""
    from django.conf import settings
    from django.db import connection

    import api.services
    from projections.attachments import pin

    client, auth = test_client()
    ids = []
    for i in range(3 * (2 * n + 2)):
        body, content_type = multipart(small(30_000 + i), f"剖析整改{i}.jpg")
        answer = client.generic("POST", "/api/v1/attachments/", body, content_type, **auth)
        assert answer.status_code == 201, answer.content[:300]
        ids.append(answer.json()["id"])
    hazards = iter(assigned_hazards(world, 4 * n + 4))
    photos = iter(ids[3 * k : 3 * k + 3] for k in range(2 * n + 2))
    statements = [0]
    pin_ms: list[float] = []
    pin_statements: list[int] = []
    original = pin

    def timed_pin(actor: Any, chosen: Any) -> Any:
        before, started = statements[0], time.perf_counter()
        try:
            return original(actor, chosen)
        finally:
            if chosen:
                pin_ms.append((time.perf_counter() - started) * 1000)
                pin_statements.append(statements[0] - before)

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements[0] += 1
        return execute(sql, params, many, context)

    def rectify(side: str) -> None:
        with_photos = side == WITH
        settings.RECTIFY_REQUIRES_PHOTO = with_photos
        body = {"note": "已整改", **({"attachments": next(photos)} if with_photos else {})}
        answer = client.post(f"/api/v1/hazards/{next(hazards)}/rectify/", body, content_type="application/json", **auth)
        assert answer.status_code == 200, answer.content[:300]

    request_ms: dict[str, list[float]] = {WITH: [], WITHOUT: []}
    request_statements: dict[str, list[int]] = {WITH: [], WITHOUT: []}
    profiles = {WITH: cProfile.Profile(), WITHOUT: cProfile.Profile()}
    try:
        rectify(WITH)  # warm
        rectify(WITHOUT)
        setattr(api.services, "pin", timed_pin)  # noqa: B010 - ``attached`` calls it by its module's name
        try:
            with connection.execute_wrapper(counting):
                for k in range(n):
                    for side in (WITH, WITHOUT) if k % 2 == 0 else (WITHOUT, WITH):
                        statements[0], started = 0, time.perf_counter()
                        rectify(side)
                        request_ms[side].append((time.perf_counter() - started) * 1000)
                        request_statements[side].append(statements[0])
        finally:
            setattr(api.services, "pin", original)  # noqa: B010
        for side, profile in profiles.items():
            rectify(side)  # warm
            profile.enable()
            for _ in range(n):
                rectify(side)
            profile.disable()
    finally:
        settings.RECTIFY_REQUIRES_PHOTO = True
    shares = [p / r for p, r in zip(pin_ms, request_ms[WITH], strict=True)]
    return {
        "rectifies_per_side": n,
        "unprofiled": {
            **{f"request_ms_p50, {side}": round(statistics.median(values), 2) for side, values in request_ms.items()},
            **{
                f"statements_per_request, {side}": round(statistics.fmean(values), 1)
                for side, values in request_statements.items()
            },
            "pin_ms_p50": round(statistics.median(pin_ms), 2),
            "pin_ms_max": round(max(pin_ms), 2),
            "pin_share_of_request_p50": round(statistics.median(shares), 3),
            "statements_in_pin": round(statistics.fmean(pin_statements), 1),
        },
        "ms_per_rectify_under_profiler": {side: by_step(p, RECTIFY_STEPS, n) for side, p in profiles.items()},
        "top_cumulative": top_cumulative(profiles[WITH], 25),
    }


def table(result: dict[str, Any]) -> str:
    up = result["uploads"]
    product, plain = up[PRODUCT], up[PLAIN]
    rows = [
        ("figure", "ours", "baseline", "ratio", "target", "met"),
        ("---",) * 6,
        (f"upload {up['photo_bytes'] / 1e6:.1f} MB photo, p50", f"{product['p50_ms']} ms", f"{plain['p50_ms']} ms",
         f"{up['ratio_p50']}", "≤ 1.5", "yes" if up["ratio_p50"] <= 1.5 else "**no**"),
        ("upload, p99", f"{product['p99_ms']} ms", f"{plain['p99_ms']} ms", f"{up['ratio_p99']}", "≤ 1.5",
         "yes" if up["ratio_p99"] <= 1.5 else "**no**"),
        ("upload, MB/s", f"{product['mb_per_s']}", f"{plain['mb_per_s']}",
         f"{round(product['mb_per_s'] / plain['mb_per_s'], 2)}", "", ""),
    ]  # fmt: skip
    for key, label in (("rectify_http", "HTTP"), ("rectify_app", "application layer")):
        rect = result[key]
        photos, without = rect[WITH], rect[WITHOUT]
        rows += [
            (f"rectify with 3 photos vs without, {label}: p50 (p99)", f"{photos['p50_ms']} ms ({photos['p99_ms']})",
             f"{without['p50_ms']} ms ({without['p99_ms']})", f"{rect['ratio_p50']} ({rect['ratio_p99']})", "", ""),
            (f"rectify, {label}: commands/s", f"{photos['commands_per_s']}", f"{without['commands_per_s']}", "", "",
             ""),
        ]  # fmt: skip
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.uploads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--uploads", type=int, default=40, help="measured uploads per side (after 3 each to warm)")
    parser.add_argument("--rectifies", type=int, default=30, help="measured rectifies per side (after 3 each)")
    parser.add_argument("--profile", type=int, default=0, help="then cProfile this many uploads and rectifies")
    parser.add_argument("--megabytes", type=float, default=5.0, help="the photo's size (about)")
    parser.add_argument("--orientation", type=int, default=1, help="EXIF Orientation (6: a portrait phone photo)")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds the client waits after each upload (both sides): work after the answer done")
    parser.add_argument("--keep", action="store_true", help="keep the installation (else removed at the end)")
    parser.add_argument("--storage", choices=("database", "files"), default="database",
                        help="where the product keeps the bytes: its database (the default) or "
                        "DurableFileSystemStorage (the README's file-system option; synced like the plain view's)")
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url:
        from benchmarks.common import on_database
        from benchmarks.spike_tx import fresh_database

        fresh_database(database_url, DATABASE)
        database_url = on_database(database_url, DATABASE)
    work = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    env = environment(work / "var", database_url)
    if args.storage == "files":
        env[FILES_VARIABLE] = str(work / "attachment-files")
    warm, n = 3, args.rectifies
    try:
        world = install(env)
        jpeg, small = photo_jpeg(int(args.megabytes * 1e6)), small_jpeg()

        def photos(i: int) -> bytes:
            return with_exif(jpeg, i, args.orientation)

        def small_photos(i: int) -> bytes:
            return with_exif(small, i, 1)

        from django.db import connections

        from projections.eventstore import set_application

        http_hazards = assigned_hazards(world, 2 * (warm + n))  # before the server: its commands are the rectifies
        set_application(None)
        connections.close_all()
        port = 18000 + os.getpid() % 1000
        base = f"http://127.0.0.1:{port}"
        server = start(env, port)
        try:
            upload_figures = uploads(base, photos, args.uploads, warm=warm, pause=args.pause)
            token = login(base)
            ids = upload_ids(base, token, small_photos, 6 * (warm + n), first=20_000)
            http_figures = http_rectifies(base, token, http_hazards, ids[: 3 * (warm + n)], n, warm)
        finally:
            server.terminate()
            server.wait(timeout=60)
        result: dict[str, Any] = {
            "machine": machine(),
            "database": "postgresql" if database_url else "sqlite (embedded)",
            "orientation": args.orientation,
            "uploads": upload_figures,
            "rectify_http": http_figures,
            "rectify_app": rectifies(world, ids[3 * (warm + n) :], n, warm),
        }
        from projections.attachments import Attachment

        pinned = Attachment.objects.filter(id__in=ids, pinned=True).count()
        if pinned != len(ids):
            raise RuntimeError(f"{len(ids)} photos given to rectifies, {pinned} pinned")
        result["photos_given_to_rectifies_all_pinned"] = len(ids)
        # made by the server after each upload's answer (``projections.attachments.make_thumbnail_later``)
        images = Attachment.objects.filter(content_type__startswith="image/")
        result["images_uploaded"] = images.count()
        result["images_without_thumbnail_when_the_server_stopped"] = images.filter(thumbnail_sha256=None).count()
        if args.profile:
            result["profile"] = profiled(photos, args.profile)
            result["profile_rectify"] = profiled_rectifies(world, small_photos, args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    files = "-files" if args.storage == "files" else ""
    name = f"uploads-postgresql{files}.json" if database_url else f"uploads{files}.json"
    (RESULTS / name).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
    shown = {k: v for k, v in result.items() if k != "machine"}
    tops = [shown.get(key, {}).pop("top_cumulative", "") for key in ("profile", "profile_rectify")]
    print(json.dumps(shown, ensure_ascii=False, indent=2))
    print("\n".join(tops))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
