"""The server's C allocator told to keep freed memory for the next request instead of giving it back at once.

A photo upload holds a few copies of its megabytes (the body, the served copy, the database driver's). With glibc's
defaults each copy of a request thread is a fresh ``mmap`` whose pages are returned when freed, so every upload
touches its megabytes again page by page: measured 2,410 page faults per 5 MB in a thread, ~11 ms of a 5 MB
upload's 44 over HTTP (BENCHMARKS.md, "Upload: memory kept between requests"). Blocks up to 32 MiB are taken from
the allocator's heaps instead (``M_MMAP_THRESHOLD``), and up to 64 MiB free at a heap's top is kept
(``M_TRIM_THRESHOLD``): a thread's next upload reuses the pages its last one touched. What this costs is that memory:
at most ~64 MiB kept per allocator arena (glibc makes up to 8 per core; a thread uses one), in practice the working
set of the largest recent upload per busy thread.

Not glibc (musl, macOS), or the operator's own settings in the environment (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``): nothing is changed."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # the most glibc accepts on 64 bits: above the 20 MB attachment limit
TRIM_THRESHOLD = 64 << 20
OPERATOR_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Set the two thresholds for this process (and the workers it forks); True when they were set."""
    if any(name in os.environ for name in OPERATOR_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    if not done:
        logger.warning("mallopt refused the thresholds: uploads touch fresh memory each time")
    return done
