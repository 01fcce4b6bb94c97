"""docker-compose.yml is validated without a Docker engine: schema, depends_on, real management commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECK = [sys.executable, str(ROOT / "scripts" / "check_compose.py")]


def test_the_compose_file_is_valid_and_runs_every_part_of_production_mode():
    result = subprocess.run([*CHECK, str(ROOT / "docker-compose.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    commands = {name: " ".join(s.get("command", [])) for name, s in services.items()}
    assert "gunicorn api.wsgi:application" in commands["api"]
    workers = ("relay", "consume notifications", "consume police-mirror", "watch_deadlines")
    for expected in workers:
        assert any(c.endswith(f"manage.py {expected}") for c in commands.values()), expected
    # the read models a command's answer shows are the API's own transaction: no group projects them
    assert not any("consume projections" in c for c in commands.values())
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    for name, service in services.items():
        assert service.get("healthcheck") or service.get("restart") == "no", f"{name} has no healthcheck"
        assert service.get("restart"), f"{name} has no restart policy"
    env = services["api"]["environment"]
    assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PREFIX"} <= set(env)


def test_a_broken_compose_file_is_refused_with_its_problems_named(tmp_path: Path):
    text = (ROOT / "docker-compose.yml").read_text()
    broken = text.replace('"manage.py", "relay"', '"manage.py", "relai"')
    broken = broken.replace('"consume", "notifications"', '"consume", "projections"')  # the group that went away
    broken = broken.replace(
        "    kafka:\n      condition: service_healthy", "    kafak:\n      condition: service_healthy"
    )
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken)
    result = subprocess.run([*CHECK, str(path)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "relay: manage.py has no command 'relai'" in result.stderr
    assert "depends_on names no service: kafak" in result.stderr
    assert "consume-notifications: no consumer group 'projections'" in result.stderr
