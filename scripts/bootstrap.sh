#!/usr/bin/env bash
# Installs everything the portal needs into the repository: a Python virtual
# environment in .venv (dependencies pinned by constraints.txt) and the front-end
# packages in node_modules, then compiles the front end (npm run build).
#
# Sourced by scripts/run.sh and scripts/test.sh (which then call `bootstrap`);
# run it directly (or `make install`) to install without running anything.
# Quiet when there is nothing to do; says what it is doing when there is work;
# prints the full output of whatever failed.
#
# Environment:
#   PYTHON   the interpreter to build .venv with (default: newest Python >= 3.12 found)

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
VENV_PY="$VENV/bin/python"
# Never let Playwright fetch a browser: the tests drive the system Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# quietly "what" command...: run a command with its output captured; print the
# output only if it fails.
quietly() {
    local what=$1 log rc=0
    shift
    log="$(mktemp)"
    "$@" >"$log" 2>&1 || rc=$?
    if ((rc != 0)); then
        printf '\nERROR: %s failed (exit %d). Its output:\n\n' "$what" "$rc" >&2
        cat "$log" >&2
        printf '\nERROR: %s failed (exit %d): %s\n' "$what" "$rc" "$*" >&2
    fi
    rm -f "$log"
    return "$rc"
}

is_root() { [[ $(id -u) -eq 0 ]]; }

APT_UPDATED=
# apt_install package...: install Debian packages when we are root with apt-get.
apt_install() {
    is_root && command -v apt-get >/dev/null 2>&1 || return 1
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z $APT_UPDATED ]]; then
        quietly "apt-get update" apt-get update -q || return 1
        APT_UPDATED=1
    fi
    quietly "apt-get install $*" apt-get install -y -q --no-install-recommends "$@" </dev/null
}

