"""One time zone out: every date-time a response, report or history shows reads in +08:00 (Asia/Shanghai)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from domain.application import SafetyApplication
from projections.campaigns import CampaignView

from apihelpers import API, fill_joint_form, ok

Client = Any


def datetimes(value: Any, path: str = "$") -> list[tuple[str, str]]:
    """Every (path, text) in a JSON value whose text parses as an ISO date-time with a clock time."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += datetimes(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += datetimes(item, f"{path}[{i}]")
    elif isinstance(value, str) and len(value) >= 16 and "T" in value:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return found
        found.append((path, value))
    return found


def not_beijing(body: Any) -> list[tuple[str, str]]:
    return [(path, text) for path, text in datetimes(body) if not text.endswith("+08:00")]


def test_every_date_time_in_the_districts_responses_reads_in_beijing_time(
    app: SafetyApplication, client_for: Client
) -> None:
    call_command("load_demo")
    campaign = str(CampaignView.objects.get().id)
    school, officer = client_for("hm_staff"), client_for("hm_officer")
    principal, chief, bureau = client_for("hm_principal"), client_for("hm_chief"), client_for("tn_inspector")

    # A signature made at 07:11 on a Beijing morning, sent as the UTC instant 23:11 of the day before.
    form = ok(school.post(f"{API}joint-forms/", {"campaign": campaign, "school": _school(school)}, format="json"), 201)
    fill_joint_form(school, officer, form["id"])
    time.sleep(1.1)  # a whole-second instant after the form was opened and filled
    signed_at = timezone.now().astimezone(UTC).replace(microsecond=0)
    content_hash = ok(principal.get(f"{API}joint-forms/{form['id']}/"))["content_hash"]
    sign = {"content_hash": content_hash, "occurred_at": signed_at.isoformat().replace("+00:00", "Z")}
    ok(principal.post(f"{API}joint-forms/{form['id']}/sign/", sign, format="json"))
    ok(chief.post(f"{API}joint-forms/{form['id']}/sign/", {"content_hash": content_hash}, format="json"))
    joint_form = ok(principal.get(f"{API}joint-forms/{form['id']}/"))
    (principal_signature,) = [s for s in joint_form["signatures"] if s["user"] == "hm_principal"]
    assert principal_signature["signed_at"] == signed_at.astimezone(timezone.get_default_timezone()).isoformat()
    submission = ok(
        bureau.post(f"{API}submissions/", {"report": "suzhou-hazard-list", "campaign": campaign}, format="json"), 201
    )

    hazard = ok(bureau.get(f"{API}hazards/"))["results"][0]["id"]
    bodies = {
        "hazards": ok(bureau.get(f"{API}hazards/")),
        "hazard": ok(bureau.get(f"{API}hazards/{hazard}/")),
        "hazard history": ok(bureau.get(f"{API}hazards/{hazard}/history/")),
        "hazard owners": ok(bureau.get(f"{API}hazards/{hazard}/owners/")),
        "ownership": ok(bureau.get(f"{API}ownership/")),
        "accountability": ok(bureau.get(f"{API}accountability/")),
        "joint form": joint_form,
        "joint form history": ok(chief.get(f"{API}joint-forms/{form['id']}/history/")),
        "joint forms": ok(officer.get(f"{API}joint-forms/")),
        "submission": submission,
        "submissions": ok(bureau.get(f"{API}submissions/")),
        "submission detail": ok(bureau.get(f"{API}submissions/{submission['id']}/")),
        "report": ok(bureau.get(f"{API}reports/suzhou-hazard-list/", {"campaign": campaign, "format": "json"})),
        "campaign": ok(bureau.get(f"{API}campaigns/{campaign}/")),
        "notifications": ok(principal.get(f"{API}notifications/")),
        "checkpoints": ok(client_for("auditor").get(f"{API}audit/checkpoints/")),
        "police access": ok(client_for("auditor").get(f"{API}audit/police-access/")),
    }

    assert datetimes(bodies["joint form"]) and datetimes(bodies["report"]) and datetimes(bodies["submission"])
    assert {name: bad for name, body in bodies.items() if (bad := not_beijing(body))} == {}


def _school(client: Client) -> str:
    return str(ok(client.get(f"{API}units/", {"kind": "school"}))["results"][0]["id"])
