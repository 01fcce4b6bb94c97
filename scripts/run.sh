#!/usr/bin/env bash
# THE run command (README): bash scripts/run.sh [host:port] [--debug] [--threads N] [--no-demo]
# Sets up .venv if needed (gunicorn and WhiteNoise are main dependencies), then runs the project's `serve`
# command: migrate, demo data on first start, URLs and logins, gunicorn on 127.0.0.1:8000 (0.0.0.0:8000 for
# the LAN) with DEBUG off and the keys it generated into var/keys.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
ensure_venv

exec .venv/bin/python manage.py serve "$@"
