"""Subprocess side of the concurrent ``Idempotency-Key`` test, on the database the environment names (an embedded
installation under SAFETY_VAR_DIR, or DATABASE_URL): the test process's own SQLite database is in memory with a
shared cache, where a second writer is refused at once instead of waiting as on the embedded server's file.

    python tests/integration/idempotency_race.py [race]   migrate, load the demo district, then two requests with
                                                          one key at once; prints the outcome as JSON
    python tests/integration/idempotency_race.py beside   the same, the second request without a key (another
                                                          school's hazard)

The first request is held inside its command until the second has been sent and has waited half a second.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import django


def race(
    send_first: Callable[[], Any], send_second: Callable[[], Any], hold: Callable[[Callable[[], None]], list[str]]
) -> dict[str, Any]:
    """Two requests at once: the first is held inside its command (``hold`` arms that) until the second has been
    sent and has had half a second to run."""
    inside, release = threading.Event(), threading.Event()

    def held() -> None:
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(20)

    runs = hold(held)
    responses: dict[str, Any] = {}

    def request(name: str, send: Callable[[], Any]) -> None:
        from django.db import connection

        try:
            responses[name] = send()
        finally:
            connection.close()

    first = threading.Thread(target=request, args=("first", send_first), name="first")
    second = threading.Thread(target=request, args=("second", send_second), name="second")
    first.start()
    inside.wait(20)
    second.start()
    time.sleep(0.5)
    second_waited = second.is_alive()
    release.set()
    first.join(60)
    second.join(60)
    one, two = responses.get("first"), responses.get("second")
    return {
        "runs": runs,
        "second_waited": second_waited,
        "statuses": [r.status_code if r is not None else None for r in (one, two)],
        "replayed": [r.get("Idempotent-Replayed") if r is not None else None for r in (one, two)],
        "same_body": one is not None and two is not None and one.content == two.content,
    }


def held_progress(hold: Callable[[], None], patch: Callable[[Any, str, Any], None] = setattr) -> list[str]:
    """Every hazard command calls ``hold`` just before it runs; returns the names of the threads that ran one."""
    from api.hazards import views

    original, runs = views.execute, []

    def held(command: Any) -> Any:
        runs.append(threading.current_thread().name)
        hold()
        return original(command)

    patch(views, "execute", held)
    return runs


def main(mode: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from api import demo
    from projections.eventstore import get_application
    from projections.runner import catch_up

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # a dozen demo logins, fast
    if mode == "beside":  # a wait for the write lock that does not end is over in 3 s, not 20
        settings.DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 3
    call_command("migrate", verbosity=0)
    app = get_application()
    world = demo.load(app, timezone.now())
    catch_up(app)
    before = len(app.recorder.select_notifications(start=None, limit=1_000_000))

    def client(username: str) -> APIClient:
        token, _ = Token.objects.get_or_create(user=_user(username))
        logged_in = APIClient(raise_request_exception=False)
        logged_in.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return logged_in

    def progress(username: str, hazard: Any, key: str | None) -> Callable[[], Any]:
        sender, headers = client(username), {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        path, body = f"/api/v1/hazards/{hazard}/progress/", {"note": "同时", "percent": 50}
        return lambda: sender.post(path, body, format="json", **headers)

    keyed = progress("hm_staff", world.hazards["assigned"], "at-once")  # hm_staff owns it
    if mode == "beside":  # a command without a key, on another school's hazard, beside a keyed one
        outcome = race(keyed, progress("ql_principal", world.hazards["transferred"], None), held_progress)
    else:
        outcome = race(keyed, keyed, held_progress)
    outcome["events_added"] = len(app.recorder.select_notifications(start=None, limit=1_000_000)) - before
    print(json.dumps(outcome))


def _user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "race")
    sys.stdout.flush()
