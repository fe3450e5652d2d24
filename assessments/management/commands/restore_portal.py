"""Restore a ``backup_portal`` folder into an empty database and empty storages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import django
from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from psycopg.conninfo import make_conninfo

from ._backup import (
    DUMP_NAME,
    FILES_FOLDER,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
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
        "Restore a backup written by backup_portal: checks the manifest and every file's SHA-256 first, "
        "refuses a database that already has the portal's tables or storages that already hold files, "
        "then restores the database (pg_restore) and saves every file back under its own name."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", dest="backup", required=True, type=Path, help="The folder backup_portal wrote")

    def handle(self, *args, backup: Path, **options):
        require_postgresql()
        clock = time.monotonic()
        manifest = self._manifest(backup)
        self._check_backup(backup, manifest)
        self.stdout.write(
            f"Backup of {manifest['database']['name']} taken {manifest['created']} (Django {manifest['django']}): "
            f"the database dump and {plural(sum(map(len, manifest['storages'].values())), 'file')} "
            "match the manifest"
        )
        self._check_target(manifest)

        pg_restore = pg_tool("pg_restore")
        database = database_settings()
        run_pg(
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            # Only the name: the rest of the connection comes from the environment, as for pg_dump.
            f"--dbname={make_conninfo(dbname=database['NAME'])}",
            str(backup / DUMP_NAME),
        )
        self.stdout.write(f"Database restored into {database['NAME']}")

        for alias, entries in manifest["storages"].items():
            try:
                self._restore_files(backup, alias, entries)
            except CommandError as error:
                raise CommandError(
                    f"{error}\nThe database was restored but the files were not all saved: drop the database "
                    "and empty the storages before trying again."
                ) from None
            total = sum(entry["size"] for entry in entries)
            self.stdout.write(f"Storage {alias}: {plural(len(entries), 'file')} saved, {total:,} bytes")

        self._notes(manifest)
        self.stdout.write(f"Restored from {backup} in {time.monotonic() - clock:.1f} s")

    # ---- checks before anything is written ----------------------------------------------------------

    def _manifest(self, backup: Path) -> dict:
        path = backup / MANIFEST_NAME
        try:
            manifest = json.loads(path.read_text())
        except FileNotFoundError:
            raise CommandError(f"{path} is missing: {backup} is not a complete backup.") from None
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read {path}: {error}") from None
        try:
            if manifest["format"] != MANIFEST_FORMAT:
                raise CommandError(f"{path} is in format {manifest['format']!r}; this portal reads {MANIFEST_FORMAT}.")
            database, listed = manifest["database"], manifest["storages"]
            if database["file"] != DUMP_NAME or not isinstance(listed, dict):
                raise ValueError
            for entries in listed.values():
                for entry in entries:
                    check_name(entry["name"])
                    if not isinstance(entry["size"], int) or len(entry["sha256"]) != 64:
                        raise ValueError
        except (KeyError, TypeError, ValueError):
            raise CommandError(f"{path} is not a backup_portal manifest.") from None
        unknown = sorted(set(listed) - set(settings.STORAGES))
        if unknown:
            raise CommandError(f"The backup holds files for storages this portal does not have: {', '.join(unknown)}.")
        return manifest

    def _check_backup(self, backup: Path, manifest: dict) -> None:
        """Every file the manifest lists, with its size and SHA-256, and nothing else: all or nothing."""
        problems = []
        expected = {DUMP_NAME: manifest["database"]}
        for alias, entries in manifest["storages"].items():
            for entry in entries:
                expected[f"{FILES_FOLDER}/{alias}/{entry['name']}"] = entry
        for relative, entry in expected.items():
            path = backup / relative
            if not path.is_file():
                problems.append(f"{relative}: missing from the backup")
                continue
            size, sha256 = file_hash(path)
            if sha256 != entry["sha256"] or size != entry["size"]:
                problems.append(
                    f"{relative}: SHA-256 {sha256} ({size:,} bytes) does not match the manifest's "
                    f"{entry['sha256']} ({entry['size']:,} bytes)"
                )
        files = backup / FILES_FOLDER
        if files.is_dir():
            for path in sorted(files.rglob("*")):
                relative = path.relative_to(backup).as_posix()
                if path.is_file() and relative not in expected:
                    problems.append(f"{relative}: in the backup but not in the manifest")
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(
                f"The backup in {backup} does not match its manifest ({plural(len(problems), 'problem')}, "
                "listed above): nothing was restored."
            )

    def _check_target(self, manifest: dict) -> None:
        refusals = []
        connection = connections["default"]
        ours = set(connection.introspection.django_table_names(include_views=False)) | {"django_migrations"}
        present = sorted(ours & set(connection.introspection.table_names()))
        if present:
            shown = ", ".join(present[:3]) + (", …" if len(present) > 3 else "")
            refusals.append(
                f"The database {database_settings()['NAME']} already has the portal's tables ({shown}): "
                "restore only into a new, empty database."
            )
        for alias in manifest["storages"]:
            first = next(storage_files(storages[alias]), None)
            if first is not None:
                refusals.append(
                    f"The {alias} storage already holds files (such as {first}): restore only into empty storage."
                )
        if refusals:
            raise CommandError("\n".join([*refusals, "Nothing was restored."]))

    # ---- writing ------------------------------------------------------------------------------------

    def _restore_files(self, backup: Path, alias: str, entries: list[dict]) -> None:
        storage = storages[alias]
        for entry in entries:
            name = entry["name"]
            try:
                with (backup / FILES_FOLDER / alias / name).open("rb") as source:
                    saved = storage.save(name, File(source, name=name))
            except OSError as error:
                raise CommandError(f"Could not save {name} into the {alias} storage: {error}") from None
            if saved != name:
                raise CommandError(
                    f"The {alias} storage saved {name} as {saved}: files must keep their names, "
                    "which the database refers to."
                )
            with storage.open(saved, "rb") as stored:
                size, sha256 = copy_hashing(stored)
            if sha256 != entry["sha256"] or size != entry["size"]:
                raise CommandError(f"{name} in the {alias} storage does not read back as it was saved.")

    def _notes(self, manifest: dict) -> None:
        if manifest["django"] != django.get_version():
            self.stdout.write(
                f"Note: the backup was taken with Django {manifest['django']}; this is Django {django.get_version()}."
            )
        connection = connections["default"]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            self.stdout.write(
                f"Note: the restored database lacks {plural(len(plan), 'migration')} of this code "
                "(the backup is older than the code): run manage.py migrate."
            )
