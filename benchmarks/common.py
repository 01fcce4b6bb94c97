"""What every measurement shares: Django set up on one database, figures, percentiles, the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PASSWORD = "bench-pass-1"

Figure = dict[str, Any]


def production_env(url: str) -> dict[str, str]:
    """Production settings (DEBUG off, PostgreSQL, no Kafka) with throwaway keys, for this process or a server."""
    return {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "api.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or "bench-" + "7" * 40,
        "INTEGRITY_SIGNING_KEY": "5a" * 32,
        "POLICE_CONTENT_KEY": "6b" * 32,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "LOG_LEVEL": "WARNING",
        "DEADLINE_WATCHER": "off",
    }


def setup_django(url: str, database: str | None = None) -> None:
    """Django in production mode on ``url``, optionally on another database of the same server."""
    os.environ.update(production_env(on_database(url, database) if database else url))
    os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    import django

    django.setup()


def on_database(url: str, database: str) -> str:
    """The same server and role, another database."""
    return url.rsplit("/", 1)[0] + "/" + database


def use_database(name: str) -> None:
    """Point Django and the shared application at another database of the same server."""
    from django.db import connections

    from projections.eventstore import set_application

    connections["default"].close()
    connections["default"].settings_dict["NAME"] = name
    set_application(None)


def figure(
    name: str,
    ours: float | None,
    baseline: float | None,
    unit: str,
    target: str,
    met: bool | None,
    *,
    ratio: float | None = None,
    detail: str = "",
) -> Figure:
    """One row of the table; ``ratio`` defaults to ours / baseline."""
    if ratio is None and ours is not None and baseline:
        ratio = ours / baseline
    return {
        "name": name,
        "ours": _round(ours),
        "baseline": _round(baseline),
        "ratio": None if ratio is None else round(ratio, 2),
        "unit": unit,
        "target": target,
        "met": met,
        "detail": detail,
    }


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 2) if abs(value) < 100 else round(value)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def machine() -> dict[str, Any]:
    """The machine and the versions that produced the figures."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str] = {"python": platform.python_version()}
    for package in ("Django", "djangorestframework", "eventsourcing", "psycopg", "gunicorn", "weasyprint"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "missing"
    versions["postgresql"] = _command_version(["/usr/lib/postgresql/15/bin/postgres", "--version"]).split(") ")[-1]
    versions["wrk"] = _command_version(["wrk", "-v"]).split(" [")[0].removeprefix("wrk ")
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "versions": versions,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _command_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def python() -> str:
    return sys.executable
