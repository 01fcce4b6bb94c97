"""Bounded reports (issue 13): a row limit per file format, and PDF/XLSX renders in child processes that are few at
once, killed at their time limit or when their client has gone — and that give the same files as before."""

from __future__ import annotations

import functools
import io
import socket
import threading
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as BrowserClient
from django.test import RequestFactory
from django.utils import timezone
from renderhelpers import gone, slow_render, wait_for_pid
from reporthelpers import pdf_pages, pdf_text, xlsx_rows

from api import renderpool
from api.demo import World
from api.reports.query import build_query
from api.services import execute
from domain.application import SafetyApplication
from domain.hazard.aggregate import Severity
from projections.runner import catch_up
from reports.registry import load_all
from reports.render import RENDERERS, render_pdf, render_xlsx

from apihelpers import API, refused

Client = Any
HAZARDS = ("消防通道堆放杂物", "监控保存天数不足30天", "宿舍一键报警故障")


@pytest.fixture
def school(app: SafetyApplication, world: World) -> str:
    """红梅实验小学 with three hazards: its ledger has 9 rows (three lists of three)."""
    start = timezone.now() - timedelta(days=2)
    for hour, text in enumerate(HAZARDS, start=1):
        app.discover_hazard(
            actor=world.actor("hm_staff"),
            campaign=world.campaign,
            school=world.units["hongmei_school"],
            category="消防安全",
            severity=Severity.GENERAL,
            description=text,
            occurred_at=start + timedelta(hours=hour),
        )
    catch_up(app)
    return str(world.units["hongmei_school"])


@pytest.fixture
def pool(settings: Any, tmp_path: Path) -> Any:
    """Render slots of this test's own (other test runs on the machine hold their own)."""
    settings.REPORT_RENDER_SLOTS = tmp_path / "slots"
    return settings


def ledger_url(school: str, fmt: str) -> str:
    return f"{API}reports/school-ledger/?school={school}&format={fmt}"


