"""Large report renders against the embedded server while /healthz is polled (issue 13), run by hand.

    python -m benchmarks.render_load [--hazards 3000] [--renders 8] [--abandoned 4] [--folder DIR]

Embedded mode (SQLite) in a temporary folder (or ``--folder``, kept and reused): one school with ``--hazards``
hazards (benchmarks.generate, real projectors). The server is gunicorn as ``scripts/run.sh`` starts it (one
gthread worker, 16 threads, DEBUG off) on a loopback port. Then, at once:
- ``--abandoned`` clients ask for the school's ledger of one campaign as PDF and hang up after 5 s;
- ``--renders`` clients ask for the ledger of each campaign as PDF (3,000 hazards: five campaigns of about 600,
  1,800 rows each, just within the row limit), and on 429 wait as
  Retry-After says and ask again, until they have their file or a 504;
- /healthz is asked every 100 ms (a new connection each time), and the server's processes (gunicorn, its worker,
  the render fork server and children) are sampled every 0.25 s: summed RSS and CPU.
The full ledger (above the row limit) is asked for once too: it must be refused before any rendering.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, percentile, python

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def server_env(folder: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")},
        "SAFETY_VAR_DIR": folder,
        "DJANGO_SETTINGS_MODULE": "api.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + "7" * 40,
        "INTEGRITY_SIGNING_KEY": "5a" * 32,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "LOG_LEVEL": "WARNING",
        "DEADLINE_WATCHER": "off",
    }


def prepare(folder: str, hazards: int) -> dict[str, Any]:
    """The school, its campaigns (with hazard counts) and its 校长's token, generated once per folder."""
    saved = Path(folder) / "render_load.json"
    if saved.exists():
        return dict(json.loads(saved.read_text()))
    os.environ.update(server_env(folder))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from benchmarks.generate import Generator
    from projections.eventstore import get_application
    from projections.hazard.rows import HazardVersion
    from projections.runner import catch_up

    call_command("migrate", verbosity=0)
    app = get_application()
    generator = Generator(app, seed=13, now=datetime.now(UTC))
    generator.directory(schools=1)
    while generator.history.hazards < hazards:
        generator.hazard()
    generator.flush()
    catch_up(app, batch_size=2000)
    school = generator.history.schools[0]
    user = get_user_model().objects.create_user(school.principal.username, password=None)
    campaigns = {
        str(c): HazardVersion.objects.filter(school=school.unit.id, campaign=c).values("hazard").distinct().count()
        for c in generator.history.campaigns
    }
    data = {
        "school": str(school.unit.id),
        "token": Token.objects.create(user=user).key,
        "campaigns": campaigns,
        "hazards": generator.history.hazards,
        "events": generator.history.events,
    }
    saved.write_text(json.dumps(data))
    return data


# --- the server and its processes ---------------------------------------------------------------------------


