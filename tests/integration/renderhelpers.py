"""A render for the render pool's tests: run in a render child, it notes its pid in a file, then takes its time."""

from __future__ import annotations

import os
import time
from pathlib import Path


def slow_render(pid_file: str, seconds: float, *_: object) -> bytes:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return b"%PDF-late"


def wait_for_pid(pid_file: Path, within: float = 30) -> int:
    ends = time.monotonic() + within
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < ends, "the render never started"
        time.sleep(0.05)
    return int(pid_file.read_text())


def gone(pid: int, within: float = 5) -> bool:
    """The process has ended and been reaped (a zombie would still answer to signal 0)."""
    ends = time.monotonic() + within
    while time.monotonic() < ends:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
