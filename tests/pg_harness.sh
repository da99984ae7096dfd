#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL server on loopback:
#
#     tests/pg_harness.sh .venv/bin/python -m pytest
#
# Finds initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin; when they are missing and we are
# root, installs Debian's `postgresql` package (without letting it create or start its own
# cluster).  Creates a cluster in a temporary directory, starts it on 127.0.0.1 at a free port with
# a random password, exports AFTERSALES_TEST_DATABASE_URL (and AFTERSALES_REQUIRE_POSTGRES=1, so the
# PostgreSQL tests fail instead of skipping if the URL is somehow lost), runs the command, then stops
# the server and removes the directory on any exit (success, failure or signal).  Exits with the
# command's exit code.
#
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
# If AFTERSALES_TEST_DATABASE_URL is already set, no server is started and the command runs as is.
set -euo pipefail

say() { echo "pg_harness: $*" >&2; }

if [ "$#" -eq 0 ]; then
    say "usage: $0 COMMAND [ARGS...]"
    exit 2
fi

if [ -n "${AFTERSALES_TEST_DATABASE_URL:-}" ]; then
    say "AFTERSALES_TEST_DATABASE_URL is set already; using that server"
    export AFTERSALES_REQUIRE_POSTGRES=1
    exec "$@"
fi

find_bindir() {
    local d
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

if ! BINDIR=$(find_bindir) || [ -n "${AFTERSALES_PG_FORCE_INSTALL:-}" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "PostgreSQL (initdb, pg_ctl) not found and not root, cannot install it."
        say "Install Debian's 'postgresql' package, or set AFTERSALES_TEST_DATABASE_URL."
        exit 1
    fi
    say "installing PostgreSQL from Debian's packages"
    # The package would create and start a 'main' cluster on port 5432: we want neither.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/aftersales-no-main.conf
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >/dev/null
    BINDIR=$(find_bindir) || { say "postgresql installed but initdb/pg_ctl not found"; exit 1; }
fi
say "using $("$BINDIR/postgres" --version) from $BINDIR"

# As root, everything server-side runs as the postgres user (created if the package did not).
AS=()
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    AS=(runuser -u postgres --)
fi

# As root the directory must be reachable by the postgres user: /tmp, not a private $TMPDIR.
if [ "${#AS[@]}" -gt 0 ]; then TMPBASE=/tmp; else TMPBASE=${TMPDIR:-/tmp}; fi
BASE=$(mktemp -d "$TMPBASE/aftersales-pg.XXXXXX")
DATA="$BASE/data"
PORT=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -f "$DATA/postmaster.pid" ]; then
        if ! "${AS[@]}" "$BINDIR/pg_ctl" -D "$DATA" -m fast -t 30 -w stop >/dev/null 2>&1; then
            say "pg_ctl stop failed; killing the server"
            local pid
            pid=$(head -1 "$DATA/postmaster.pid" 2>/dev/null || true)
            [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
            sleep 0.5
        fi
    fi
    rm -rf "$BASE"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$PASSWORD" > "$BASE/pwfile"
if [ "${#AS[@]}" -gt 0 ]; then chown -R postgres: "$BASE"; fi
chmod 600 "$BASE/pwfile"

"${AS[@]}" "$BINDIR/initdb" -D "$DATA" -U postgres --pwfile="$BASE/pwfile" \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
    >"$BASE/initdb.log" 2>&1 || { say "initdb failed:"; cat "$BASE/initdb.log" >&2; exit 1; }
rm -f "$BASE/pwfile"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=""
for _ in 1 2 3 4 5; do
    PORT=$(( 30000 + RANDOM % 2768 ))   # servers of the tests: 30000–32767 (client ports start at 32768)
    port_in_use "$PORT" && continue
    if "${AS[@]}" "$BINDIR/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='$BASE'" \
        start >/dev/null 2>&1; then
        started=1
        break
    fi
    say "server did not start on port $PORT; trying another"
done
if [ -z "$started" ]; then
    say "could not start PostgreSQL:"
    tail -n 30 "$BASE/server.log" >&2 || true
    exit 1
fi

export PGPASSWORD="$PASSWORD"
"$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres aftersales_test
unset PGPASSWORD

export AFTERSALES_TEST_DATABASE_URL="postgresql://postgres:$PASSWORD@127.0.0.1:$PORT/aftersales_test"
export AFTERSALES_REQUIRE_POSTGRES=1
say "PostgreSQL running on 127.0.0.1:$PORT (data in $BASE)"

rc=0
"$@" || rc=$?
say "stopping PostgreSQL (command exited $rc)"
exit "$rc"
