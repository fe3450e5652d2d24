"""What ``backup_portal`` and ``restore_portal`` share: the PostgreSQL client tools, the storages, the manifest.

A backup is a folder::

    database.dump                 pg_dump's custom format (--no-owner --no-privileges)
    files/<storage>/<name>        every file of the "evidence" and "reports" storages, under its own name
    manifest.json                 written last: versions, the database, and every file with its size and SHA-256

Files are read and written through the Storage API only (``listdir``, ``open``, ``save``), so the same
commands work for FileSystemStorage and for object storage.
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connections

STORAGE_ALIASES = ("evidence", "reports")
DUMP_NAME = "database.dump"
MANIFEST_NAME = "manifest.json"
FILES_FOLDER = "files"
MANIFEST_FORMAT = 1
CHUNK_SIZE = 1024 * 1024


def database_settings() -> dict:
    return settings.DATABASES["default"]


def require_postgresql() -> None:
    if connections["default"].vendor != "postgresql":
        raise CommandError("backups are for PostgreSQL; on the embedded demo database just copy var/")


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: in PG_BIN, else on PATH, else the newest /usr/lib/postgresql/*/bin."""
    pg_bin = os.environ.get("PG_BIN")
    if pg_bin:
        path = Path(pg_bin) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise CommandError(f"PG_BIN={pg_bin} does not hold {name}.")
    found = shutil.which(name)
    if found:
        return found
    candidates = [path for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}") if os.access(path, os.X_OK)]
    if candidates:
        return max(candidates, key=lambda path: [int(part) for part in re.findall(r"\d+", path)])
    raise CommandError(
        f"{name} not found: install the PostgreSQL client programs (Debian: apt-get install postgresql-client) "
        "or point PG_BIN at the folder that holds them."
    )


def pg_environment() -> dict[str, str]:
    """The environment for pg_dump / pg_restore: the connection from settings, the password in PGPASSWORD.

    Django's own ``dbshell`` mapping is reused for the password and the SSL, service and passfile
    options; the host, port, user and database go in the environment too, so that nothing about the
    connection, and never the password, is on a command line.
    """
    from django.db.backends.postgresql.client import DatabaseClient

    database = database_settings()
    _args, client_env = DatabaseClient.settings_to_cmd_args_env(database, [])
    env = {**os.environ, **(client_env or {})}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("NAME", "PGDATABASE")):
        if database.get(key):
            env[variable] = str(database[key])
    return env


def run_pg(program: str, *args: str) -> subprocess.CompletedProcess:
    command = [program, *args]
    try:
        result = subprocess.run(  # noqa: S603 (pg_dump or pg_restore, arguments built here)
            command, env=pg_environment(), capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise CommandError(f"Could not run {program}: {error}") from None
    if result.returncode != 0:
        tool = Path(program).name
        raise CommandError(
            f"{tool} failed (exit {result.returncode}):\n{(result.stderr or result.stdout).strip()}\n"
            f"(If the server is newer than {tool}, point PG_BIN at the matching client programs.)"
        )
    return result


def storage_files(storage, folder: str = "") -> Iterator[str]:
    """Every file name in a storage, walking ``listdir`` folder by folder, in a stable order."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return  # a storage folder that was never created holds nothing
    for name in sorted(files):
        yield posixpath.join(folder, name) if folder else name
    for sub in sorted(folders):
        yield from storage_files(storage, posixpath.join(folder, sub) if folder else sub)


def check_name(name: str) -> str:
    """A storage name that is safe to use as a relative path inside the backup folder."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or "\\" in name or any(part in {"", ".", ".."} for part in name.split("/")):
        raise CommandError(f"Refusing the file name {name!r}: not a plain relative storage name.")
    return name


def copy_hashing(source: IO[bytes], target: IO[bytes] | None = None) -> tuple[int, str]:
    """Read ``source`` to the end (writing it to ``target`` if given); return its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
        if target is not None:
            target.write(chunk)
    return size, digest.hexdigest()


def file_hash(path: Path) -> tuple[int, str]:
    with path.open("rb") as source:
        return copy_hashing(source)


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (words or word + 's')}"
