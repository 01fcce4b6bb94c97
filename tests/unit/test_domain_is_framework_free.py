"""domain/ imports only the standard library, eventsourcing and itself (STYLE: do/don't 1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = {"django", "rest_framework", "kafka", "weasyprint", "psycopg", "psycopg2", "openpyxl"}
ALLOWED = set(sys.stdlib_module_names) | {"eventsourcing", "domain", "__future__"}
SOURCES = sorted(DOMAIN.rglob("*.py"))


def _imported_roots(source: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_package_is_found() -> None:
    assert DOMAIN / "hazard" / "aggregate.py" in SOURCES
    assert len(SOURCES) >= 10


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: str(path.relative_to(DOMAIN)))
def test_domain_module_imports_no_framework(source: Path) -> None:
    roots = _imported_roots(source)

    assert not roots & FORBIDDEN
    assert roots <= ALLOWED, f"unexpected imports: {sorted(roots - ALLOWED)}"
