"""The search index's database side, which the ORM does not model (raw SQL per vendor).

PostgreSQL
- `gallery_imagesearch.search_vector`: a generated, stored tsvector (prompt A, modifier
  names B, author C) in the `gallery_english` configuration (English stemming with
  accents folded by `unaccent`), with a GIN index. Generated, so every write of the
  row keeps it current without a trigger.
- `gallery_searchword`: the words of the indexed texts with a trigram GIN index (pg_trgm),
  for correcting misspelt query words ("hokusia" -> "hokusai").
SQLite
- `gallery_imagesearch_fts`: an FTS5 table over the same three columns (external content
  = gallery_imagesearch, tokenizer `porter unicode61 remove_diacritics 2`), kept in sync by
  triggers.
- `gallery_searchword` plus an FTS5 trigram table over it, for the same corrections.
Both
- `gallery_imagesearch.ivf_list`: the inverted list (nearest k-means centroid) of the
  row's embedding, with an index that also carries the embedding, so semantic search
  reads only the probed lists, in index order; `gallery_ivfcentroid` holds the centroids.

Caution for later migrations of ImageSearch on SQLite: an operation that makes Django
rebuild the table (most AlterField/RemoveField) drops the raw column and the triggers.
`manage.py check --database default` warns about that (gallery.W001) and `reindex_gallery --schema` restores them.
"""

from django.db import migrations

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'gallery_english') THEN
           CREATE TEXT SEARCH CONFIGURATION gallery_english (COPY = pg_catalog.english);
           ALTER TEXT SEARCH CONFIGURATION gallery_english
             ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
         END IF;
       END $$""",
    """ALTER TABLE gallery_imagesearch ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
         setweight(to_tsvector('gallery_english'::regconfig, prompt_text), 'A')
         || setweight(to_tsvector('gallery_english'::regconfig, modifier_text), 'B')
         || setweight(to_tsvector('gallery_english'::regconfig, author_text), 'C')
       ) STORED""",
    "CREATE INDEX gallery_imagesearch_vector ON gallery_imagesearch USING gin (search_vector)",
    "ALTER TABLE gallery_imagesearch ADD COLUMN ivf_list integer",
    "CREATE INDEX gallery_imagesearch_ivf ON gallery_imagesearch (ivf_list) INCLUDE (image_id, embedding)",
    "CREATE TABLE gallery_searchword (word text PRIMARY KEY, ndoc integer NOT NULL DEFAULT 0)",
    "CREATE INDEX gallery_searchword_trgm ON gallery_searchword USING gin (word gin_trgm_ops)",
    "CREATE TABLE gallery_ivfcentroid (list integer PRIMARY KEY, version bigint NOT NULL, centroid bytea NOT NULL)",
]
POSTGRES_BACKWARD = [
    "DROP TABLE IF EXISTS gallery_ivfcentroid",
    "DROP TABLE IF EXISTS gallery_searchword",
    "ALTER TABLE gallery_imagesearch DROP COLUMN IF EXISTS ivf_list",
    "ALTER TABLE gallery_imagesearch DROP COLUMN IF EXISTS search_vector",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS gallery_english",
]

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE gallery_imagesearch_fts USING fts5(
         prompt_text, modifier_text, author_text,
         content='gallery_imagesearch', content_rowid='image_id',
         tokenize='porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER gallery_imagesearch_fts_insert AFTER INSERT ON gallery_imagesearch BEGIN
         INSERT INTO gallery_imagesearch_fts (rowid, prompt_text, modifier_text, author_text)
         VALUES (new.image_id, new.prompt_text, new.modifier_text, new.author_text);
       END""",
    """CREATE TRIGGER gallery_imagesearch_fts_delete AFTER DELETE ON gallery_imagesearch BEGIN
         INSERT INTO gallery_imagesearch_fts (gallery_imagesearch_fts, rowid, prompt_text, modifier_text, author_text)
         VALUES ('delete', old.image_id, old.prompt_text, old.modifier_text, old.author_text);
       END""",
    """CREATE TRIGGER gallery_imagesearch_fts_update
         AFTER UPDATE OF image_id, prompt_text, modifier_text, author_text ON gallery_imagesearch BEGIN
         INSERT INTO gallery_imagesearch_fts (gallery_imagesearch_fts, rowid, prompt_text, modifier_text, author_text)
         VALUES ('delete', old.image_id, old.prompt_text, old.modifier_text, old.author_text);
         INSERT INTO gallery_imagesearch_fts (rowid, prompt_text, modifier_text, author_text)
         VALUES (new.image_id, new.prompt_text, new.modifier_text, new.author_text);
       END""",
    # bm25 weights as ts_rank_cd's defaults weigh A, B, C on PostgreSQL.
    "INSERT INTO gallery_imagesearch_fts (gallery_imagesearch_fts, rank) VALUES ('rank', 'bm25(1.0, 0.4, 0.2)')",
    "INSERT INTO gallery_imagesearch_fts (gallery_imagesearch_fts) VALUES ('rebuild')",
    "ALTER TABLE gallery_imagesearch ADD COLUMN ivf_list integer",
    "CREATE INDEX gallery_imagesearch_ivf ON gallery_imagesearch (ivf_list, image_id, embedding)",
    """CREATE TABLE gallery_searchword (
         id integer PRIMARY KEY, word varchar(64) NOT NULL UNIQUE, ndoc integer NOT NULL DEFAULT 0)""",
    """CREATE VIRTUAL TABLE gallery_searchword_trgm USING fts5(
         word, content='gallery_searchword', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER gallery_searchword_trgm_insert AFTER INSERT ON gallery_searchword BEGIN
         INSERT INTO gallery_searchword_trgm (rowid, word) VALUES (new.id, new.word);
       END""",
    """CREATE TRIGGER gallery_searchword_trgm_delete AFTER DELETE ON gallery_searchword BEGIN
         INSERT INTO gallery_searchword_trgm (gallery_searchword_trgm, rowid, word) VALUES ('delete', old.id, old.word);
       END""",
    "CREATE TABLE gallery_ivfcentroid (list integer PRIMARY KEY, version bigint NOT NULL, centroid blob NOT NULL)",
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS gallery_ivfcentroid",
    "DROP TABLE IF EXISTS gallery_searchword_trgm",
    "DROP TABLE IF EXISTS gallery_searchword",
    "DROP INDEX IF EXISTS gallery_imagesearch_ivf",
    "ALTER TABLE gallery_imagesearch DROP COLUMN ivf_list",
    "DROP TRIGGER IF EXISTS gallery_imagesearch_fts_insert",
    "DROP TRIGGER IF EXISTS gallery_imagesearch_fts_delete",
    "DROP TRIGGER IF EXISTS gallery_imagesearch_fts_update",
    "DROP TABLE IF EXISTS gallery_imagesearch_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(f"gallery search has no schema for {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("gallery", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
