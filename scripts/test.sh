#!/usr/bin/env bash
# `make test`: installs everything, starts a throwaway PostgreSQL (unix socket only,
# in a temporary directory), runs the whole test suite against it with pytest, then
# stops the cluster and deletes it, whatever happens.
#
#   scripts/test.sh [pytest arguments...]     e.g. scripts/test.sh -k sign_in -x
#   make test ARGS="-k sign_in -x"
#
# Needs PostgreSQL server binaries and Chromium; installs them with apt-get when run
# as root on Debian/Ubuntu, otherwise says how to install them.
# Environment: PG_BIN (directory holding initdb/pg_ctl), PORTAL_CHROMIUM (browser binary).

set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

PG_TMP=
PG_STARTED=

# shellcheck disable=SC2317  # called indirectly (through quietly and the EXIT trap)
as_postgres() {
    # From a directory the postgres user can read (the checkout may be under /root).
    (
        cd "${PG_TMP:-/}"
        if ! is_root; then
            "$@"
        elif command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
        fi
    )
}

# shellcheck disable=SC2317  # the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n $PG_STARTED ]]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w -t 30 stop >/dev/null 2>&1
        # If pg_ctl could not stop it, end the server we started (and only that one).
        local pid
        pid="$(head -n1 "$PG_TMP/data/postmaster.pid" 2>/dev/null)"
        if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$PG_TMP/data"; then
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    if [[ -n $PG_TMP && -d $PG_TMP ]]; then
        rm -rf "$PG_TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_chromium() {
    if [[ -n ${PORTAL_CHROMIUM:-} ]]; then
        [[ -x $PORTAL_CHROMIUM ]] || die "PORTAL_CHROMIUM=$PORTAL_CHROMIUM is not an executable."
        return
    fi
    local candidate
    for candidate in chromium chromium-browser; do
        if command -v "$candidate" >/dev/null 2>&1; then
            PORTAL_CHROMIUM="$(command -v "$candidate")"
            export PORTAL_CHROMIUM
            return
        fi
    done
    if is_root && command -v apt-get >/dev/null 2>&1; then
        say "Installing Chromium (apt-get install chromium) for the browser tests"
        apt_install chromium fonts-liberation || die "Could not install Chromium with apt-get (see above)."
        PORTAL_CHROMIUM="$(command -v chromium)"
        export PORTAL_CHROMIUM
        return
    fi
    die "Chromium not found. Install it (Debian: sudo apt-get install chromium; Ubuntu: sudo snap install chromium)
       or point PORTAL_CHROMIUM at a Chromium/Chrome binary."
}

find_pg_bin() {
    local dir candidates=()
    [[ -n ${PG_BIN:-} ]] && candidates+=("$PG_BIN")
    if command -v pg_config >/dev/null 2>&1; then
        candidates+=("$(pg_config --bindir 2>/dev/null || true)")
    fi
    shopt -s nullglob
    local debian_dirs=(/usr/lib/postgresql/*/bin)
    shopt -u nullglob
    if ((${#debian_dirs[@]})); then
        while IFS= read -r dir; do
            candidates+=("$dir")
        done < <(printf '%s\n' "${debian_dirs[@]}" | sort -rV)
    fi
    if command -v initdb >/dev/null 2>&1; then
        candidates+=("$(dirname "$(command -v initdb)")")
    fi
    for dir in "${candidates[@]}"; do
        if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

ensure_postgres() {
    if PG_BIN="$(find_pg_bin)"; then
        return
    fi
    if is_root && command -v apt-get >/dev/null 2>&1; then
        say "Installing PostgreSQL (apt-get install postgresql) for the test database"
        apt_install postgresql || die "Could not install PostgreSQL with apt-get (see above)."
        PG_BIN="$(find_pg_bin)" || die "PostgreSQL was installed but initdb/pg_ctl/postgres were not found."
        return
    fi
    die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found. Install them:
         Debian/Ubuntu: sudo apt-get install postgresql
         Fedora/RHEL:   sudo dnf install postgresql-server
         macOS:         brew install postgresql
       or point PG_BIN at the directory that holds them."
}

start_postgres() {
    if is_root; then
        id postgres >/dev/null 2>&1 ||
            die "Running as root but there is no 'postgres' user to run the test database as (initdb refuses root)."
    fi
    # Short path: the socket path must stay under ~100 characters.
    PG_TMP="$(mktemp -d /tmp/portal-test-pg.XXXXXX)"
    if is_root; then
        chown postgres: "$PG_TMP"
    fi
    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale=C.UTF-8
    fi
    quietly "initdb" as_postgres "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale="$locale" --no-sync
    # Throwaway cluster: no TCP listener (so no port clashes), no durability.
    cat >>"$PG_TMP/data/postgresql.conf" <<EOF

# Added by scripts/test.sh
listen_addresses = ''
unix_socket_directories = '$PG_TMP'
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    PG_STARTED=1
    if ! quietly "starting PostgreSQL" as_postgres "$PG_BIN/pg_ctl" -D "$PG_TMP/data" \
        -l "$PG_TMP/server.log" -w -t 60 start; then
        cat "$PG_TMP/server.log" >&2 2>/dev/null || true
        die "The throwaway PostgreSQL did not start."
    fi
    local tries=0
    until "$PG_BIN/pg_isready" -q -h "$PG_TMP" -p 5432; do
        ((++tries < 60)) || die "PostgreSQL is not accepting connections after 30s: $(cat "$PG_TMP/server.log")"
        sleep 0.5
    done
    # dj-database-url reads a %2F-encoded host as a unix socket directory.
    export DATABASE_URL="postgres://postgres@${PG_TMP//\//%2F}:5432/postgres"
}

bootstrap
ensure_chromium
ensure_postgres
export PG_BIN  # backup_portal / restore_portal (pg_dump, pg_restore) in tests use the same server version
start_postgres
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PORTAL_CHROMIUM

status=0
"$VENV_PY" -m pytest "$@" || status=$?
if ((status == 5)); then
    printf 'ERROR: pytest collected no tests (exit 5); that counts as a failure.\n' >&2
fi
exit "$status"
