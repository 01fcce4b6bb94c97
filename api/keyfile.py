"""The embedded server's own secrets: generated once into ``var/keys.json`` (mode 0600), read by the settings.

Imported by ``api/settings.py`` before Django is configured, so it uses nothing of Django.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

KEYS_FILE_NAME = "keys.json"

# What a fresh installation generates: the setting's name → a new random value.
GENERATORS: dict[str, Callable[[], str]] = {
    "DJANGO_SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "INTEGRITY_SIGNING_KEY": lambda: secrets.token_hex(32),  # Ed25519 seed, 32 bytes hex
    "POLICE_CONTENT_KEY": lambda: secrets.token_hex(32),  # AES-256-GCM key, 32 bytes hex
}


def read_keys(path: Path) -> dict[str, str]:
    """The stored keys, or none when the file does not exist (yet)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {name: value for name, value in stored.items() if name in GENERATORS and isinstance(value, str)}


def ensure_keys(path: Path) -> list[str]:
    """Generate whichever keys the file lacks (all of them on first start); returns the names generated.

    Keys already stored are never replaced: the signing key must keep verifying the checkpoints it signed.
    """
    stored = read_keys(path)
    missing = [name for name in GENERATORS if not stored.get(name)]
    if missing:
        _write_private(path, {**stored, **{name: GENERATORS[name]() for name in missing}})
    else:
        os.chmod(path, 0o600)  # a copy restored from a backup may have come back readable by others
    return missing


def store_key(path: Path, name: str, value: str) -> None:
    """Replace one stored key (``manage.py rotate_signing_key``), keeping the others."""
    _write_private(path, {**read_keys(path), name: value})


def _write_private(path: Path, keys: dict[str, str]) -> None:
    """Write the whole file readable by its owner only, atomically (never half a file, never a moment at 0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(keys, file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.chmod(temporary, 0o600)  # O_CREAT's mode is masked by the umask; the file must be 0600 whatever it is
    os.replace(temporary, path)