@contextmanager
def server(folder: str, port: int) -> Any:
    command = [
        str(Path(python()).parent / "gunicorn"),
        "api.wsgi",
        "--workers=1",
        "--worker-class=gthread",
        "--threads=16",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        f"--error-logfile={folder}/gunicorn.log",
    ]
    log = open(f"{folder}/server.log", "w")  # noqa: SIM115 (open while the server runs)
    process = subprocess.Popen(command, env=server_env(folder), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while get(port, "/healthz", timeout=2)[0] != 200:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(Path(f"{folder}/gunicorn.log").read_text()[-2000:])
            time.sleep(0.3)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def tree(root: int) -> list[int]:
    """``root`` and every process below it (the render fork server and its children included)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def usage(pids: list[int]) -> tuple[int, float]:
    """Summed RSS (bytes) and CPU seconds so far, children that have ended and been reaped included."""
    rss, cpu = 0, 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        rss += int(fields[21]) * PAGE
        cpu += sum(int(v) for v in fields[11:15]) / TICKS  # utime, stime, cutime, cstime
    return rss, cpu


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)


def sample(root: int, out: Samples, stop: threading.Event) -> None:
    while not stop.is_set():
        pids = tree(root)
        rss, cpu = usage(pids)
        out.times.append(time.monotonic())
        out.rss.append(rss)
        out.cpu.append(cpu)
        out.processes.append(len(pids))
        stop.wait(0.25)


# --- clients --------------------------------------------------------------------------------------------------


def get(port: int, path: str, token: str = "", timeout: float = 120) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Authorization": f"Token {token}"} if token else {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    except OSError as error:
        return 0, {"error": str(error)}, b""
    finally:
        connection.close()


def poll_health(port: int, out: list[float], failures: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        status = get(port, "/healthz", timeout=10)[0]
        elapsed = time.monotonic() - started
        out.append(elapsed)
        if status != 200:
            failures.append(status)
        stop.wait(max(0.0, 0.1 - elapsed))


def render(port: int, path: str, token: str, results: list[dict[str, Any]]) -> None:
    """Ask until the file comes (or a 504), waiting as Retry-After says after each 429."""
    started, refusals = time.monotonic(), 0
    while True:
        status, headers, body = get(port, path, token, timeout=300)
        if status != 429:
            break
        refusals += 1
        time.sleep(float(headers.get("Retry-After", "10")))
    results.append({"status": status, "seconds": time.monotonic() - started, "bytes": len(body), "429s": refusals})


def abandon(port: int, path: str, token: str, results: list[dict[str, Any]]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n\r\n".encode())
        client.settimeout(5)
        try:
            first = client.recv(64)
        except TimeoutError:
            first = b""
        results.append({"answered_within_5s": first[:12].decode(errors="replace")})


def ledger(school: str, campaign: str | None = None) -> str:
    return f"/api/v1/reports/school-ledger/?school={school}&format=pdf" + (f"&campaign={campaign}" if campaign else "")


# --- the run --------------------------------------------------------------------------------------------------


def run(folder: str, hazards: int, renders: int, abandoned: int) -> dict[str, Any]:
    data = prepare(folder, hazards)
    school, token = data["school"], data["token"]
    campaigns = sorted(data["campaigns"], key=lambda c: -data["campaigns"][c])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with server(folder, port) as process:
        get(port, ledger(school, campaigns[-1]), token)  # the fork server started, fonts cached
        started = time.monotonic()
        status, _, body = get(port, ledger(school), token)
        too_large = {"status": status, "seconds": round(time.monotonic() - started, 3), "body": json.loads(body)}

        stop, samples, health, failures = threading.Event(), Samples(), [], []
        watchers = [
            threading.Thread(target=sample, args=(process.pid, samples, stop)),
            threading.Thread(target=poll_health, args=(port, health, failures, stop)),
        ]
        for thread in watchers:
            thread.start()
        time.sleep(2)
        begun = time.monotonic()
        gone: list[dict[str, Any]] = []
        done: list[dict[str, Any]] = []
        clients = [
            threading.Thread(target=abandon, args=(port, ledger(school, campaigns[i % len(campaigns)]), token, gone))
            for i in range(abandoned)
        ]
        clients += [
            threading.Thread(target=render, args=(port, ledger(school, campaigns[i % len(campaigns)]), token, done))
            for i in range(renders)
        ]
        for thread in clients:
            thread.start()
            time.sleep(0.05)
        for thread in clients:
            thread.join()
        ended = time.monotonic()
        time.sleep(15)
        stop.set()
        for thread in watchers:
            thread.join()
    log = Path(f"{folder}/server.log").read_text()
    gone.append({"killed_gone": log.count("its client has gone"), "killed_at_limit": log.count("at its time limit")})
    return summary(data, too_large, samples, health, failures, done, gone, begun, ended)


def summary(
    data: dict[str, Any],
    too_large: dict[str, Any],
    samples: Samples,
    health: list[float],
    failures: list[int],
    done: list[dict[str, Any]],
    gone: list[dict[str, Any]],
    begun: float,
    ended: float,
) -> dict[str, Any]:
    rates = [
        (samples.times[i], (samples.cpu[i] - samples.cpu[i - 1]) / (samples.times[i] - samples.times[i - 1]))
        for i in range(1, len(samples.times))
    ]
    quiet = [rate for t, rate in rates if t < begun] or [0.0]  # /healthz polling alone, before the renders
    busy = [t for t, rate in rates if rate > max(quiet) + 0.1]
    idle_at = max(busy) if busy else begun
    return {
        "hazards": data["hazards"],
        "events": data["events"],
        "campaign_hazards": data["campaigns"],
        "full_ledger_refused": too_large,
        "renders": sorted(done, key=lambda r: r["seconds"]),
        "renders_seconds_total": round(ended - begun, 1),
        "abandoned": gone,
        "healthz_count": len(health),
        "healthz_failures": failures,
        "healthz_p50_ms": round(statistics.median(health) * 1000, 1),
        "healthz_p99_ms": round(percentile(health, 99) * 1000, 1),
        "healthz_max_ms": round(max(health) * 1000, 1),
        "peak_rss_mb": round(max(samples.rss) / 2**20),
        "rss_after_mb": round(samples.rss[-1] / 2**20),
        "peak_processes": max(samples.processes),
        "cpu_busy_until_s_after_last_answer": round(idle_at - ended, 1),
        "cpu_seconds": round(samples.cpu[-1] - samples.cpu[0], 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="minutes"),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hazards", type=int, default=3000)
    parser.add_argument("--renders", type=int, default=8)
    parser.add_argument("--abandoned", type=int, default=4)
    parser.add_argument("--folder", help="embedded data folder, kept and reused (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.folder:
        Path(args.folder).mkdir(parents=True, exist_ok=True)
        result = run(args.folder, args.hazards, args.renders, args.abandoned)
    else:
        with tempfile.TemporaryDirectory(prefix="safety-bench-render.") as folder:
            result = run(folder, args.hazards, args.renders, args.abandoned)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
