"""PDF/XLSX renders in child processes: a few at once for the whole server, each killed at its time limit or
when its client has gone, so the CPU and memory of a render always come back.

WeasyPrint and openpyxl are what a large report spends its time and memory in. Each render runs in a fresh child
forked from a fork server (``api.renderchild`` preloaded: Django set up, WeasyPrint imported), so no database
connection or worker thread of the web process is inherited, and killing the child returns all it took.
The same function on the same data gives the same bytes as when it is called in the web process.

The concurrency limit holds across the server's worker processes: a render holds one of
``REPORT_RENDER_CONCURRENCY`` lock files (``flock``; the kernel releases it if the worker dies).
A client that has gone is seen under gunicorn (``gunicorn.socket``: the socket reads end-of-file) and waitress
(``waitress.client_disconnected``); Django's ``runserver`` exposes neither, so there a render runs to its limit.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import resource
import select
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework import exceptions

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.2  # how often the waiting worker looks at its client
RETRY_AFTER_SECONDS = 10  # what a refused client is told to wait
_forkserver = multiprocessing.get_context("forkserver")
_forkserver.set_forkserver_preload(["api.renderchild"])


class TooManyRenders(exceptions.Throttled):
    default_code = "too_many_renders"
    extra_detail_singular = extra_detail_plural = "请在{wait}秒后重试"


class RenderTimedOut(exceptions.APIException):
    status_code = 504
    default_code = "render_timeout"


class ClientGone(exceptions.APIException):
    """Nobody reads this answer; it ends the request without a server error."""

    status_code = 499
    default_code = "client_closed_request"
    default_detail = "客户端已断开，报表文件生成已终止"


def render(request: HttpRequest, function: Callable[..., bytes], *args: Any) -> bytes:
    """``function(*args)`` in a child process: a module-level function and plain (picklable) data."""
    with _slot():
        return _run(function, args, settings.REPORT_RENDER_TIMEOUT, client_gone(request))


@contextmanager
def _slot() -> Iterator[None]:
    folder = Path(settings.REPORT_RENDER_SLOTS)
    folder.mkdir(parents=True, exist_ok=True)
    count = settings.REPORT_RENDER_CONCURRENCY
    for index in range(count):
        with open(folder / f"slot-{index}", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield  # closing the file releases the lock
            return
    raise TooManyRenders(detail=f"正在生成的报表文件已达{count}份的上限", wait=RETRY_AFTER_SECONDS)


def _run(function: Callable[..., bytes], args: tuple[Any, ...], limit: float, gone: Callable[[], bool]) -> bytes:
    ours, theirs = _forkserver.Pipe()
    child = _forkserver.Process(target=_child, args=(theirs, function, args, limit), daemon=True)
    child.start()
    theirs.close()
    deadline = time.monotonic() + limit
    try:
        while not ours.poll(POLL_SECONDS):
            if time.monotonic() > deadline:
                logger.warning("render killed at its time limit", extra={"pid": child.pid, "limit": limit})
                raise RenderTimedOut(
                    f"报表文件生成超过{limit:g}秒，已终止；请缩小范围（例如指定 campaign=、school=、unit=）后重试"
                )
            if gone():
                logger.warning("render killed: its client has gone", extra={"pid": child.pid})
                raise ClientGone()
        return _answer(ours, child)
    finally:
        child.kill()
        child.join()
        ours.close()


def _answer(ours: Connection, child: Any) -> bytes:
    try:
        ok, value = ours.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"render child {child.pid} ended without an answer (exit code {child.exitcode})") from None
    if not ok:
        raise RuntimeError(f"render failed in child {child.pid}:\n{value}")
    content: bytes = value
    return content


def _child(parent: Connection, function: Callable[..., bytes], args: tuple[Any, ...], limit: float) -> None:
    import api.renderchild  # noqa: F401  (the fork server preloaded it: nothing to do then)

    # Backstops should the waiting worker itself be stuck: the kernel ends a child past its CPU time, the watcher
    # one past its wall time or whose worker has gone.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (int(limit) + 5, int(limit) + 10))
    threading.Thread(target=_watch, args=(parent, limit + 5), daemon=True).start()
    try:
        answer: tuple[bool, Any] = (True, function(*args))
    except Exception:
        answer = (False, traceback.format_exc())
    parent.send(answer)


def _watch(parent: Connection, seconds: float) -> None:
    """The worker never writes to this pipe: when it reads as ready, the worker has gone."""
    if not parent.poll(seconds):
        logger.warning("render child past its time limit ends itself", extra={"pid": os.getpid()})
    os._exit(1)


def client_gone(request: HttpRequest) -> Callable[[], bool]:
    """How to tell that the client has closed its connection, where the WSGI server lets us see it."""
    connection = request.META.get("gunicorn.socket")
    if isinstance(connection, socket.socket):
        return lambda: _closed(connection)
    probe = request.META.get("waitress.client_disconnected")
    if callable(probe):
        return lambda: bool(probe())
    return lambda: False


def _closed(connection: socket.socket) -> bool:
    """A GET has no body left to read: a readable socket with nothing in it has reached end-of-file."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
