#!/usr/bin/env bash
# `make drill`: a backup and restore drill against the portal's own PostgreSQL database and storage.
#
#   1. verify_reports on the portal as it is: every approval's snapshot against its content hash,
#      every stored board report and evidence file against its SHA-256;
#   2. backup_portal into a temporary folder (pg_dump, every stored file, a manifest of SHA-256s);
#   3. a new, empty database on the same server (<name>_drill_<random>) and a new, empty storage
#      folder (PORTAL_VAR_DIR=<temporary folder>/var, on this machine's disk even when the portal
#      keeps its files in object storage);
#   4. restore_portal into them, then verify_reports against the restored copy, which must check
#      as many approvals, reports and evidence files as the source, all matching;
#   5. prints the figures, and always drops the drill database and deletes the temporary folder.
#
#   DATABASE_URL=postgres://... scripts/backup_restore_drill.sh
#   make drill
#
# Environment: DATABASE_URL (required, PostgreSQL) and the portal's other settings (SECRET_KEY,
# PORTAL_VAR_DIR or OBJECT_STORAGE_*, DJANGO_SETTINGS_MODULE) as the portal runs with; PG_BIN
# (the folder holding pg_dump and pg_restore, if not on PATH); DRILL_DATABASE_NAME (the scratch
# database's name instead of <name>_drill_<random>; it must not exist yet); TMPDIR.
# The user in DATABASE_URL needs the CREATEDB privilege. The source is only read.

set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

WORK=
DRILL_DATABASE=
DRILL_CREATED=

# Python with the portal's settings; "$@": an action and its arguments (see the code below).
portal_db() {
    "$VENV_PY" - "$@" <<'PY'
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
import django

django.setup()
from django.core.files.storage import FileSystemStorage, storages
from django.db import DatabaseError, connection
from psycopg import sql

action, *args = sys.argv[1:]
if action == "name":
    if connection.vendor != "postgresql":
        sys.exit("backups are for PostgreSQL; on the embedded demo database just copy var/")
    print(connection.settings_dict["NAME"])
elif action in {"create", "drop"}:
    # Django runs in autocommit mode, so CREATE and DROP DATABASE run outside a transaction, as they must.
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            if action == "create":
                # Empty (from template0), with the source's encoding and locale.
                cursor.execute(
                    "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database"
                    " WHERE datname = current_database()"
                )
                encoding, collate, ctype = cursor.fetchone()
                statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}")
                statement = statement.format(
                    sql.Identifier(args[0]), sql.Literal(encoding), sql.Literal(collate), sql.Literal(ctype)
                )
            else:
                force = sql.SQL(" WITH (FORCE)" if connection.pg_version >= 130000 else "")
                statement = sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(args[0]), force)
            cursor.execute(statement.as_string(connection.connection))
    except DatabaseError as error:
        sys.exit(f"ERROR: {error}".strip())
elif action == "local-storage":
    # The restored copy must write into the drill's own folder, never into the portal's storage.
    folder = Path(args[0]).resolve()
    for alias in ("evidence", "reports"):
        storage = storages[alias]
        if not isinstance(storage, FileSystemStorage) or not Path(storage.location).resolve().is_relative_to(folder):
            sys.exit(f"The restored copy's {alias} storage ({type(storage).__name__}) is not under {folder}.")
else:
    sys.exit(f"unknown action {action}")
PY
}

# DATABASE_URL with another database name (the path of the URL).
url_for_database() {
    "$VENV_PY" - "$1" <<'PY'
import os
import sys
from urllib.parse import quote, urlsplit

parts = urlsplit(os.environ["DATABASE_URL"])
print(parts._replace(path="/" + quote(sys.argv[1], safe="")).geturl())
PY
}

# The restored copy: the drill database, and the drill's storage folder on this machine's disk
# (without OBJECT_STORAGE_*, storages are folders under PORTAL_VAR_DIR; see portal/storage_settings.py).
restored() {
    (
        local variable
        while IFS= read -r variable; do
            unset "$variable"
        done < <(compgen -e | grep '^OBJECT_STORAGE_' || true)
        DATABASE_URL="$DRILL_URL" PORTAL_VAR_DIR="$WORK/var" "$@"
    )
}

# shellcheck disable=SC2317  # the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [[ -n $DRILL_CREATED ]]; then
        if portal_db drop "$DRILL_DATABASE"; then
            say "Dropped the drill database $DRILL_DATABASE"
        else
            printf 'WARNING: could not drop the drill database %s: drop it by hand.\n' "$DRILL_DATABASE" >&2
            rc=1
        fi
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ -x $VENV_PY ]] || die "No .venv: run \`make install\` first."
[[ -n ${DATABASE_URL:-} ]] || die "Set DATABASE_URL to the portal's PostgreSQL database."
case $DATABASE_URL in
postgres://* | postgresql://* | pgsql://* | postgis://*) ;;
*) die "DATABASE_URL is not PostgreSQL: backups are for PostgreSQL; on the embedded demo database just copy var/." ;;
esac

