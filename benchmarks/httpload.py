"""Commands through HTTP: our API against what a Django team would build instead, same server, same load.

    python -m benchmarks.httpload --url URL --database bench_medium_20261123 [--rounds 3 --seconds 10]

Both are served by gunicorn (2 sync workers) on loopback and loaded by ``wrk`` (2 threads, 8 connections,
``wrk/commands.lua``), the same command on many hazards as many users:
- ours: ``POST /api/v1/hazards/{id}/progress/`` as the school's 校长 (token auth, scope and role checks, load →
  decide → save, then the read models brought up to date before the answer, as without Kafka);
- baseline (``baseline_app``): a DRF view updating one ``Hazard`` row (locked, state checked) whose history
  django-simple-history keeps, in its own database of the same PostgreSQL server.
Rounds alternate ours / baseline; the figures are the medians of the rounds, only 2xx answers counted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, Figure, figure, on_database, production_env, python, setup_django

LUA = Path(__file__).resolve().parent / "wrk" / "commands.lua"
BASELINE_DB = "bench_baseline"
HAZARDS = 3000
USERS = 200


def measure(args: dict[str, Any]) -> list[Figure]:
    rounds, seconds = int(args.get("rounds", 3)), int(args.get("seconds", 10))
    work = Path(tempfile.mkdtemp(prefix="safety-bench-http."))
    ours_lines, baseline_lines = work / "ours.tsv", work / "baseline.tsv"
    ours_lines.write_text(prepare_ours(args["url"], args["database"]))
    baseline_url = on_database(args["url"], BASELINE_DB)
    baseline_lines.write_text(prepare_baseline(args["url"], baseline_url))
    ours_env = {**os.environ, **production_env(on_database(args["url"], args["database"]))}
    baseline_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.baseline_app.settings",
        "BASELINE_DATABASE_URL": baseline_url,
    }
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": []}
    with (
        gunicorn("api.wsgi:application", ours_env, work / "ours.log") as ours_port,
        gunicorn("benchmarks.baseline_app.wsgi:application", baseline_env, work / "baseline.log") as base_port,
    ):
        ports = {"ours": ours_port, "baseline": base_port}
        lines = {"ours": ours_lines, "baseline": baseline_lines}
        for side in runs:  # warm up: connections, caches, the first requests' imports
            wrk(ports[side], lines[side], 3)
        for _ in range(rounds):
            for side in runs:
                runs[side].append(wrk(ports[side], lines[side], seconds))
    return figures(runs, args.get("app_layer"), seconds)


def figures(runs: dict[str, list[dict[str, Any]]], app_layer: float | None, seconds: int) -> list[Figure]:
    def rate(run: dict[str, Any]) -> float:
        return float(run["requests"] - run["non2xx"]) / (run["duration_us"] / 1e6)

    ours = statistics.median(rate(r) for r in runs["ours"])
    base = statistics.median(rate(r) for r in runs["baseline"])
    p99 = statistics.median(r["p99_us"] / 1000 for r in runs["ours"])
    base_p99 = statistics.median(r["p99_us"] / 1000 for r in runs["baseline"])
    p50 = statistics.median(r["p50_us"] / 1000 for r in runs["ours"])
    base_p50 = statistics.median(r["p50_us"] / 1000 for r in runs["baseline"])
    refused = {side: sum(r["non2xx"] + r["socket_errors"] for r in rs) for side, rs in runs.items()}
    load = f"gunicorn 2 sync workers, wrk 2 threads 8 connections, {len(runs['ours'])}×{seconds} s each, alternating"
    rows = [
        figure(
            "commands: HTTP vs application layer",
            ours,
            app_layer,
            "commands/s",
            "ratio ≥ 0.5",
            None if not app_layer else ours / app_layer >= 0.5,
            detail=f"{load}; baseline = the application-layer figure of this run; non-2xx/errors {refused['ours']}",
        ),
        figure(
            "commands: HTTP vs DRF + simple-history",
            ours,
            base,
            "commands/s",
            "ratio ≥ 0.8",
            ours / base >= 0.8,
            detail=f"same server and load; baseline non-2xx/errors {refused['baseline']}",
        ),
        figure(
            "commands: HTTP p99",
            p99,
            base_p99,
            "ms",
            "reported (p50 in detail)",
            None,
            detail=f"p50 ours {p50:.1f} ms, DRF + simple-history {base_p50:.1f} ms",
        ),
    ]
    return rows


# --- the two servers' data ----------------------------------------------------------------------------


def prepare_ours(url: str, database: str) -> str:
    """Logins for the 校长 of schools with assigned hazards, and one command line per hazard."""
    setup_django(url, database)
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from benchmarks.commands import open_hazards, principals, record_missed_deadlines
    from projections.eventstore import get_application, set_application
    from projections.runner import catch_up

    catch_up(get_application(), batch_size=5000)  # what earlier measurements added to the log
    actors = principals()
    hazards = [(h, s) for h, s in open_hazards(HAZARDS * 2, seed=9) if s in actors]
    record_missed_deadlines(get_application(), [h for h, _ in hazards])  # see benchmarks.commands
    schools = list(dict.fromkeys(s for _, s in hazards))[:USERS]
    tokens = {}
    users = get_user_model().objects
    for school in schools:
        username = actors[school].username
        user = users.filter(username=username).first() or users.create_user(username, password=None)
        tokens[school] = Token.objects.get_or_create(user=user)[0].key
    set_application(None)
    lines = [
        f"{tokens[s]}\t/api/v1/hazards/{h}/progress/\t" + json.dumps({"note": "进行中", "percent": 10 + i % 80})
        for i, (h, s) in enumerate(hazards)
        if s in tokens
    ]
    return "\n".join(lines[:HAZARDS]) + "\n"


def prepare_baseline(server_url: str, url: str) -> str:
    """A fresh baseline database: schema by its migrations, hazards and logins by SQL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BASELINE_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BASELINE_DB}"')
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.baseline_app.settings", "BASELINE_DATABASE_URL": url}
    subprocess.run([python(), "-m", "django", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    keys = [secrets.token_hex(20) for _ in range(USERS)]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO baseline_app_hazard (number, school, category, description, severity, status, owner,"
            " deadline, progress, progress_note, updated_at, version)"
            " SELECT 'H' || i, gen_random_uuid(), '消防安全', '隐患问题表现描述', 'general', 'assigned', 'staff',"
            " current_date + 30, 0, '', now(), 1 FROM generate_series(1, %s) AS i",
            [HAZARDS],
        )
        for i, key in enumerate(keys):
            user = conn.execute(
                "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
                " is_active, date_joined) VALUES ('!', false, %s, '', '', '', false, true, now()) RETURNING id",
                [f"principal{i}"],
            ).fetchone()
            conn.execute("INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, now())", [key, user[0]])
        ids = [row[0] for row in conn.execute("SELECT id FROM baseline_app_hazard ORDER BY id")]
    lines = [
        f"{keys[i % USERS]}\t/hazards/{pk}/progress/\t" + json.dumps({"note": "进行中", "percent": 10 + i % 80})
        for i, pk in enumerate(ids)
    ]
    return "\n".join(lines) + "\n"


# --- servers and load ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path) -> Iterator[int]:
    """gunicorn with 2 sync workers on a free loopback port; stopped (by its pid) afterwards."""
    port = free_port()
    command = [
        str(Path(python()).parent / "gunicorn"),
        app,
        "--workers=2",
        "--worker-class=sync",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        f"--error-logfile={log}",
    ]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, server, log)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer on port {port}: {log.read_text()[-2000:]}")


def wrk(port: int, lines: Path, seconds: int) -> dict[str, Any]:
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "-T10s", "-s", str(LUA), f"http://127.0.0.1:{port}", "--"]
    done = subprocess.run([*command, str(lines)], capture_output=True, text=True, check=True)
    last = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not last:
        raise RuntimeError(f"wrk printed no summary: {done.stdout[-1000:]} {done.stderr[-1000:]}")
    return dict(json.loads(last[-1]))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--app-layer", type=float, help="the application-layer figure to compare with")
    args = parser.parse_args(argv)
    print(json.dumps(measure(vars(args)), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
