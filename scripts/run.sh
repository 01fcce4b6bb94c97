#!/usr/bin/env bash
# THE run command (README): bash scripts/run.sh [args for `manage.py serve`...]
# Sets up .venv if needed, then runs the project's `serve` command (migrate, demo data on first start,
# URLs and logins, server on 127.0.0.1:8000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
ensure_venv

exec .venv/bin/python manage.py serve "$@"