def test_a_report_above_its_formats_row_limit_is_refused_before_rendering_naming_the_limit_and_the_way_out(
    user: Client, school: str, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool.REPORT_MAX_ROWS = {"json": 100, "pdf": 8, "xlsx": 8}
    monkeypatch.setitem(RENDERERS, "pdf", _never_rendered)
    monkeypatch.setitem(RENDERERS, "xlsx", _never_rendered)
    principal = user("hm_principal")

    for fmt in ("pdf", "xlsx"):
        body = refused(principal.get(ledger_url(school, fmt)), 400, "report_too_large")
        detail = body["detail"]
        assert "共9行" in detail and f"{fmt.upper()}文件8行的上限" in detail, detail
        assert "campaign=" in detail and "format=json" in detail, detail
    assert principal.get(ledger_url(school, "json")).status_code == 200  # JSON's own limit is higher

    pool.REPORT_MAX_ROWS = {"json": 8, "pdf": 8, "xlsx": 8}
    detail = refused(principal.get(ledger_url(school, "json")), 400, "report_too_large")["detail"]
    assert "JSON文件8行的上限" in detail and "format=json" not in detail

    submitted = principal.post(f"{API}submissions/", {"report": "school-ledger", "school": school}, format="json")
    refused(submitted, 400, "report_too_large")


def _never_rendered(*_: object) -> bytes:
    raise AssertionError("a report over its limit must be refused before it is rendered")


def test_renders_beyond_the_concurrency_limit_are_refused_with_retry_after_until_a_slot_frees(
    user: Client, world: World, school: str, pool: Any, tmp_path: Path
) -> None:
    pool.REPORT_RENDER_CONCURRENCY = 1
    pool.REPORT_RENDER_TIMEOUT = 8
    form = _form(world)
    pid_file = tmp_path / "busy.pid"
    busy = threading.Thread(target=_render_quietly, args=(functools.partial(slow_render, str(pid_file), 60),))
    busy.start()
    pid = wait_for_pid(pid_file)
    principal = user("hm_principal")

    for fmt in ("pdf", "xlsx"):
        response = principal.get(ledger_url(school, fmt))
        refused(response, 429, "too_many_renders")
        assert int(response["Retry-After"]) > 0
    page = _browser(world, "hm_principal").get(f"/forms/joint/{form}/pdf/")
    assert page.status_code == 429 and int(page["Retry-After"]) > 0 and "上限" in page.content.decode()
    assert principal.get(ledger_url(school, "json")).status_code == 200  # JSON is not rendered in a child

    busy.join(timeout=30)
    assert gone(pid)
    response = principal.get(ledger_url(school, "xlsx"))
    assert response.status_code == 200, response.content[:300]


def _render_quietly(function: Any) -> None:
    try:
        renderpool.render(RequestFactory().get("/"), function)
    except renderpool.RenderTimedOut:
        pass


def test_a_render_past_its_time_limit_is_killed_and_answered_with_a_json_error(
    user: Client, school: str, pool: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool.REPORT_RENDER_TIMEOUT = 2
    pid_file = tmp_path / "slow.pid"
    monkeypatch.setitem(RENDERERS, "pdf", functools.partial(slow_render, str(pid_file), 30))

    started = time.monotonic()
    response = user("hm_principal").get(ledger_url(school, "pdf"))

    assert time.monotonic() - started < 15
    body = refused(response, 504, "render_timeout")
    assert "2秒" in body["detail"], body
    assert gone(wait_for_pid(pid_file))


def test_a_render_whose_client_has_gone_is_killed(pool: Any, tmp_path: Path) -> None:
    """Under gunicorn the view sees its client's socket; one that reads end-of-file has hung up."""
    pid_file = tmp_path / "abandoned.pid"
    server_side, client_side = socket.socketpair()
    request = RequestFactory().get("/", **{"gunicorn.socket": server_side})
    threading.Timer(1.0, client_side.close).start()
    started = time.monotonic()

    with pytest.raises(renderpool.ClientGone):
        renderpool.render(request, functools.partial(slow_render, str(pid_file), 30))

    assert time.monotonic() - started < 10
    assert gone(wait_for_pid(pid_file))
    server_side.close()


def test_files_rendered_through_the_pool_are_the_files_rendered_in_the_web_process(
    user: Client, world: World, school: str, pool: Any
) -> None:
    principal = user("hm_principal")
    as_of = timezone.now().isoformat()
    params = {"school": school, "as_of": as_of}
    spec = load_all()["school-ledger"]
    built = spec.build(build_query(spec, params, world.actor("hm_principal")))

    pdf = principal.get(f"{API}reports/school-ledger/", {**params, "format": "pdf"})
    xlsx = principal.get(f"{API}reports/school-ledger/", {**params, "format": "xlsx"})

    assert pdf.status_code == xlsx.status_code == 200
    in_process = render_pdf(built)
    assert pdf_text(pdf.content) == pdf_text(in_process) and pdf_pages(pdf.content) == pdf_pages(in_process)
    assert all(text in pdf_text(pdf.content) for text in HAZARDS)
    assert _parts(xlsx.content) == _parts(render_xlsx(built))
    assert any(HAZARDS[0] in row for row in xlsx_rows(xlsx.content))


def _parts(xlsx: bytes) -> dict[str, bytes]:
    """Every part byte for byte, but the save time openpyxl writes (in the zip entries and docProps/core.xml)."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != "docProps/core.xml"}


def _form(world: World) -> str:
    actor, school = world.actor("hm_staff"), world.units["hongmei_school"]
    return str(execute(lambda app: app.open_joint_form(actor=actor, campaign=world.campaign, school=school)).id)


def _browser(world: World, username: str) -> BrowserClient:
    client = BrowserClient()
    client.force_login(get_user_model().objects.get(username=username))
    return client
