"""One step of the backup drill (``test_backup_restore.py``), run on an installation in a process of its own.

    SAFETY_VAR_DIR=… [DATABASE_URL=…] .venv/bin/python tests/integration/backup_drill.py state|write|rebuild

``state`` prints, as one JSON line, what an operator checks after a restore: ``verify_integrity``'s verdict and
chain head, every read-model row, the rectified photo's bytes as served (their SHA-256) and the demo logins;
``write`` records one more command over HTTP (a progress report by the hazard's owner); ``rebuild`` rebuilds every
read model from the log and prints the rows again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
LOGINS = ("admin", "hm_staff", "hm_principal", "tn_leader", "auditor")


def main(step: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    if step == "write":
        print(json.dumps(write()))
        return
    if step == "rebuild":
        call_command("rebuild_projections", "--workers", "1", verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
        print(json.dumps({"read_models": read_models()}, default=str, ensure_ascii=False))
        return
    print(json.dumps(state(), default=str, ensure_ascii=False))


def state() -> dict[str, Any]:
    from projections import blobcheck
    from projections.eventstore import get_application

    report = blobcheck.verify(get_application()).as_dict()
    return {
        "verify": {key: report[key] for key in ("ok", "head", "log_head", "problems", "blobs_checked")},
        "read_models": read_models(),
        "photos": photos(),
        "logins": {username: login(username)[0] for username in LOGINS},
    }


def read_models() -> dict[str, list[str]]:
    """Every row of every read model (the notifications included), without surrogate keys, in a stable order."""
    from django.db import models

    from projections.runner import PROJECTORS

    rows: dict[str, list[str]] = {}
    for model in (m for projector in PROJECTORS for m in projector.models):
        fields = [
            f.attname
            for f in model._meta.concrete_fields
            if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
        ]
        rows[model.__name__] = sorted(repr(values) for values in model.objects.values_list(*fields))
    return rows


def photos() -> dict[str, dict[str, str]]:
    """The photos of the rectifications: the SHA-256 their event recorded, and that of the bytes served."""
    from projections.attachmentuse import AttachmentUse

    _, client = login("admin")
    served = {}
    for use in AttachmentUse.objects.filter(event="Rectified").order_by("attachment"):
        meta = client.get(f"/api/v1/attachments/{use.attachment}/meta/").json()
        response = client.get(f"/api/v1/attachments/{use.attachment}/")
        body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
        served[str(use.attachment)] = {
            "status": str(response.status_code),
            "recorded": meta["sha256"],
            "served": hashlib.sha256(body).hexdigest(),
        }
    return served


def login(username: str) -> tuple[int, Any]:
    """``POST auth/token/`` with the demo password; the status and a client using the token."""
    from django.test import Client

    from api.demo import DEMO_PASSWORD

    client = Client(raise_request_exception=False)
    response = client.post(
        "/api/v1/auth/token/", {"username": username, "password": DEMO_PASSWORD}, content_type="application/json"
    )
    if response.status_code == 200:
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {response.json()['token']}"
    return response.status_code, client


def write() -> dict[str, Any]:
    """A progress report by the owner of an assigned hazard, as the phone app sends it."""
    from projections.models import HazardLedger

    hazard = HazardLedger.objects.filter(status="assigned", voided=False).exclude(owner=None).order_by("number").first()
    assert hazard is not None, "the demo district has an assigned hazard"
    _, client = login(hazard.owner)
    response = client.post(
        f"/api/v1/hazards/{hazard.id}/progress/",
        {"note": "备份之后的进度", "percent": 60},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=os.urandom(8).hex(),
    )
    return {"status": response.status_code, "answer": response.json()}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "state")