# Python >= 3.12 that can create virtual environments.
python_ok() {
    "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    if [[ -n ${PYTHON:-} ]]; then
        python_ok "$PYTHON" || die "PYTHON=$PYTHON is not a working Python 3.12 or newer."
        printf '%s\n' "$PYTHON"
        return
    fi
    local candidate candidates=() pyenv_pythons=()
    for candidate in python3.14 python3.13 python3.12; do
        # pyenv shims exist for every installed version but fail unless that version
        # is selected, so each candidate is tried, not just looked up.
        command -v "$candidate" >/dev/null 2>&1 && candidates+=("$candidate")
    done
    shopt -s nullglob
    pyenv_pythons=("${PYENV_ROOT:-${HOME:-/root}/.pyenv}"/versions/3.1[2-9]*/bin/python)
    shopt -u nullglob
    if ((${#pyenv_pythons[@]})); then
        while IFS= read -r candidate; do
            candidates+=("$candidate")
        done < <(printf '%s\n' "${pyenv_pythons[@]}" | sort -rV)
    fi
    candidates+=(python3)
    for candidate in "${candidates[@]}"; do
        if python_ok "$candidate"; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    die "No Python 3.12 or newer found (looked for python3.14/3.13/3.12 on PATH, pyenv versions and python3).
       Install one (e.g. \`pyenv install 3.13\`) or point PYTHON at one: PYTHON=/path/to/python3.13 make run"
}

ensure_venv() {
    if [[ -x $VENV_PY ]] && python_ok "$VENV_PY"; then
        return
    fi
    local python
    python="$(find_python)"
    if [[ -e $VENV ]]; then
        say "Replacing .venv (its Python is missing or older than 3.12)"
        rm -rf "$VENV"
    fi
    say "Creating .venv with $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    quietly "creating the virtual environment" "$python" -m venv "$VENV"
}

# Writes the project's runtime + dev requirements (from pyproject.toml) to stdout.
# Installing them as requirements rather than `pip install -e '.[dev]'` installs
# exactly the same packages without building the project (which has no Python
# package of its own) and so without fetching an unpinned setuptools.
pyproject_requirements() {
    "$VENV_PY" - "$ROOT/pyproject.toml" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)["project"]
print("\n".join(project["dependencies"] + project.get("optional-dependencies", {}).get("dev", [])))
PY
}

# Fails (in CI) or warns if .venv holds a package that constraints.txt does not pin:
# a dependency was added to pyproject.toml without regenerating the lock.
check_lock() {
    "$VENV_PY" - "$ROOT/constraints.txt" <<'PY'
import os
import re
import subprocess
import sys


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


pinned = set()
with open(sys.argv[1]) as f:
    for line in f:
        line = line.split("#", 1)[0].strip()
        if line:
            pinned.add(norm(line.split("==", 1)[0]))
frozen = subprocess.run(
    [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
).stdout.splitlines()
loose = [line for line in frozen if line and ("==" not in line or norm(line.split("==", 1)[0]) not in pinned)]
if loose:
    ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    print(
        ("ERROR" if ci else "WARNING")
        + ": .venv has packages that constraints.txt does not pin (run `make lock`): "
        + ", ".join(loose),
        file=sys.stderr,
    )
    sys.exit(1 if ci else 0)
PY
}

install_python_deps() {
    local stamp="$VENV/.portal-deps.sha256" want requirements="$VENV/.portal-requirements.txt"
    [[ -f $ROOT/constraints.txt ]] || die "constraints.txt is missing (regenerate it with \`make lock\`)."
    want="$( { cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt"; "$VENV_PY" -VV; } | sha256sum | cut -d' ' -f1)"
    if [[ -f $stamp && "$(<"$stamp")" == "$want" ]]; then
        return
    fi
    say "Installing Python dependencies into .venv (pinned by constraints.txt)"
    pyproject_requirements >"$requirements"
    quietly "pip install" "$VENV_PY" -m pip install --no-input --progress-bar off \
        -c "$ROOT/constraints.txt" -r "$requirements"
    check_lock
    printf '%s\n' "$want" >"$stamp"
}

install_node_deps() {
    command -v npm >/dev/null 2>&1 ||
        die "npm not found: install Node.js 20 or newer with npm (e.g. https://nodejs.org/ or your package manager)."
    local stamp="$ROOT/node_modules/.portal-npm.sha256" want
    want="$( { cat "$ROOT/package.json" "$ROOT/package-lock.json"; node --version; } | sha256sum | cut -d' ' -f1)"
    if [[ ! -f $stamp || "$(<"$stamp")" != "$want" ]]; then
        say "Installing front-end packages (npm ci)"
        (cd "$ROOT" && quietly "npm ci" npm ci --no-audit --no-fund --loglevel=error)
        printf '%s\n' "$want" >"$stamp"
    fi
    # Compile the front end into build/static/ unless its inputs (package.json, the
    # installed packages and our Sass under static/) are unchanged since the last build.
    # `rm -rf build` forces a rebuild.
    stamp="$ROOT/build/.portal-build.sha256"
    want="$( {
        cat "$ROOT/node_modules/.portal-npm.sha256"
        cd "$ROOT" && find static -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
    } | sha256sum | cut -d' ' -f1)"
    if [[ ! -f $stamp || "$(<"$stamp")" != "$want" ]]; then
        (cd "$ROOT" && quietly "npm run build" npm run build)
        printf '%s\n' "$want" >"$stamp"
    fi
}

# WeasyPrint (PDF export) loads Pango, HarfBuzz and fontconfig from the system.
ensure_pdf_libraries() {
    local ldconfig libraries
    ldconfig="$(command -v ldconfig || echo /sbin/ldconfig)"
    [[ -x $ldconfig ]] || return 0 # cannot tell; WeasyPrint will say if they are missing
    libraries="$("$ldconfig" -p 2>/dev/null || true)"
    if [[ $libraries == *libpango-1.0.so.0* && $libraries == *libpangoft2-1.0.so.0* ]]; then
        return
    fi
    say "Installing Pango for WeasyPrint (apt-get install libpango-1.0-0 libpangoft2-1.0-0 ...)"
    apt_install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-liberation ||
        die "WeasyPrint needs Pango 1.44 or newer. Install it:
         Debian/Ubuntu: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
         Fedora/RHEL:   sudo dnf install pango
         macOS:         brew install pango"
}

bootstrap() {
    ensure_pdf_libraries
    ensure_venv
    install_python_deps
    install_node_deps
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    bootstrap
fi
