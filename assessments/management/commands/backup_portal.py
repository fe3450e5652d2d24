"""Back the portal up: the PostgreSQL database (pg_dump) and every stored evidence file and board report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import django
import psycopg
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from ._backup import (
    DUMP_NAME,
    FILES_FOLDER,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    STORAGE_ALIASES,
    check_name,
    copy_hashing,
    database_settings,
    file_hash,
    pg_tool,
    plural,
    require_postgresql,
    run_pg,
    storage_files,
)


class Command(BaseCommand):
    help = (
        "Back up the database (pg_dump, custom format) and every file of the evidence and reports storages "
        "into a new folder, with a manifest of every file's size and SHA-256. PostgreSQL only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", required=True, type=Path, help="A new (or empty) folder to write the backup into"
        )

    def handle(self, *args, output: Path, **options):
        require_postgresql()
        pg_dump = pg_tool("pg_dump")
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise CommandError(f"{output} already exists and is not an empty folder: choose a new one.")
        # It holds personal data (names, e-mail addresses, evidence): readable by its owner only.
        output.mkdir(mode=0o700, parents=True, exist_ok=True)
        started, clock = timezone.now(), time.monotonic()
        database = database_settings()

        # The database first, then the files: a report's or evidence file's row is committed only
        # after its file is written, so every file the dump refers to is there when they are copied.
        dump = output / DUMP_NAME
        run_pg(pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}")
        dump_size, dump_sha256 = file_hash(dump)
        self.stdout.write(f"Database {database['NAME']}: {DUMP_NAME}, {dump_size:,} bytes")

        listed = {}
        for alias in STORAGE_ALIASES:
            listed[alias] = self._copy_storage(alias, output / FILES_FOLDER / alias)
            total = sum(entry["size"] for entry in listed[alias])
            self.stdout.write(f"Storage {alias}: {plural(len(listed[alias]), 'file')}, {total:,} bytes")

        manifest = {
            "format": MANIFEST_FORMAT,
            "created": started.isoformat(),
            "django": django.get_version(),
            "psycopg": psycopg.__version__,
            "postgresql": self._server_version(),
            "database": {"name": database["NAME"], "file": DUMP_NAME, "size": dump_size, "sha256": dump_sha256},
            "storages": listed,
        }
        # Written last, and atomically: a folder without a manifest is not a complete backup.
        partial = output / f".{MANIFEST_NAME}.partial"
        partial.write_text(json.dumps(manifest, indent=2) + "\n")
        partial.replace(output / MANIFEST_NAME)
        self.stdout.write(f"Backup written to {output} in {time.monotonic() - clock:.1f} s")

    def _copy_storage(self, alias: str, folder: Path) -> list[dict]:
        storage = storages[alias]
        entries = []
        for name in storage_files(storage):
            target = folder / check_name(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with storage.open(name, "rb") as source, target.open("xb") as copy:
                    size, sha256 = copy_hashing(source, copy)
            except OSError as error:
                raise CommandError(f"Could not copy {name} from the {alias} storage: {error}") from None
            entries.append({"name": name, "size": size, "sha256": sha256})
        return entries

    def _server_version(self) -> str:
        with connections["default"].cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
