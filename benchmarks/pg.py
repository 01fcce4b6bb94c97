"""A durable throwaway PostgreSQL (fsync and synchronous_commit ON) for benchmarks, via scripts/pg.sh."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def durable_postgres() -> Iterator[str]:
    """Yields a DATABASE_URL; the server is stopped and its files removed afterwards."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    folder = tempfile.mkdtemp(prefix="safety-bench-pg.", dir="/tmp")
    os.chmod(folder, 0o755)
    env = {**os.environ, "PG_DURABLE": "1"}
    line = subprocess.run(
        ["bash", str(ROOT / "scripts/pg.sh"), "start", folder], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield line.removeprefix("DATABASE_URL=")
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/pg.sh"), "stop", folder], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", folder], check=False)
