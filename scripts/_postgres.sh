# Sourced by scripts/test.sh: a throwaway PostgreSQL server for the PostgresStore tests.
#
# `start_postgres` installs Debian's postgresql when it is missing (as root),
# makes a data folder in a temporary directory, runs initdb and pg_ctl (as
# the postgres user when root: they refuse to run as root), listens on a free
# loopback port with durability off (fsync, synchronous_commit and
# full_page_writes: the tests measure behaviour, not disks), trusts
# 127.0.0.1, creates a database and exports SOFRITO_TEST_POSTGRES. A trap
# stops the server and removes the folder when the shell exits, tests failing
# or not. `stop_postgres` does the same by hand.
#
# Use it on its own too, for development:
#   source scripts/_postgres.sh && start_postgres && echo "$SOFRITO_TEST_POSTGRES"

_pg_bin() {
    # The newest installed server's binaries: /usr/lib/postgresql/<major>/bin.
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$found" ] && [ -x "$(command -v pg_ctl 2>/dev/null)" ]; then
        found="$(dirname "$(command -v pg_ctl)")"
    fi
    echo "$found"
}

_pg_as_owner() {
    # Run a server command as the data folder's owner: postgres when we are root.
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pg_free_port() {
    "${PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_postgres() {
    local bin
    bin="$(_pg_bin)"
    if [ -z "$bin" ]; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
            bin="$(_pg_bin)"
        else
            echo "_postgres.sh: the PostgresStore tests need a PostgreSQL server:" >&2
            echo "  sudo apt-get install postgresql   (or set SOFRITO_TEST_POSTGRES to a server's URL)" >&2
            return 1
        fi
    fi
    SOFRITO_PG_BIN="$bin"
    SOFRITO_PG_TMP="$(mktemp -d "${TMPDIR:-/tmp}/sofrito-pg.XXXXXX")"
    SOFRITO_PG_DATA="$SOFRITO_PG_TMP/data"
    mkdir "$SOFRITO_PG_DATA"
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$SOFRITO_PG_TMP"
    fi
    chmod 700 "$SOFRITO_PG_DATA"
    trap stop_postgres EXIT
    _pg_as_owner "$bin/initdb" -D "$SOFRITO_PG_DATA" -U postgres -A trust \
        --no-instructions >"$SOFRITO_PG_TMP/initdb.log" 2>&1 || {
        cat "$SOFRITO_PG_TMP/initdb.log" >&2
        return 1
    }
    local port
    port="$(_pg_free_port)"
    cat >>"$SOFRITO_PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$SOFRITO_PG_TMP'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    # Trust on loopback only: a test server, reachable from this machine alone.
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$SOFRITO_PG_DATA/pg_hba.conf"
    _pg_as_owner "$bin/pg_ctl" -D "$SOFRITO_PG_DATA" -l "$SOFRITO_PG_TMP/server.log" -w start \
        >/dev/null || {
        cat "$SOFRITO_PG_TMP/server.log" >&2
        return 1
    }
    _pg_as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres sofrito_test
    export SOFRITO_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/sofrito_test"
    # What tests need to restart the server (tests/stores/test_postgres.py).
    export SOFRITO_TEST_POSTGRES_CTL="$bin/pg_ctl"
    export SOFRITO_TEST_POSTGRES_DATA="$SOFRITO_PG_DATA"
    echo "PostgreSQL for the tests: $SOFRITO_TEST_POSTGRES"
}

stop_postgres() {
    if [ -n "${SOFRITO_PG_DATA:-}" ] && [ -d "$SOFRITO_PG_DATA" ]; then
        _pg_as_owner "$SOFRITO_PG_BIN/pg_ctl" -D "$SOFRITO_PG_DATA" -m immediate -w stop \
            >/dev/null 2>&1 || true
    fi
    if [ -n "${SOFRITO_PG_TMP:-}" ]; then
        rm -rf "$SOFRITO_PG_TMP"
    fi
    SOFRITO_PG_DATA=""
    SOFRITO_PG_TMP=""
}
