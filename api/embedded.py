"""The embedded server's environment (`manage.py serve`): its address, DEBUG, host names and keys.

``manage.py`` calls :func:`prepare_environment` before Django reads the settings, so that the settings see
DEBUG off, the host names of the bind address and the keys generated into ``var/keys.json``. Nothing here may
import Django's settings.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from api.keyfile import KEYS_FILE_NAME, ensure_keys

DEFAULT_ADDRESS = "127.0.0.1:8000"
WILDCARD_HOSTS = ("0.0.0.0", "::")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Set by prepare_environment to the address it prepared for; `serve` refuses to run without it.
PREPARED_FOR = "SAFETY_SERVE_PREPARED_FOR"


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @property
    def bind(self) -> str:
        return f"{_bracketed(self.host)}:{self.port}"

    @property
    def is_wildcard(self) -> bool:
        return self.host in WILDCARD_HOSTS


def parse_address(text: str) -> Address:
    """``8000``, ``0.0.0.0:8000``, ``192.168.1.5:8000``, ``localhost:8000`` or ``[::]:8000``."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not an address: {text!r} (expected [host:]port, e.g. 0.0.0.0:8000)")
    return Address(host, int(port))


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, the one its default route uses first."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP connect only chooses the route: nothing is sent
            found.append(probe.getsockname()[0])
        except OSError:
            pass  # no route: no LAN
    try:
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    usable = [a for a in found if not (ipaddress.ip_address(a).is_loopback or ipaddress.ip_address(a).is_unspecified)]
    return list(dict.fromkeys(usable))


def reachable_host(address: Address, lan: Sequence[str]) -> str:
    """The host to print: the machine's LAN address when bound to every interface, else the bind address."""
    if address.is_wildcard:
        return lan[0] if lan else "127.0.0.1"
    return address.host


def base_url(address: Address, lan: Sequence[str]) -> str:
    return f"http://{_bracketed(reachable_host(address, lan))}:{address.port}"


def allowed_hosts(address: Address, lan: Sequence[str]) -> list[str]:
    """localhost, the bind address, and when bound to every interface each LAN address and the host name."""
    hosts = [*LOCAL_HOSTS, *([*lan, socket.gethostname()] if address.is_wildcard else [_bracketed(address.host)])]
    return list(dict.fromkeys(hosts))


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `serve` that decide its environment (shared with the command's own parser)."""
    parser.add_argument("addrport", nargs="?", default=DEFAULT_ADDRESS, help="[host:]port, e.g. 0.0.0.0:8000")
    parser.add_argument("--debug", action="store_true", help="DEBUG on (tracebacks in pages): development only")


def server_environment(address: Address, *, debug: bool, lan: Sequence[str]) -> dict[str, str]:
    """The variables the embedded server runs with; those the user set keep their value (except DEBUG: asked)."""
    return {
        "DJANGO_DEBUG": "1" if debug or os.environ.get("DJANGO_DEBUG") == "1" else "0",
        "DJANGO_ALLOWED_HOSTS": os.environ.get("DJANGO_ALLOWED_HOSTS") or ",".join(allowed_hosts(address, lan)),
        "DJANGO_HTTPS": os.environ.get("DJANGO_HTTPS", "0"),  # plain HTTP on the LAN: no Secure cookies
        PREPARED_FOR: address.bind,
    }


def var_dir() -> Path:
    """Where embedded mode keeps its files (the settings' VAR_DIR)."""
    return Path(os.environ.get("SAFETY_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def prepare_environment(argv: Sequence[str]) -> None:
    """Before the settings are read: the server's variables, and its keys generated on first start."""
    parser = argparse.ArgumentParser(add_help=False)
    add_server_arguments(parser)
    options, _ = parser.parse_known_args(argv)
    try:
        address = parse_address(options.addrport)
    except ValueError:
        return  # `serve` itself reports the bad address
    os.environ.update(server_environment(address, debug=options.debug, lan=lan_addresses()))
    ensure_keys(var_dir() / KEYS_FILE_NAME)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
