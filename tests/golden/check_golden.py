"""Open a copy of a golden installation with TODAY's code and print its state as JSON (``expected.json``'s shape).

    SAFETY_VAR_DIR=/tmp/copy-of-951acbf .venv/bin/python tests/golden/check_golden.py

Run from the repository's root on a copy (it migrates and rebuilds in place): in embedded mode (no DATABASE_URL)
on a copy of its SQLite file, or with DATABASE_URL naming a database its PostgreSQL dump was restored into
(``manage.py restore``), SAFETY_VAR_DIR then holding only its ``keys.json``. The keys come from the
installation's own ``keys.json``, as the settings read them. It runs
``manage.py migrate``, then takes the state as the installation opens ("opened": every aggregate loaded from the
log at its version, the read models as the old release left them and migrated), then ``rebuild_projections`` and
the state again ("rebuilt"); each state includes ``verify_integrity --json``'s verdict and chain head.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main() -> None:
    if not os.environ.get("SAFETY_VAR_DIR"):
        sys.exit("set SAFETY_VAR_DIR to a copy of a golden installation (and DATABASE_URL to its restored dump's)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    sys.path[:0] = [str(ROOT), str(HERE)]

    import django

    django.setup()
    import state
    from django.core.management import call_command

    call_command("migrate", verbosity=0, stdout=io.StringIO())
    opened = state.installation_state(state.get_application())
    call_command("rebuild_projections", "--workers", "1", verbosity=0, stdout=io.StringIO(), stderr=io.StringIO())
    rebuilt = state.installation_state(state.get_application())
    print(json.dumps({"opened": opened, "rebuilt": rebuilt}, ensure_ascii=False))


if __name__ == "__main__":
    main()
