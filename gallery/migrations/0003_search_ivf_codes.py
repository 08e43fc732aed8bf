"""Compact codes for the IVF index (see gallery.search.vectors).

At 1M images, reading the probed lists' full float16 embeddings (~12k x 768 bytes per
query) decided semantic search's latency. Each row now also keeps a 128-byte int8 code
of its PCA-projected embedding (`gallery_imagesearch.ivf_code`), the list index carries
the code instead of the embedding, and `gallery_ivfprojection` holds the projection.

An index trained before this migration has no codes: it is dropped here (search scans
exactly until then). Galleries over 20,000 images run `manage.py reindex_gallery --ivf-only`.
"""

import importlib

from django.db import migrations

# The vendor-dispatching runner of the search schema's first migration.
_run = importlib.import_module("gallery.migrations.0002_search_index")._run

POSTGRES_FORWARD = [
    "ALTER TABLE gallery_imagesearch ADD COLUMN ivf_code bytea",
    "DROP INDEX IF EXISTS gallery_imagesearch_ivf",
    "CREATE INDEX gallery_imagesearch_ivf ON gallery_imagesearch (ivf_list) INCLUDE (image_id, ivf_code)",
    """CREATE TABLE gallery_ivfprojection (
         version bigint PRIMARY KEY, mean bytea NOT NULL, components bytea NOT NULL, step bytea NOT NULL)""",
    "DELETE FROM gallery_ivfcentroid",
    "UPDATE gallery_imagesearch SET ivf_list = NULL WHERE ivf_list IS NOT NULL",
]
POSTGRES_BACKWARD = [
    "DROP TABLE IF EXISTS gallery_ivfprojection",
    "DROP INDEX IF EXISTS gallery_imagesearch_ivf",
    "ALTER TABLE gallery_imagesearch DROP COLUMN IF EXISTS ivf_code",
    "CREATE INDEX gallery_imagesearch_ivf ON gallery_imagesearch (ivf_list) INCLUDE (image_id, embedding)",
    "DELETE FROM gallery_ivfcentroid",
    "UPDATE gallery_imagesearch SET ivf_list = NULL WHERE ivf_list IS NOT NULL",
]

SQLITE_FORWARD = [
    "ALTER TABLE gallery_imagesearch ADD COLUMN ivf_code blob",
    "DROP INDEX IF EXISTS gallery_imagesearch_ivf",
    "CREATE INDEX gallery_imagesearch_ivf ON gallery_imagesearch (ivf_list, image_id, ivf_code)",
    """CREATE TABLE gallery_ivfprojection (
         version bigint PRIMARY KEY, mean blob NOT NULL, components blob NOT NULL, step blob NOT NULL)""",
    "DELETE FROM gallery_ivfcentroid",
    "UPDATE gallery_imagesearch SET ivf_list = NULL WHERE ivf_list IS NOT NULL",
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS gallery_ivfprojection",
    "DROP INDEX IF EXISTS gallery_imagesearch_ivf",
    "ALTER TABLE gallery_imagesearch DROP COLUMN ivf_code",
    "CREATE INDEX gallery_imagesearch_ivf ON gallery_imagesearch (ivf_list, image_id, embedding)",
    "DELETE FROM gallery_ivfcentroid",
    "UPDATE gallery_imagesearch SET ivf_list = NULL WHERE ivf_list IS NOT NULL",
]


class Migration(migrations.Migration):
    dependencies = [("gallery", "0002_search_index")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
