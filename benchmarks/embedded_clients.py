"""``python -m benchmarks.embedded_clients [--clients 16] [--seconds 20]``: the embedded server under many clients.

Starts ``manage.py serve`` (gunicorn, one worker, 16 threads, one SQLite file) on a new installation with the demo
district, then ``--clients`` threads, each logged in as a school user, record hazards (``POST hazards/``) as fast as
they are answered, each request with its own ``Idempotency-Key``; every tenth request is sent a second time with the
same key (a client retrying after a lost answer). Then it counts, from the installation's database: no answer 5xx,
no command answered 201 without its event (lost), no event without its 201 or recorded twice by a retry (doubled),
and ``verify_integrity`` passes. Prints commands/s and p50/p99, writes ``results/embedded_clients.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, Figure, figure, machine, percentile

USERS = ("hm_staff", "hm_staff2", "hm_principal", "ql_staff", "ql_principal", "lh_principal")
PASSWORD = "demo-pass-2026"
SCHOOL_OF = {"hm": "红梅实验小学", "ql": "青龙中学", "lh": "兰陵幼儿园"}
CLEAN = ("DJANGO_", "INTEGRITY_", "POLICE_", "KAFKA_", "DATABASE_URL", "EVENT_STORE_", "SAFETY_")


def request(url: str, *, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(sent, timeout=120) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as refusal:
        return refusal.code, json.loads(refusal.read() or b"null")


def start(var_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN)}
    env.update(SAFETY_VAR_DIR=str(var_dir), PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING", DEADLINE_WATCHER="off")
    log = (var_dir.parent / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}", "--threads", "16"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {(var_dir.parent / 'serve.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("serve did not answer /healthz")


def events(var_dir: Path) -> int:
    with sqlite3.connect(f"file:{var_dir / 'safety.sqlite3'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM stored_events").fetchone()[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.embedded_clients", description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args(argv)
    result = run(args.clients, args.seconds)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if _sound(result) else 1


def measure(args: dict[str, Any]) -> list[Figure]:
    """The row of ``python -m benchmarks run``: commands/s, met when nothing failed, was lost or doubled."""
    r = run(int(args.get("clients", 16)), float(args.get("seconds", 20)))
    return [
        figure(
            f"embedded: {r['clients']} concurrent clients recording hazards",
            r["commands_per_s"],
            None,
            "commands/s",
            "0 5xx, 0 lost, 0 doubled; commands/s reported",
            _sound(r),
            detail=f"manage.py serve (one SQLite file), {r['seconds']} s: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms; "
            f"answers {r['statuses']}; {r['server_errors']} 5xx, {r['created']} created, {r['retries_replayed']} "
            f"retries replayed, {r['events_added']} events added: {r['lost']} lost, {r['doubled']} doubled; "
            f"verify_integrity exit {r['verify_exit']}",
        )
    ]


def _sound(result: dict[str, Any]) -> bool:
    return not (result["server_errors"] or result["lost"] or result["doubled"] or result["verify_exit"])


def run(clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads for ``seconds`` against a new embedded installation; the counts, from its database."""
    work = Path(tempfile.mkdtemp(prefix="embedded-clients-"))
    var_dir, port = work / "var", 18000 + os.getpid() % 1000
    server = start(var_dir, port)
    api = f"http://127.0.0.1:{port}/api/v1/"
    try:
        tokens = {
            u: request(f"{api}auth/token/", body={"username": u, "password": PASSWORD})[1]["token"] for u in USERS
        }
        campaign = request(f"{api}campaigns/", headers={"Authorization": f"Token {tokens['hm_staff']}"})[1]
        campaign_id = (campaign["results"] if isinstance(campaign, dict) else campaign)[0]["id"]
        admin = request(f"{api}auth/token/", body={"username": "admin", "password": PASSWORD})[1]["token"]
        units = request(f"{api}units/?limit=100", headers={"Authorization": f"Token {admin}"})[1]
        by_name = {u["name"]: u["id"] for u in (units["results"] if isinstance(units, dict) else units)}
        schools = {u: by_name[SCHOOL_OF[u[:2]]] for u in USERS}
        before = events(var_dir)
        statuses: Counter[int] = Counter()
        created, replayed, latencies = [0], [0], []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client(n: int) -> None:
            user = USERS[n % len(USERS)]
            headers = {"Authorization": f"Token {tokens[user]}"}
            i = 0
            while time.monotonic() < stop_at:
                body = {"campaign": campaign_id, "school": schools[user], "severity": "general",
                        "description": f"客户端{n}第{i}条", "location": "教学楼"}  # fmt: skip
                key = {"Idempotency-Key": str(uuid.uuid4())}
                for attempt in range(2 if i % 10 == 0 else 1):
                    t = time.perf_counter()
                    status, answer = request(f"{api}hazards/", body=body, headers={**headers, **key})
                    with lock:
                        latencies.append((time.perf_counter() - t) * 1000)
                        statuses[status] += 1
                        if status == 201 and attempt == 0:
                            created[0] += 1
                        elif status == 201:
                            replayed[0] += 1
                i += 1

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        added = events(var_dir) - before
    finally:
        server.terminate()
        server.wait(timeout=60)
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN)}
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_integrity"], cwd=ROOT, capture_output=True, text=True,
        env={**env, "SAFETY_VAR_DIR": str(var_dir), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    result = {
        "machine": machine(),
        "clients": clients,
        "seconds": round(elapsed, 1),
        "commands_per_s": round(created[0] / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "statuses": dict(statuses),
        "server_errors": sum(c for s, c in statuses.items() if s >= 500),
        "created": created[0],
        "retries_replayed": replayed[0],
        "events_added": added,
        "lost": max(0, created[0] - added),
        "doubled": max(0, added - created[0]),
        "verify": verify.stdout.strip() or verify.stderr.strip(),
        "verify_exit": verify.returncode,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "embedded_clients.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
