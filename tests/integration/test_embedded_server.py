"""The embedded server as `scripts/run.sh` starts it (`manage.py serve`), with nothing set in the environment:
gunicorn, DEBUG off, its own keys in var/ (0600, reused), Chinese error pages, logins over plain HTTP, the Swagger
UI with its assets, and an address a school's LAN can reach."""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from api.demo import DEMO_PASSWORD
from api.embedded import Address, lan_addresses, reachable_host
from benchmarks.uploads import multipart

ROOT = Path(__file__).resolve().parents[2]
PROJECT_VARIABLES = ("DJANGO_", "INTEGRITY_", "POLICE_", "KAFKA_", "DATABASE_URL", "EVENT_STORE_", "SAFETY_")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    output: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(var_dir: Path, host: str = "127.0.0.1") -> Server:
    """`manage.py serve host:port` with no project variable set but its var/ directory; waits for /healthz."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_VARIABLES)}
    env.update(SAFETY_VAR_DIR=str(var_dir), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING")
    port = free_port()
    output = var_dir.parent / f"serve-{port}.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", f"{host}:{port}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    server = Server(process, output, port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{server.printed()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise AssertionError(f"serve did not answer /healthz:\n{server.printed()[-3000:]}")


def fetch(url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None,
          opener: urllib.request.OpenerDirector | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as refusal:
        return refusal.code, dict(refusal.headers), refusal.read()


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded") / "var"


@pytest.fixture(scope="module")
def server(var_dir: Path) -> Iterator[Server]:
    started = start_server(var_dir)
    yield started
    started.stop()


def stored_keys(var_dir: Path) -> dict[str, str]:
    return dict(json.loads((var_dir / "keys.json").read_text()))


def served_public_key(server: Server) -> str:
    status, _, body = fetch(f"{server.url}/api/v1/audit/public-key/")
    assert status == 200
    return str(json.loads(body)["public_key"])


def public_key_of(seed_hex: str) -> str:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex)).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


# --- the server: gunicorn, DEBUG off ------------------------------------------------------------------------


def test_it_is_served_by_gunicorn_from_the_serve_process(server: Server) -> None:
    status, headers, _ = fetch(f"{server.url}/healthz")

    assert status == 200 and headers["Server"].startswith("gunicorn")
    assert server.process.poll() is None
    assert "embedded mode (gunicorn)" in server.printed()


def test_a_missing_page_is_the_chinese_404_page_without_any_debug_detail(server: Server) -> None:
    status, headers, body = fetch(f"{server.url}/no-such-page/")

    page = body.decode()
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    assert "页面不存在" in page
    assert "Traceback" not in page and "URLconf" not in page and "DEBUG = True" not in page


def test_a_missing_api_url_is_json(server: Server) -> None:
    status, headers, body = fetch(f"{server.url}/api/v1/no-such-thing/")

    assert status == 404 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["code"] == "not_found"


def test_a_host_it_does_not_answer_to_gets_a_chinese_400_page_or_json_under_api(server: Server) -> None:
    status, _, body = fetch(f"{server.url}/accounts/login/", headers={"Host": "attacker.example"})
    api_status, _, api_body = fetch(f"{server.url}/api/v1/hazards/", headers={"Host": "attacker.example"})

    assert status == 400 and "请求无效" in body.decode() and "Traceback" not in body.decode()
    assert api_status == 400 and json.loads(api_body)["code"] == "bad_request"


# --- keys generated into var/, never the public development ones -------------------------------------------


def test_first_start_generates_its_own_keys_readable_by_the_owner_only(server: Server, var_dir: Path) -> None:
    keys_file = var_dir / "keys.json"
    keys = stored_keys(var_dir)

    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert set(keys) == {"DJANGO_SECRET_KEY", "INTEGRITY_SIGNING_KEY", "POLICE_CONTENT_KEY"}
    assert keys["DJANGO_SECRET_KEY"] != settings.DEV_SECRET_KEY and len(keys["DJANGO_SECRET_KEY"]) >= 50
    assert keys["INTEGRITY_SIGNING_KEY"] != settings.DEV_INTEGRITY_SIGNING_KEY
    assert len(bytes.fromhex(keys["INTEGRITY_SIGNING_KEY"])) == 32
    assert len(bytes.fromhex(keys["POLICE_CONTENT_KEY"])) == 32
    assert served_public_key(server) == public_key_of(keys["INTEGRITY_SIGNING_KEY"])
    assert served_public_key(server) != public_key_of(settings.DEV_INTEGRITY_SIGNING_KEY)


# --- logins over plain HTTP -----------------------------------------------------------------------------------


def test_a_session_login_works_over_plain_http(server: Server) -> None:
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, _, page = fetch(f"{server.url}/accounts/login/", opener=browser)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.decode())
    assert status == 200 and token

    form = {"csrfmiddlewaretoken": token.group(1), "username": "hm_principal", "password": DEMO_PASSWORD}
    status, _, landing = fetch(
        f"{server.url}/accounts/login/", opener=browser, data=urllib.parse.urlencode(form).encode(),
        headers={"Origin": server.url, "Referer": f"{server.url}/accounts/login/"},
    )

    assert status == 200, landing.decode()[:500]
    assert "工作台" in landing.decode() and "王校长" in landing.decode()  # the 工作台, as the logged-in user
    assert {cookie.name for cookie in jar} >= {"sessionid", "csrftoken"}
    assert not any(cookie.secure for cookie in jar)  # a Secure cookie never comes back over http://


def test_a_token_login_works_over_plain_http(server: Server) -> None:
    credentials = urllib.parse.urlencode({"username": "hm_principal", "password": DEMO_PASSWORD}).encode()
    status, _, body = fetch(f"{server.url}/api/v1/auth/token/", data=credentials)
    assert status == 200
    token = json.loads(body)["token"]

    status, _, _ = fetch(f"{server.url}/api/v1/hazards/", headers={"Authorization": f"Token {token}"})

    assert status == 200


# --- static files ---------------------------------------------------------------------------------------------


def test_the_swagger_ui_and_every_asset_it_loads_are_served(server: Server) -> None:
    status, _, page = fetch(f"{server.url}/api/v1/docs/")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.decode())
    assert status == 200 and any("swagger-ui" in asset for asset in assets)

    for asset in assets:
        status, _, body = fetch(urllib.parse.urljoin(f"{server.url}/api/v1/docs/", asset))
        assert status == 200 and body, asset


def test_the_admin_stylesheet_is_served(server: Server) -> None:
    status, headers, _ = fetch(f"{server.url}/static/admin/css/base.css")

    assert status == 200 and headers["Content-Type"].startswith("text/css")


# --- uploads reuse the memory of the last one ----------------------------------------------------------------

def page_faults(pid: int) -> int:
    """The minor page faults of process ``pid`` so far (``/proc/<pid>/stat``, field 10)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def noisy_jpeg(width: int = 2000, height: int = 1500) -> bytes:
    """A photo of ~2.8 MB: noise compresses as badly as a phone's detail does."""
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((width, height), 60).convert("RGB").save(out, format="JPEG", quality=95)
    return out.getvalue()


