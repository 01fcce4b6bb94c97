#!/usr/bin/env bash
# THE test command (README): bash scripts/test.sh [pytest args...]
#
# Runs the suite twice: embedded mode (SQLite, no DATABASE_URL), then against a real throwaway
# PostgreSQL 15 started by scripts/pg.sh (always stopped on exit). Extra args go to pytest.
# Exit status: non-zero if either run fails (both runs always happen, unless interrupted).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --- system packages the suite needs (installed with apt-get only when missing) ----------------------
# PostgreSQL server binaries are handled by scripts/pg.sh. Add packages here as features need them,
# e.g. poppler-utils fonts-wqy-zenhei chromium chromium-driver.
APT_PACKAGES=(chromium fonts-wqy-zenhei poppler-utils)

apt_missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || apt_missing+=("$pkg")
done
if [ "${#apt_missing[@]}" -gt 0 ]; then
    echo "-- installing system packages: ${apt_missing[*]}" >&2
    [ "$(id -u)" = 0 ] || { echo "test.sh: need root to apt-get install ${apt_missing[*]}" >&2; exit 1; }
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${apt_missing[@]}" >&2
fi

# --- Python environment --------------------------------------------------------------------------------
# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
ensure_venv

# --- throwaway PostgreSQL, always stopped on exit ------------------------------------------------------
PG_DIR=$(mktemp -d /tmp/safety-test-pg.XXXXXX)
# shellcheck disable=SC2317,SC2329  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -f "$PG_DIR/data/PG_VERSION" ]; then
        bash scripts/pg.sh stop "$PG_DIR" 2>/dev/null || echo "test.sh: could not stop PostgreSQL in $PG_DIR" >&2
    fi
    rm -rf "$PG_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

pg_env=$(bash scripts/pg.sh start "$PG_DIR")
PG_URL=${pg_env#DATABASE_URL=}

# --- lint: ruff on the tree, mypy (strict) on domain/, the layering's import contracts (pyproject) -----
rc_lint=0
echo "== lint (ruff, mypy, import contracts) =="
{ .venv/bin/ruff check . && .venv/bin/mypy && PYTHONPATH=. .venv/bin/lint-imports --no-cache; } || rc_lint=$?

# --- the two runs ---------------------------------------------------------------------------------------
rc_embedded=0
rc_postgres=0

echo "== embedded (SQLite) =="
# Kafka and PostgreSQL-only tests (markers `kafka`, `postgres`) belong to production mode: the second run.
env -u DATABASE_URL .venv/bin/python -m pytest -m "not kafka and not postgres" "$@" || rc_embedded=$?

echo "== PostgreSQL (+ a real Kafka 0.9 broker for the kafka tests, started by the suite) =="
DATABASE_URL="$PG_URL" .venv/bin/python -m pytest "$@" || rc_postgres=$?

echo "== result: lint exit $rc_lint, embedded (SQLite) exit $rc_embedded, PostgreSQL exit $rc_postgres =="
if [ "$rc_embedded" -ne 0 ]; then exit "$rc_embedded"; fi
if [ "$rc_postgres" -ne 0 ]; then exit "$rc_postgres"; fi
exit "$rc_lint"
