"""The words of the indexed texts, for correcting misspelt query words.

`gallery_searchword` (raw SQL, migration 0002) holds each folded word with the number of
indexed images that use it. Indexing adds and removes counts by difference, so indexing
an image twice changes nothing; `vocabulary_rebuild` recounts from scratch (the
`reindex_gallery` command). Counts can run high after images are deleted in bulk, which
only makes a correction a little less likely to be the best one.

Lookups of the nearest word go through a trigram index: pg_trgm's GIN index on
PostgreSQL, an FTS5 trigram table on SQLite. Both rank the few hundred candidates the
index finds with the same similarity (pg_trgm's), so corrections agree across databases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import connection

from gallery.search.text import MAX_WORD_CHARS, text_words, trigram_similarity

MIN_WORD_CHARS = 3
MIN_SIMILARITY = 0.4
CANDIDATES = 200
_CHUNK = 500


def vocabulary_words(texts: Iterable[str]) -> set[str]:
    """The words of these texts that the vocabulary keeps."""
    return {
        w for text in texts for w in text_words(text)
        if MIN_WORD_CHARS <= len(w) <= MAX_WORD_CHARS and not w.isdigit()
    }


def vocabulary_apply(deltas: Counter) -> None:
    """Add each word's count difference (new images +1, removed or changed ones -1)."""
    rows = [(word, delta) for word, delta in deltas.items() if delta]
    if not rows:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO gallery_searchword (word, ndoc) VALUES {values} "  # noqa: S608 - placeholders only
                "ON CONFLICT (word) DO UPDATE SET ndoc = gallery_searchword.ndoc + excluded.ndoc",
                [value for row in chunk for value in row],
            )


def vocabulary_rebuild() -> int:
    """Recount every word from the indexed texts; returns the number of words."""
    counts: Counter = Counter()
    with connection.cursor() as cursor:
        last = 0
        while True:
            cursor.execute(
                "SELECT image_id, prompt_text, modifier_text, author_text FROM gallery_imagesearch "
                "WHERE image_id > %s ORDER BY image_id LIMIT 5000",
                [last],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            for _, *texts in rows:
                counts.update(vocabulary_words(texts))
            last = rows[-1][0]
        cursor.execute("DELETE FROM gallery_searchword")
    vocabulary_apply(counts)
    return len(counts)


def vocabulary_known(words: Iterable[str]) -> set[str]:
    words = sorted(set(words))
    if not words:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT word FROM gallery_searchword WHERE ndoc > 0 AND word IN ({', '.join(['%s'] * len(words))})",  # noqa: S608
            words,
        )
        return {row[0] for row in cursor.fetchall()}


def _candidates(word: str) -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # `%` is pg_trgm's similarity operator (threshold 0.3 by default), served by the GIN index.
            cursor.execute(
                "SELECT word, ndoc FROM gallery_searchword WHERE word %% %s AND ndoc > 0 "
                "ORDER BY similarity(word, %s) DESC, ndoc DESC LIMIT %s",
                [word, word, CANDIDATES],
            )
        else:
            grams = sorted({word[i : i + 3] for i in range(len(word) - 2)})
            if not grams:
                return []
            cursor.execute(
                "SELECT w.word, w.ndoc FROM gallery_searchword_trgm t JOIN gallery_searchword w ON w.id = t.rowid "
                "WHERE gallery_searchword_trgm MATCH %s AND w.ndoc > 0 ORDER BY t.rank LIMIT %s",
                [" OR ".join(f'"{g}"' for g in grams), CANDIDATES],
            )
        return cursor.fetchall()


def word_correct(word: str) -> str | None:
    """The indexed word closest to `word` (similarity at least MIN_SIMILARITY), if any."""
    if len(word) < MIN_WORD_CHARS + 1 or len(word) > MAX_WORD_CHARS or word.isdigit():
        return None
    best, best_key = None, None
    for candidate, ndoc in _candidates(word):
        key = (trigram_similarity(word, candidate), ndoc)
        if candidate != word and key[0] >= MIN_SIMILARITY and (best_key is None or key > best_key):
            best, best_key = candidate, key
    return best