def upload(server: Server, token: str, photo: bytes, name: str) -> None:
    body, content_type = multipart(photo, name)
    status, _, answer = fetch(f"{server.url}/api/v1/attachments/", data=body,
                              headers={"Authorization": f"Token {token}", "Content-Type": content_type})
    assert status == 201, answer.decode()


def test_an_upload_reuses_the_memory_the_last_one_touched_instead_of_faulting_in_its_megabytes_again(
    server: Server,
) -> None:
    """api/malloc.py: with glibc's defaults every upload's copies were fresh mappings, ~5,000 page faults per
    2.8 MB upload in the worker, each time; kept for reuse, a few dozen once the first uploads have run."""
    (worker,) = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    token, photo = token_of(server, "hm_staff"), noisy_jpeg()
    pages = len(photo) // 4096
    faults = []
    for i in range(5):
        before = page_faults(int(worker))
        commented = photo[:2] + b"\xff\xfe\x00\x03" + bytes([i]) + photo[2:]  # bytes of its own: a comment
        upload(server, token, commented, f"现场{i}.jpg")
        time.sleep(0.5)  # the thumbnail, made after the answer, counted with its upload
        faults.append(page_faults(int(worker)) - before)
    assert max(faults[2:]) < pages // 2, (faults, pages)


def test_the_production_entry_point_keeps_freed_memory_for_the_next_request_unless_the_operator_set_it(
    tmp_path: Path,
) -> None:
    """gunicorn api.wsgi (docker-compose): the same thresholds, set on import; an operator's own
    ``MALLOC_*`` settings are left as they are."""
    probe = (
        "import resource, threading\n"
        "import api.wsgi\n"
        "faults = []\n"
        "def work():\n"
        "    for _ in range(5):\n"
        "        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt\n"
        "        data = bytes(5_000_000) + b'x'\n"
        "        del data\n"
        "        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)\n"
        "thread = threading.Thread(target=work)\n"
        "thread.start()\n"
        "thread.join()\n"
        "print(max(faults[2:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_VARIABLES)}
    env.update(SAFETY_VAR_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT))

    def faults_once_warm(**extra: str) -> int:
        done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, **extra},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return int(done.stdout.split()[-1])

    pages = 5_000_000 // 4096
    assert faults_once_warm() < pages // 10
    # the operator's own threshold (glibc's default behaviour asked for): left alone, the pages fault each time
    assert faults_once_warm(MALLOC_TRIM_THRESHOLD_=str(128 * 1024)) > pages // 2


