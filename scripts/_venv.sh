# shellcheck shell=bash
# Shared venv setup, sourced by scripts/test.sh and scripts/run.sh (working directory = repo root).
#
# ensure_venv: creates .venv with `python3 -m venv` if it is absent (or unusable), and runs
# `pip install -e '.[dev]'` when the venv is new or pyproject.toml changed since the last successful
# install (a hash of it is kept in .venv/.pyproject.sha256), so repeated runs cost nothing.

ensure_venv() {
    local stamp=.venv/.pyproject.sha256 want
    if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c '' >/dev/null 2>&1; then
        echo "-- creating .venv (python3 -m venv)" >&2
        python3 -m venv --clear .venv
    fi
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "-- installing the project into .venv (pip install -e '.[dev]')" >&2
        # -q: no progress chatter; errors (and pip's warnings) still show.
        .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
        echo "$want" >"$stamp"
    fi
}
