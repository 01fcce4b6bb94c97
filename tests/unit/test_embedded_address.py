"""Where the embedded server says it can be reached, which host names it answers to, and its keys file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from api.embedded import Address, allowed_hosts, base_url, parse_address
from api.keyfile import ensure_keys, read_keys


@pytest.mark.parametrize(("text", "address"), [
    ("8000", Address("127.0.0.1", 8000)),
    ("0.0.0.0:8000", Address("0.0.0.0", 8000)),
    ("192.168.1.5:8080", Address("192.168.1.5", 8080)),
    ("[::]:8000", Address("::", 8000)),
])
def test_an_address_is_host_and_port_or_a_port_alone(text: str, address: Address) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["0.0.0.0", "host:", "host:http", "0.0.0.0:70000"])
def test_a_malformed_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an address"):
        parse_address(text)


def test_bound_to_every_interface_it_prints_the_lan_address_phones_can_reach() -> None:
    assert base_url(Address("0.0.0.0", 8000), ["192.168.1.23", "10.0.0.7"]) == "http://192.168.1.23:8000"


def test_bound_to_one_address_it_prints_that_address() -> None:
    assert base_url(Address("127.0.0.1", 8000), ["192.168.1.23"]) == "http://127.0.0.1:8000"
    assert base_url(Address("192.168.1.23", 9000), ["192.168.1.23"]) == "http://192.168.1.23:9000"


def test_without_a_lan_every_interface_falls_back_to_loopback() -> None:
    assert base_url(Address("0.0.0.0", 8000), []) == "http://127.0.0.1:8000"


def test_it_answers_to_localhost_the_bind_address_and_on_every_interface_each_lan_address() -> None:
    assert set(allowed_hosts(Address("127.0.0.1", 8000), ["192.168.1.23"])) == {"127.0.0.1", "localhost", "[::1]"}
    assert "192.168.1.23" in allowed_hosts(Address("192.168.1.23", 8000), [])
    every = allowed_hosts(Address("0.0.0.0", 8000), ["192.168.1.23", "10.0.0.7"])
    assert {"127.0.0.1", "localhost", "192.168.1.23", "10.0.0.7"} <= set(every)


def test_keys_are_generated_once_kept_private_and_completed_when_one_is_missing(tmp_path: Path) -> None:
    keys_file = tmp_path / "var" / "keys.json"

    assert ensure_keys(keys_file) == ["DJANGO_SECRET_KEY", "INTEGRITY_SIGNING_KEY", "POLICE_CONTENT_KEY"]
    first = read_keys(keys_file)
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert ensure_keys(keys_file) == [] and read_keys(keys_file) == first

    keys_file.write_text(json.dumps({"INTEGRITY_SIGNING_KEY": first["INTEGRITY_SIGNING_KEY"]}))
    keys_file.chmod(0o644)
    assert ensure_keys(keys_file) == ["DJANGO_SECRET_KEY", "POLICE_CONTENT_KEY"]
    assert read_keys(keys_file)["INTEGRITY_SIGNING_KEY"] == first["INTEGRITY_SIGNING_KEY"]
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
