"""``python -m benchmarks run [--size small|medium|large]``: every measurement beside its baseline, in one run.

Starts what it needs (a durable PostgreSQL: fsync and synchronous_commit ON; ``wrk``, gunicorn and the
baseline's packages are installed when missing), restores or generates the histories (``dataset``), runs each
measurement in its own process, prints one table with the machine and the versions, and writes
``results/latest.json`` (and ``results/<size>.json``):
``{"machine", "size", "figures": [{"name", "ours", "baseline", "ratio", "unit", "target", "met", "detail"}]}``.

Measurements, in this order: the full projection rebuild (which also makes the read models the others read),
``ownership/`` and ``accountability/`` latency at small against the size, commands through the application
layer, commands through HTTP, Kafka (``benchmarks/kafka.py``, when present), the 500-row PDF, and the embedded
server (one SQLite file) under 16 concurrent clients (``benchmarks/embedded_clients.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, Figure, figure, machine, python
from benchmarks.dataset import SEED
from benchmarks.pg import durable_postgres

# Per size: how long each measurement runs (medium must finish in 15 minutes on a fresh 2-core machine).
PLANS: dict[str, dict[str, dict[str, Any]]] = {
    "small": {"rebuild": {"rounds": 3}, "queries": {"requests": 300}, "commands": {"rounds": 5, "per_round": 200},
              "httpload": {"rounds": 3, "seconds": 8}, "pdf": {"rounds": 3}, "embedded": {"seconds": 20}},
    "medium": {"rebuild": {"rounds": 2}, "queries": {"requests": 300}, "commands": {"rounds": 5, "per_round": 200},
               "httpload": {"rounds": 3, "seconds": 10}, "pdf": {"rounds": 3}, "embedded": {"seconds": 20}},
    "large": {"rebuild": {"rounds": 2}, "queries": {"requests": 300}, "commands": {"rounds": 5, "per_round": 200},
              "httpload": {"rounds": 3, "seconds": 10}, "pdf": {"rounds": 3}, "embedded": {"seconds": 20}},
}  # fmt: skip
QUICK = {"rebuild": {"rounds": 1}, "queries": {"requests": 60}, "commands": {"rounds": 2, "per_round": 100},
         "httpload": {"rounds": 1, "seconds": 5}, "pdf": {"rounds": 1}, "embedded": {"seconds": 5}}  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--size", choices=list(PLANS), default="medium")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke test of the harness")
    parser.add_argument(
        "--only", nargs="*", help="run only these measurements (rebuild queries commands http kafka pdf embedded)"
    )
    args = parser.parse_args(argv)
    started, started_at = time.monotonic(), datetime.now(UTC)
    ensure_tools()
    plan = QUICK if args.quick else PLANS[args.size]
    only = set(args.only or ["rebuild", "queries", "commands", "http", "kafka", "pdf", "embedded"])
    figures: list[Figure] = []
    datasets: dict[str, dict[str, Any]] = {}
    with durable_postgres() as url:
        for size in dict.fromkeys(["small", args.size]):
            datasets[size] = dataset(url, size, args.seed)
        db, small = datasets[args.size]["database"], datasets["small"]["database"]
        common = {"url": url, "database": db, "size": args.size, "seed": args.seed}
        if "rebuild" in only:
            figures += child("rebuild", {**common, **plan["rebuild"]})
        if "queries" in only:
            figures += child("queries", {**common, "small": small, "large": db, **plan["queries"]})
        app_layer = None
        if "commands" in only:
            measured = child("commands", {**common, **plan["commands"]})
            figures += measured
            app_layer = measured[0]["ours"] if measured and measured[0]["ours"] is not None else None
        if "http" in only:
            figures += child("httpload", {**common, "app_layer": app_layer, **plan["httpload"]})
        if "kafka" in only:
            figures += kafka()
    if "pdf" in only:
        figures += child("pdf", {"rows": 500, **plan["pdf"]})
    if "embedded" in only:
        figures += child("embedded_clients", {"clients": 16, **plan["embedded"]})
    result = {
        "machine": machine(),
        "size": args.size,
        "seed": args.seed,
        "events": datasets[args.size].get("events"),
        "datasets": datasets,
        "started_at": started_at.isoformat(),
        "duration_s": round(time.monotonic() - started),
        "postgresql": "durable: fsync on, synchronous_commit on (scripts/pg.sh with PG_DURABLE=1)",
        "figures": figures,
    }
    RESULTS.mkdir(exist_ok=True)
    for name in ("latest.json", f"{args.size}.json"):
        (RESULTS / name).write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(table(result))
    return 0


def dataset(url: str, size: str, seed: int) -> dict[str, Any]:
    command = [python(), "-m", "benchmarks.dataset", "--url", url, "--size", size, "--seed", str(seed)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"dataset {size} failed:\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    how = f"restored in {found['restored_s']} s" if "restored_s" in found else f"generated in {found['generate_s']} s"
    print(f"dataset {size}: {found['events']:,} events, {found['hazards']:,} hazards, {how}", flush=True)
    return found


def child(module: str, args: dict[str, Any] | None) -> list[Figure]:
    """``benchmarks.<module>.measure(args)`` (``measure()`` for None) in a process of its own: its own Django
    set-up and its own peak memory."""
    print(f"measuring {module} …", flush=True)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        code = (
            "import json, sys, importlib; "
            f"m = importlib.import_module('benchmarks.{module}'); "
            "args = json.loads(sys.argv[1]); "
            "figures = m.measure() if args is None else m.measure(args); "
            "open(sys.argv[2], 'w').write(json.dumps(figures, ensure_ascii=False))"
        )
        done = subprocess.run(
            [python(), "-c", code, json.dumps(args), out.name], cwd=ROOT, capture_output=True, text=True
        )
        text = Path(out.name).read_text()
    if done.returncode != 0 or not text:
        error = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  {module} failed: {error}", file=sys.stderr)
        (RESULTS / f"{module}.err").write_text(done.stderr)
        return [figure(f"{module}: failed", None, None, "", "", False, detail=error[:300])]
    figures: list[Figure] = json.loads(text)
    print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
    return figures


def kafka() -> list[Figure]:
    """The Kafka figures come from ``benchmarks/kafka.py`` (its own broker and history) when it exists."""
    if importlib.util.find_spec("benchmarks.kafka") is None:
        return [figure("kafka: not measured (module missing)", None, None, "", "", None)]
    return child("kafka", None)


def ensure_tools() -> None:
    """What a fresh machine lacks: wrk and the PDF tools (apt), gunicorn and the baseline's packages (pip)."""
    missing = [pkg for tool, pkg in (("wrk", "wrk"), ("pdfinfo", "poppler-utils")) if shutil.which(tool) is None]
    if not Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc").exists():
        missing.append("fonts-wqy-zenhei")
    if missing:
        print(f"installing {' '.join(missing)} (apt-get) …", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=True,
            capture_output=True,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    needed = ("gunicorn", "simple_history")
    if any(importlib.util.find_spec(name) is None for name in needed):
        print("installing the bench extra (pip) …", flush=True)
        subprocess.run([python(), "-m", "pip", "install", "-q", "-e", f"{ROOT}[bench]"], check=True)


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    v = m["versions"]
    lines = [
        f"Benchmarks: size {result['size']} ({result['events']:,} events, seed {result['seed']}), "
        f"{result['started_at'][:16]} UTC, {result['duration_s']} s",
        f"Machine: {m['cpu_model']}, {m['cpus']} CPUs, {m['memory_gb']} GB, {m['platform']}",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"PostgreSQL: {result['postgresql']}",
        "",
    ]
    head = ("figure", "ours", "baseline", "ratio", "unit", "target", "met")
    rows = [head] + [
        (
            f["name"],
            _cell(f["ours"]),
            _cell(f["baseline"]),
            _cell(f["ratio"]),
            f["unit"],
            f["target"],
            {True: "yes", False: "NO", None: "—"}[f["met"]],
        )
        for f in result["figures"]
    ]
    widths = [max(_width(str(r[i])) for r in rows) for i in range(len(head))]
    for n, row in enumerate(rows):
        cells = [str(c) + " " * (widths[i] - _width(str(c))) for i, c in enumerate(row)]
        lines.append(" | ".join(cells).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    lines.append("")
    lines += [f"- {f['name']}: {f['detail']}" for f in result["figures"] if f.get("detail")]
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
