#!/usr/bin/env bash
# Throwaway PostgreSQL 15 server for tests and local runs.
#
#   scripts/pg.sh start <dir>   initdb + start a private server under <dir>, create role/db `safety`;
#                               prints one line on stdout: DATABASE_URL=postgresql://safety:safety@127.0.0.1:<port>/safety
#                               (also written to <dir>/env; the server pid goes to <dir>/pid)
#   scripts/pg.sh stop <dir>    fast shutdown of that server (only that one)
#
# Layout under <dir>: data/ (PGDATA), sock/ (unix socket), server.log, initdb.log, env, pid.
# Environment:
#   PG_DURABLE=1   keep fsync and synchronous_commit on (benchmarks); default is off (tests)
#   PG_BINDIR      server binaries (default /usr/lib/postgresql/15/bin; installed with apt-get if missing)
#
# On root (these machines) initdb/pg_ctl run as the `postgres` user via runuser, since initdb refuses root.
set -euo pipefail

PG_MAJOR=15
FIRST_PORT=55432
PORT_TRIES=50
APP_ROLE=safety
APP_PASSWORD=safety
APP_DB=safety

die() { echo "pg.sh: $*" >&2; exit 1; }
note() { echo "pg.sh: $*" >&2; }
usage() { echo "usage: $0 start|stop <dir>" >&2; exit 2; }

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the postgres user when we are root; as ourselves otherwise.
as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/pg_ctl" ] && echo "$PG_BINDIR"
        return 0
    fi
    if [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/initdb" ] && [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/pg_ctl" ]; then
        echo "/usr/lib/postgresql/$PG_MAJOR/bin"
    fi
}

ensure_server_binaries() {
    BINDIR=$(find_bindir)
    if [ -n "$BINDIR" ]; then
        return 0
    fi
    [ -z "${PG_BINDIR:-}" ] || die "PG_BINDIR=$PG_BINDIR has no initdb/pg_ctl"
    is_root || die "PostgreSQL $PG_MAJOR server binaries are missing and installing them needs root (apt-get install postgresql)"
    note "PostgreSQL server binaries missing: apt-get install postgresql"
    {
        apt-get update &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
    } >&2 || die "apt-get install postgresql failed"
    BINDIR=$(find_bindir)
    [ -n "$BINDIR" ] || die "apt-get installed postgresql but /usr/lib/postgresql/$PG_MAJOR/bin/{initdb,pg_ctl} are still missing"
}

# Port is free when we can bind it on loopback (the retry loop in start() covers the remaining race).
port_is_free() {
    if ! command -v python3 >/dev/null 2>&1; then
        # fallback: free when nothing answers on it
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
        return 0
    fi
    python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

resolve_dir() {
    local dir=$1
    [ -n "$dir" ] || usage
    case "$dir" in
        *[[:space:]\'\"\\]*) die "directory path must not contain spaces, quotes or backslashes: $dir" ;;
    esac
    if [ "${2:-}" = create ]; then
        mkdir -p "$dir" || die "cannot create $dir"
    fi
    [ -d "$dir" ] || die "no such directory: $dir"
    (cd "$dir" && pwd -P)
}

# globals: the EXIT trap of cmd_start reads them after the function may have returned
BINDIR=""
data=""
started=0

# EXIT trap of cmd_start
# shellcheck disable=SC2317,SC2329
stop_if_failed() {
    local rc=$?
    if [ "$rc" != 0 ] && [ "$started" = 1 ]; then
        as_pg "$BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}

cmd_start() {
    local dir sock log port opts url pid i out before

    dir=$(resolve_dir "${1:-}" create) || exit 1
    data="$dir/data"
    sock="$dir/sock"
    log="$dir/server.log"

    ensure_server_binaries

    if [ -f "$data/postmaster.pid" ] && as_pg "$BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        die "a server is already running from $data (scripts/pg.sh stop $dir)"
    fi
    if [ -e "$data" ] && [ -n "$(ls -A "$data" 2>/dev/null)" ]; then
        die "$data already exists and is not empty: use a fresh directory"
    fi

    # unix socket paths are limited to 107 bytes
    [ "${#sock}" -le 85 ] || die "directory path too long for a unix socket: $sock"

    # If anything below fails after the server came up, do not leave it running.
    trap stop_if_failed EXIT

    mkdir -p "$data" "$sock"
    : >"$log"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user on this machine (is the postgresql package installed?)"
        # The postgres user must be able to traverse <dir> (mktemp -d makes 0700 root folders).
        chmod go+x "$dir"
        chown postgres: "$data" "$sock" "$log"
        runuser -u postgres -- test -w "$data" ||
            die "the postgres user cannot reach $data: make every parent of $dir enterable (chmod o+x)"
    fi
    chmod 700 "$data"
    chmod 755 "$sock"

    if ! as_pg "$BINDIR/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed (log: $dir/initdb.log)"
    fi

    opts="-c listen_addresses=127.0.0.1 -k $sock"
    if [ "${PG_DURABLE:-0}" != 1 ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off"
    fi

    port=$FIRST_PORT
    for ((i = 0; i < PORT_TRIES; i++, port++)); do
        port_is_free "$port" || continue
        before=$(wc -l <"$log")
        if out=$(as_pg "$BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "$opts -p $port" start 2>&1); then
            started=1
            break
        fi
        # Lost a race for the port: try the next one. Anything else is fatal.
        if tail -n +"$((before + 1))" "$log" | grep -qE 'could not bind|could not create any TCP/IP sockets|Address already in use'; then
            note "port $port taken meanwhile, trying the next one"
            continue
        fi
        echo "$out" >&2
        tail -n 30 "$log" >&2
        die "PostgreSQL failed to start (log: $log)"
    done
    [ "$started" = 1 ] || die "no free loopback port in $FIRST_PORT..$((FIRST_PORT + PORT_TRIES - 1))"

    "$BINDIR/pg_isready" -q -h "$sock" -p "$port" -t 30 || die "server started but is not accepting connections (log: $log)"

    pid=$(head -n 1 "$data/postmaster.pid") || die "cannot read $data/postmaster.pid"
    echo "$pid" >"$dir/pid"

    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres >/dev/null <<SQL ||
CREATE ROLE $APP_ROLE LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
CREATE DATABASE $APP_DB OWNER $APP_ROLE;
SQL
        die "creating role/database '$APP_ROLE' failed"

    url="postgresql://$APP_ROLE:$APP_PASSWORD@127.0.0.1:$port/$APP_DB"
    echo "DATABASE_URL=$url" >"$dir/env"
    echo "DATABASE_URL=$url"
}

cmd_stop() {
    local dir
    dir=$(resolve_dir "${1:-}") || exit 1
    data="$dir/data"
    [ -f "$data/PG_VERSION" ] || die "no PostgreSQL data directory at $data"
    BINDIR=$(find_bindir)
    [ -n "$BINDIR" ] || die "PostgreSQL server binaries not found"
    if [ ! -f "$data/postmaster.pid" ]; then
        note "server in $data is not running"
        rm -f "$dir/pid"
        return 0
    fi
    as_pg "$BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null ||
        die "pg_ctl stop failed for $data (log: $dir/server.log)"
    rm -f "$dir/pid"
}

case "${1:-}" in
    start) shift; [ $# -eq 1 ] || usage; cmd_start "$1" ;;
    stop) shift; [ $# -eq 1 ] || usage; cmd_stop "$1" ;;
    *) usage ;;
esac