# --- a later start, on every interface ------------------------------------------------------------------------


def api(server: Server, path: str, token: str, body: dict[str, str] | None = None) -> dict[str, Any]:
    status, _, answer = fetch(
        f"{server.url}/api/v1/{path}", data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    assert status in (200, 201), answer.decode()
    return dict(json.loads(answer))


def token_of(server: Server, username: str) -> str:
    credentials = urllib.parse.urlencode({"username": username, "password": DEMO_PASSWORD}).encode()
    return str(json.loads(fetch(f"{server.url}/api/v1/auth/token/", data=credentials)[2])["token"])


def hazard_past_its_deadline(server: Server) -> str:
    """A hazard assigned 9 days ago with a deadline that ended 3 days ago, its miss not yet recorded."""
    staff, principal = token_of(server, "hm_staff"), token_of(server, "hm_principal")
    campaign = api(server, "campaigns/", staff)["results"][0]["id"]
    school = next(u["id"] for u in api(server, "units/", staff)["results"] if u["kind"] == "school")
    now = datetime.now(UTC)
    hazard = api(server, "hazards/", staff, {
        "campaign": campaign, "school": school, "item": "CZ-01", "severity": "general",
        "description": "围墙破损", "location": "北墙", "occurred_at": (now - timedelta(days=10)).isoformat(),
    })["id"]
    api(server, f"hazards/{hazard}/assign/", principal, {
        "owner": "hm_staff", "owner_unit": school, "occurred_at": (now - timedelta(days=9)).isoformat(),
        "deadline": (now - timedelta(days=3)).date().isoformat(),
    })
    return str(hazard)


def test_a_later_start_on_every_interface_reuses_the_keys_prints_a_lan_url_and_watches_deadlines(
    server: Server, var_dir: Path
) -> None:
    keys_before = stored_keys(var_dir)
    public_key = served_public_key(server)
    hazard = hazard_past_its_deadline(server)
    server.stop()

    again = start_server(var_dir, host="0.0.0.0")
    try:
        assert stored_keys(var_dir) == keys_before
        assert served_public_key(again) == public_key
        lan_host = reachable_host(Address("0.0.0.0", again.port), lan_addresses())
        printed = re.search(r"API root:\s+(http://\S+)", again.printed())
        assert printed and printed.group(1) == f"http://{lan_host}:{again.port}/api/v1/"
        status, _, _ = fetch(f"http://{lan_host}:{again.port}/healthz")  # the address a phone would use
        assert status == 200
        # The deadline watcher runs in the gunicorn worker: its first pass records the miss.
        principal = token_of(again, "hm_principal")
        deadline = time.monotonic() + 30
        while not api(again, f"hazards/{hazard}/", principal)["overdue"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert api(again, f"hazards/{hazard}/", principal)["overdue"] is True
    finally:
        again.stop()
