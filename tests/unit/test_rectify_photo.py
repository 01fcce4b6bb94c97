"""整改完成须附照片: with the rule on (the default of an installation), rectify needs at least one photo of the
result; a PDF alone is not one; 立行立改 keeps photos optional. Off, rectify without a photo is recorded."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from domain.application import SafetyApplication
from domain.attachments import AttachmentRef
from domain.errors import PhotoRequired
from domain.hazard.aggregate import Status
from tests.unit.conftest import Clock, World, build_world


def ref(content_type: str) -> AttachmentRef:
    return AttachmentRef(id=uuid4(), sha256="a" * 64, sha256_original="b" * 64, size=123, content_type=content_type)


@pytest.fixture
def strict(make_app: Callable[..., SafetyApplication], clock: Clock) -> World:
    return build_world(make_app(rectify_requires_photo=True), clock)


def test_the_rule_is_on_unless_the_installation_relaxes_it() -> None:
    assert SafetyApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).rectify_requires_photo is True


@pytest.mark.parametrize("attachments", [(), (ref("application/pdf"),)], ids=["none", "pdf-only"])
def test_rectify_without_a_photo_is_refused(strict: World, attachments: tuple[AttachmentRef, ...]) -> None:
    hazard_id = strict.assigned()
    with pytest.raises(PhotoRequired) as refused:
        strict.app.rectify_hazard(hazard_id, actor=strict.staff, note="杂物已清理", attachments=attachments)
    assert refused.value.code == "photo_required" and refused.value.context["field"] == "attachments"
    assert strict.event_names(hazard_id)[-1] == "Assigned"


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/webp"])
def test_rectify_with_a_photo_records_its_reference(strict: World, content_type: str) -> None:
    hazard_id = strict.assigned()
    photo, pdf = ref(content_type), ref("application/pdf")
    hazard = strict.app.rectify_hazard(hazard_id, actor=strict.staff, note="杂物已清理", attachments=[pdf, photo])
    assert hazard.status is Status.RECTIFIED
    last = strict.app.hazard_events(hazard_id)[-1]
    assert tuple(last.attachments) == (pdf, photo)  # type: ignore[attr-defined]


def test_rectified_on_the_spot_needs_no_photo(strict: World) -> None:
    hazard = strict.discover(rectified_on_spot=True)
    assert hazard.status is Status.CLOSED and hazard.attachments == []


def test_relaxed_installation_rectifies_without_a_photo(world: World) -> None:
    hazard_id = world.assigned()
    hazard = world.app.rectify_hazard(hazard_id, actor=world.staff, note="杂物已清理")
    assert hazard.status is Status.RECTIFIED
