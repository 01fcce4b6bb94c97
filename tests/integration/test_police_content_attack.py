"""An education user plays the attacker of issue 13: with every hash, version, size and time they can obtain, can
they confirm a guess of a joint form's police-only note offline? They must not.

The attacker (天宁区's 督查人员, who may read the district's histories, verify the chain and list the checkpoints)
rebuilds the stored bytes of every event they see, with the guessed note put in, and checks them against the hash
chain: ``h_n = SHA-256(h_{n-1} ‖ event n)`` with any known hash as ``h_{n-1}``. Checkpoints are signed after every
event here, so every link of the chain is known to them. The police station writes the note twice: alone, and
together with a field the school sees. Before notes were sealed, the second edit's history item gave everything
but the note, and the guess was confirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import permutations
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Notification
from rest_framework.test import APIClient

from api.demo import World
from domain.application import SafetyApplication
from domain.jointform.aggregate import JointForm
from projections import integrity
from projections.runner import catch_up

from apihelpers import API, ok, post

SECRET = "线索：某学生家长与校外人员有纠纷，扬言报复（机密-ATTACK-2291）"
WRONG = "线索：无"
Client = Callable[[str], APIClient]


@pytest.fixture
def every_link_published(settings: Any) -> None:
    settings.CHECKPOINT_EVERY = 1


def police_writes_the_note(world: World, user: Client) -> str:
    school, station = user("hm_staff"), user("hm_officer")
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    form = str(post(school, "joint-forms/", body, 201)["id"])
    patch(school, form, {"task_force_lead": "李安全"})
    patch(station, form, {"sensitive_notes": SECRET})
    patch(school, form, {"guards_total": 3})
    patch(station, form, {"surrounding_order_hotspots": "校门口流动摊贩", "sensitive_notes": SECRET + "（补充）"})
    patch(school, form, {"guards_licensed": 3})
    return form


def patch(client: APIClient, form: str, body: dict[str, Any]) -> None:
    ok(client.patch(f"{API}joint-forms/{form}/", body, format="json"))


def gather(client: APIClient, form: str) -> dict[str, Any]:
    """Everything the education user can obtain about the form and the chain."""
    return {
        "form": ok(client.get(f"{API}joint-forms/{form}/")),
        "history": ok(client.get(f"{API}joint-forms/{form}/history/")),
        "checkpoints": ok(client.get(f"{API}audit/checkpoints/", {"limit": 1000}))["results"],
        "verify": ok(client.get(f"{API}audit/verify/")),
    }


def known_hashes(seen: dict[str, Any]) -> set[bytes]:
    hashes = {item["hash"] for item in seen["history"]} | {c["hash"] for c in seen["checkpoints"]}
    if seen["verify"]["head"]:
        hashes.add(seen["verify"]["head"]["hash"])
    return {integrity.GENESIS} | {bytes.fromhex(h) for h in hashes if h}


def rebuilt(app: SafetyApplication, form: str, item: dict[str, Any], changes: dict[str, Any]) -> Notification:
    """The stored bytes of the history item's event, had its changes been ``changes`` (the library's encoding)."""
    event = JointForm.FieldsUpdated(  # type: ignore[call-arg]
        originator_id=UUID(form),
        originator_version=item["version"],
        timestamp=datetime.fromisoformat(item["recorded_at"]).astimezone(UTC),
        party=item["data"]["party"],
        changes=changes,
        actor=item["actor"],
        occurred_at=datetime.fromisoformat(item["occurred_at"]).astimezone(UTC),
        attachments={},  # what every FieldsUpdated records since attachments exist (these carry none)
    )
    stored = app.mapper.to_stored_event(event)
    return Notification(id=0, originator_id=stored.originator_id, originator_version=stored.originator_version,
                        topic=stored.topic, state=stored.state)


def guesses(shown: dict[str, Any], guess: str) -> Iterator[dict[str, Any]]:
    """The shown changes with the guessed note put in, wherever it may have stood (with or without 补充)."""
    for note in (guess, guess + "（补充）"):
        for order in permutations([*shown, "sensitive_notes"]):
            yield {key: note if key == "sensitive_notes" else shown[key] for key in order}


def confirms(app: SafetyApplication, form: str, seen: dict[str, Any], guess: str) -> bool:
    """Does some rebuilt event carrying the guess chain from a known hash to the hash the history shows?"""
    previous = known_hashes(seen)
    for item in seen["history"]:
        if item["type"] != "fields_updated" or not item["hash"]:
            continue
        for changes in guesses(item["data"]["changes"], guess):
            candidate = integrity.canonical_bytes(rebuilt(app, form, item, changes))
            if any(integrity.hashlib.sha256(h + candidate).hexdigest() == item["hash"] for h in previous):
                return True
    return False


def test_an_education_user_cannot_confirm_a_guessed_police_note_from_any_hash_version_size_or_time(
    every_link_published: None, app: SafetyApplication, world: World, user: Client
) -> None:
    form = police_writes_the_note(world, user)
    attacker = user("tn_inspector")
    seen = gather(attacker, form)

    assert seen["verify"]["ok"]  # the chain over the ciphertext verifies without the key
    assert len(seen["checkpoints"]) == seen["verify"]["events_checked"]  # every link of the chain is known
    assert not confirms(app, form, seen, SECRET)
    assert not confirms(app, form, seen, WRONG)
    # Nothing the school sees moved for the police-only note: no version, no history item, no gap.
    assert seen["form"]["version"] == len(seen["history"]) == seen["history"][-1]["version"]
    assert [item["version"] for item in seen["history"]] == list(range(1, len(seen["history"]) + 1))
    assert SECRET not in str(seen)


def write_a_note_the_old_way(app: SafetyApplication, world: World, form: str, note: str) -> None:
    """The event the code before sealing recorded: the note in plaintext in the form's own FieldsUpdated."""
    joint = app.get_joint_form(UUID(form))
    joint._fields_updated(  # type: ignore[call-arg]
        party="police",
        changes={"surrounding_order_hotspots": "夜间有人翻越围墙", "sensitive_notes": note},
        actor="hm_officer",
        occurred_at=datetime.now(UTC),
        attachments={},  # required by the event since attachments exist; the note is what matters here
    )
    app.save(joint)
    catch_up(app)


def test_a_note_written_before_sealing_can_still_be_confirmed_as_the_readme_says(
    every_link_published: None, app: SafetyApplication, world: World, user: Client
) -> None:
    body = {"campaign": str(world.campaign), "school": str(world.units["hongmei_school"])}
    form = str(post(user("hm_staff"), "joint-forms/", body, 201)["id"])
    write_a_note_the_old_way(app, world, form, SECRET)

    seen = gather(user("tn_inspector"), form)

    assert SECRET not in str(seen)
    assert confirms(app, form, seen, SECRET) and not confirms(app, form, seen, WRONG)
