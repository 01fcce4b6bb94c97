"""Validate docker-compose.yml without a Docker engine (RECIPES): the compose schema, then what it cannot see —
every ``depends_on`` names a service, every ``manage.py`` command exists, every gunicorn app imports.

    .venv/bin/python scripts/check_compose.py [docker-compose.yml]     # exit 0 = valid, 1 = problems listed
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def problems(compose: dict[str, Any]) -> list[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import get_commands

    commands = set(get_commands())
    services = compose.get("services") or {}
    found = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        for dependency in depends if isinstance(depends, list | dict) else []:
            if dependency not in services:
                found.append(f"{name}: depends_on names no service: {dependency}")
        command = service.get("command")
        if isinstance(command, str):
            command = command.split()
        if command and "manage.py" in command:
            sub = command[command.index("manage.py") + 1] if len(command) > command.index("manage.py") + 1 else ""
            if sub not in commands:
                found.append(f"{name}: manage.py has no command {sub!r}")
            if sub == "consume":
                group = command[command.index("consume") + 1]
                from api.management.commands.consume import GROUPS

                if group not in GROUPS:
                    found.append(f"{name}: no consumer group {group!r}")
        if command and command[0] == "gunicorn":
            module, _, attr = command[1].partition(":")
            if not hasattr(importlib.import_module(module), attr or "application"):
                found.append(f"{name}: gunicorn app {command[1]} not found")
        if "image" not in service and "build" not in service:
            found.append(f"{name}: neither image nor build")
        if service.get("build") and not (ROOT / service["build"] / "Dockerfile").exists():
            found.append(f"{name}: build context has no Dockerfile")
    return found


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else ROOT / "docker-compose.yml"
    schema = subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )
    found = [] if schema.returncode == 0 else [f"schema: {schema.stdout.strip()} {schema.stderr.strip()}"]
    found += problems(yaml.safe_load(path.read_text()))
    for problem in found:
        print(f"docker-compose.yml: {problem}", file=sys.stderr)
    if not found:
        print(f"{path.name}: valid (schema, depends_on, commands)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