# "12 approvals, 12 reports, 1 evidence file checked: all match" -> "12 12 1"
counts() {
    local line=${1//,/}
    [[ $line =~ ^([0-9]+)\ approvals?\ ([0-9]+)\ reports?\ ([0-9]+)\ evidence\ files?\ checked ]] ||
        die "Unexpected summary from verify_reports: $1"
    printf '%s %s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
}

# seconds since the epoch, to the millisecond
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'; }

started="$(now)"
SOURCE_DATABASE="$(portal_db name)" || die "Cannot read the portal's settings (see above)."
# PostgreSQL names are at most 63 bytes.
DRILL_DATABASE="${DRILL_DATABASE_NAME:-${SOURCE_DATABASE:0:40}_drill_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')}"
[[ $DRILL_DATABASE != "$SOURCE_DATABASE" ]] || die "DRILL_DATABASE_NAME must not be the portal's own database."
DRILL_URL="$(url_for_database "$DRILL_DATABASE")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/portal-drill.XXXXXX")"
chmod 700 "$WORK" # the backup holds personal data

say "1/4 Checking the source: database $SOURCE_DATABASE and its storage (verify_reports)"
t0="$(now)"
"$VENV_PY" manage.py verify_reports | tee "$WORK/verify-source.txt" ||
    die "The source does not verify (problems above): fix that before the drill."
source_summary="$(tail -n1 "$WORK/verify-source.txt")"
t_verify_source="$(took "$t0" "$(now)")"

say "2/4 Backing up (backup_portal)"
t0="$(now)"
"$VENV_PY" manage.py backup_portal --output "$WORK/backup"
t_backup="$(took "$t0" "$(now)")"

say "3/4 Restoring into a new, empty database $DRILL_DATABASE and an empty storage folder (restore_portal)"
t0="$(now)"
portal_db create "$DRILL_DATABASE" ||
    die "Could not create the drill database $DRILL_DATABASE (see above; the user in DATABASE_URL needs CREATEDB)."
DRILL_CREATED=1
mkdir "$WORK/var"
restored portal_db local-storage "$WORK/var"
restored "$VENV_PY" manage.py restore_portal --input "$WORK/backup"
printf 'Restored into database %s and storage folder %s\n' "$DRILL_DATABASE" "$WORK/var"
t_restore="$(took "$t0" "$(now)")"

say "4/4 Checking the restored copy (verify_reports)"
t0="$(now)"
restored "$VENV_PY" manage.py verify_reports | tee "$WORK/verify-restored.txt" ||
    die "The restored copy does not verify (problems above): the backup is not good."
restored_summary="$(tail -n1 "$WORK/verify-restored.txt")"
t_verify_restored="$(took "$t0" "$(now)")"
# Approvals, reports and evidence versions are never deleted, so the restored copy holds at least what
# the source held before the backup (more if someone approved or uploaded in between).
figures="$(counts "$source_summary")"
read -r -a source_counts <<<"$figures"
figures="$(counts "$restored_summary")"
read -r -a restored_counts <<<"$figures"
for i in 0 1 2; do
    ((restored_counts[i] >= source_counts[i])) ||
        die "The restored copy holds less than the source did before the backup:
       source:        $source_summary
       restored copy: $restored_summary"
done

figures="$("$VENV_PY" - "$WORK/backup/manifest.json" <<'PY'
import json
import sys

with open(sys.argv[1]) as f:
    manifest = json.load(f)
print(f"Database dump: {manifest['database']['size']:,} bytes (PostgreSQL {manifest['postgresql']})")
for alias, entries in manifest["storages"].items():
    total = sum(entry["size"] for entry in entries)
    print(f"Files in {alias}: {len(entries):,}, {total:,} bytes, restored under the same names with the same SHA-256")
PY
)"

printf '\n==> Drill passed: restored into an empty database and storage, every approved report verified\n'
printf '%s\n' "Source, before the backup: ${source_summary/ checked:/,}" \
    "Restored copy: ${restored_summary/ checked:/,}" "$figures"
printf 'Time: verify source %s, backup %s, restore %s, verify restored %s; total %s\n' \
    "$t_verify_source" "$t_backup" "$t_restore" "$t_verify_restored" "$(took "$started" "$(now)")"
