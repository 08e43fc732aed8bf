"""The raw-SQL side of the search index (migration 0002) is there: a system check, and a
repair for SQLite, where Django rebuilds a table (dropping columns and triggers it does
not know) when a later migration alters one of ImageSearch's fields."""

from __future__ import annotations

import importlib
import re

from django.core import checks
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

MIGRATION = ("gallery", "0003_search_ivf_codes")
SQLITE_TRIGGERS = ("gallery_imagesearch_fts_insert", "gallery_imagesearch_fts_delete", "gallery_imagesearch_fts_update")


def _columns(connection, table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, table)}


def search_schema_problems(connection) -> list[str]:
    recorder = MigrationRecorder(connection)
    if not recorder.has_table() or MIGRATION not in recorder.applied_migrations():
        return []
    problems = []
    columns = _columns(connection, "gallery_imagesearch")
    wanted = {"ivf_list", "ivf_code"} | ({"search_vector"} if connection.vendor == "postgresql" else set())
    problems += [f"column gallery_imagesearch.{c} is missing" for c in sorted(wanted - columns)]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            triggers = {row[0] for row in cursor.fetchall()}
        problems += [f"trigger {t} is missing" for t in SQLITE_TRIGGERS if t not in triggers]
    return problems


def search_schema_check(app_configs=None, databases=None, **kwargs):
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor not in ("postgresql", "sqlite"):
            continue
        for problem in search_schema_problems(connection):
            # A warning, not an error: an error would stop `migrate` itself.
            errors.append(checks.Warning(
                f"The gallery search index's SQL schema is damaged: {problem}.",
                hint="A migration probably rebuilt gallery_imagesearch. Run `manage.py reindex_gallery --schema`.",
                id="gallery.W001",
            ))
    return errors


def search_schema_restore(connection) -> list[str]:
    """SQLite: put back the column, index and triggers a table rebuild dropped, and refill
    the FTS table. Returns what was repaired."""
    problems = search_schema_problems(connection)
    if not problems or connection.vendor != "sqlite":
        return problems if connection.vendor != "sqlite" else []
    migration = importlib.import_module("gallery.migrations.0002_search_index")
    codes = importlib.import_module("gallery.migrations.0003_search_ivf_codes")
    with connection.cursor() as cursor:
        columns = _columns(connection, "gallery_imagesearch")
        for column, kind in (("ivf_list", "integer"), ("ivf_code", "blob")):
            if column not in columns:
                cursor.execute(f"ALTER TABLE gallery_imagesearch ADD COLUMN {column} {kind}")
        if {"ivf_list", "ivf_code"} - columns:
            cursor.execute("DROP INDEX IF EXISTS gallery_imagesearch_ivf")
            cursor.execute(next(s for s in codes.SQLITE_FORWARD if "INDEX gallery_imagesearch_ivf" in s))
            # Rows lost their lists: drop the index until `reindex_gallery` trains it again.
            cursor.execute("DELETE FROM gallery_ivfcentroid")
            cursor.execute("DELETE FROM gallery_ivfprojection")
        for statement in migration.SQLITE_FORWARD:
            if any(re.search(rf"TRIGGER {name}\b", statement) for name in SQLITE_TRIGGERS):
                cursor.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))
        cursor.execute("INSERT INTO gallery_imagesearch_fts (gallery_imagesearch_fts) VALUES ('rebuild')")
    return problems
