#!/usr/bin/env bash
# `make run`: installs everything, prepares the embedded SQLite database with demo
# data, and runs the portal at http://127.0.0.1:${PORT:-8000}/ in development mode.
#
# Environment: PORT (default 8000); DATABASE_URL to use another database;
# PORTAL_VAR_DIR (default var/) for the SQLite file and uploads.

set -euo pipefail
# shellcheck source=scripts/bootstrap.sh
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

bootstrap

export DJANGO_DEBUG=1
PORT="${PORT:-8000}"
mkdir -p "${PORTAL_VAR_DIR:-$ROOT/var}"

"$VENV_PY" manage.py migrate --noinput --verbosity 0
"$VENV_PY" manage.py seed_demo

# The background task worker renders approved board reports; it stops with the portal.
"$VENV_PY" manage.py db_worker --verbosity 0 &
WORKER_PID=$!
trap 'kill "$WORKER_PID" 2>/dev/null || true' EXIT

"$VENV_PY" manage.py runserver "127.0.0.1:$PORT"
