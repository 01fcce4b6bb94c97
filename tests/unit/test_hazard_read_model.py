"""The hazard read model lives in one place (issue 15 point 5): its tables, the one projector that writes them, a
handler per hazard event class registered on that projector, and no other code writing hazard rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain.hazard.aggregate import Hazard
from projections.base import event_classes
from projections.hazard.projector import HazardProjector
from projections.hazard.projector import projector as hazard_projector
from projections.hazard.rows import HazardLedger, HazardVersion
from projections.rebuild import HAZARD_PROJECTORS, OTHER_PROJECTORS
from projections.runner import PROJECTORS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "projections" / "hazard"
HAZARD_ROWS = {HazardLedger, HazardVersion}
# A write to a hazard table: through the ORM, or through the bulk helpers the projector uses.
WRITE = re.compile(
    r"\b(HazardLedger|HazardVersion)\.objects\b[^\n]*\.(update|create|delete|bulk_create|bulk_update|"
    r"update_or_create|get_or_create)\(|\bbulk\.(insert|upsert|update|inserting)\(\s*(HazardLedger|HazardVersion)\b"
)
WRITER = PACKAGE / "projector.py"
SCANNED = [
    path
    for folder in ("projections", "api", "reports", "consumers", "domain", "scripts", "ops")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if "migrations" not in path.parts
]


def test_exactly_one_projector_writes_the_hazard_rows_and_it_is_the_hazard_projector() -> None:
    every = {*PROJECTORS, *HAZARD_PROJECTORS, *OTHER_PROJECTORS}
    writers = [p for p in every if HAZARD_ROWS & set(p.models)]

    assert writers == [hazard_projector]
    assert isinstance(hazard_projector, HazardProjector) and set(hazard_projector.models) == HAZARD_ROWS


@pytest.mark.parametrize("cls", event_classes(Hazard), ids=lambda cls: cls.__name__)
def test_each_hazard_event_class_is_handled_once_in_the_hazard_module(cls: type) -> None:
    """Handled (or explicitly ignored) by the hazard projector, its handler defined beside it; no other projector
    writing hazard rows could handle it a second way."""
    handlers = hazard_projector.handlers
    assert cls in handlers.handlers or cls in handlers.ignored, f"Hazard.{cls.__name__}: no handler, not ignored"
    handler = handlers.handlers.get(cls)
    if handler is not None:
        assert handler.__module__ == "projections.hazard.projector"


def test_the_hazard_tables_are_defined_in_the_hazard_package() -> None:
    assert {model.__module__ for model in HAZARD_ROWS} == {"projections.hazard.rows"}
    assert not [p.name for p in (ROOT / "projections").glob("*.py") if p.stem in ("ledger", "history", "hazards")]


def test_no_code_but_the_hazard_projector_writes_the_hazard_tables() -> None:
    writers = sorted(str(path.relative_to(ROOT)) for path in SCANNED if WRITE.search(path.read_text(encoding="utf-8")))

    assert writers == [str(WRITER.relative_to(ROOT))]


@pytest.mark.parametrize("source", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_each_module_of_the_hazard_read_model_is_at_most_300_lines(source: Path) -> None:
    lines = len(source.read_text(encoding="utf-8").splitlines())

    assert lines <= 300, f"projections/hazard/{source.name} has {lines} lines"
