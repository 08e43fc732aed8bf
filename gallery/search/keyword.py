"""Keyword search: prompt, modifier names and author, ranked, with typo correction.

PostgreSQL ranks the stored weighted tsvector (prompt A, modifiers B, author C) with
`ts_rank_cd`; SQLite ranks its FTS5 table with bm25 weighted the same way. The query is
read once (gallery.search.text) and compiled for either database from the same clauses,
so both accept the same syntax and neither can see a syntax error.

Two things widen a query before it runs:
- Catalog aliases: a word or run of words that names a modifier by alias ("watercolour",
  "aquarelle", "pen and ink") also matches the modifier's name, which every image that
  uses the modifier carries in its modifier text.
- Spelling: when a query finds fewer than FEW_RESULTS images, each query word that no
  indexed text contains is replaced by the nearest indexed word by trigram similarity
  ("hokusia" -> "hokusai") and the query runs again; those results follow the exact ones.

Ranking reads every match's text, and on PostgreSQL every match is a heap row to
visit: a common word in a big gallery ("painting" matches 18% of 1M images) would cost
~180k row reads. So the ranking looks at the newest KEYWORD_CANDIDATES matches only:
FTS5 finds them from its rowid-ordered doclists; PostgreSQL reads the newest
KEYWORD_WINDOW images backwards (stopping early for a common word); when that window holds
too few matches it reads on backwards if their share says the rest lie within
KEYWORD_REACH more rows, and otherwise asks the GIN index (the words are rare, their
matches few). The caller's queryset then filters the ranked head by primary key. Only
when that leaves too few results while more matches exist does the query rank every
match inside the queryset (a narrow filter on a common word).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.db import connection

from gallery.search.scope import scope_filter, scope_sql
from gallery.search.text import STOP_WORDS, QueryItem, query_items, text_words
from gallery.search.vocabulary import vocabulary_known, word_correct
from prompts.catalog import Catalog
from prompts.selectors import catalog_get

FEW_RESULTS = 5
# Ranking looks at most at this many matches, the newest.
KEYWORD_CANDIDATES = 2000
# PostgreSQL looks for matches among the newest this many images first.
KEYWORD_WINDOW = 10_000
# ... and reads on backwards through at most this many more when the window's share of
# matches says the results it still needs lie within them.
KEYWORD_REACH = 40_000
MAX_TERM_WORDS = 5
TS_CONFIG = "gallery_english"

Phrase = tuple[str, ...]
Alternative = tuple[Phrase, ...]  # phrases that must all match


@dataclass(frozen=True)
class Clause:
    """Matches when any alternative matches (or, negated, when none does)."""

    alternatives: tuple[Alternative, ...]
    negated: bool = False

    @property
    def simple(self) -> bool:
        return not self.negated and len(self.alternatives) == 1 and len(self.alternatives[0]) == 1


def clauses_from_items(items: list[QueryItem]) -> list[Clause]:
    clauses: list[Clause] = []
    for item in items:
        if item.or_previous and clauses and not clauses[-1].negated:
            clauses[-1] = Clause(clauses[-1].alternatives + ((item.words,),))
        else:
            clauses.append(Clause(((item.words,),), negated=item.negated))
    return clauses


@lru_cache(maxsize=4)
def _modifier_names(catalog: Catalog) -> dict[Phrase, Phrase]:
    """Words of every fragment and alias -> words of the modifier's name."""
    names: dict[Phrase, Phrase] = {}
    for modifier in catalog:
        name = tuple(text_words(modifier.name))
        for term in modifier.terms:
            key = tuple(text_words(term))
            if key and len(key) <= MAX_TERM_WORDS:
                names.setdefault(key, name)
    return names


def clauses_expand(clauses: list[Clause], catalog: Catalog) -> list[Clause]:
    """Runs of plain clauses that spell a catalog term also accept the modifier's name
    (longest run first, as the prompt parser matches)."""
    names = _modifier_names(catalog)
    out: list[Clause] = []
    i = 0
    while i < len(clauses):
        for n in range(min(MAX_TERM_WORDS, len(clauses) - i), 0, -1):
            run = clauses[i : i + n]
            if not all(c.simple for c in run):
                continue
            phrases = tuple(c.alternatives[0][0] for c in run)
            words = tuple(w for p in phrases for w in p)
            name = names.get(words)
            if name and name != words:
                out.append(Clause((phrases, (name,))))
                i += n
                break
        else:
            out.append(clauses[i])
            i += 1
    return out


def clauses_correct(clauses: list[Clause]) -> list[Clause] | None:
    """The clauses with every unknown word replaced by its nearest indexed word, or None
    when no word needed (or found) a correction."""
    words = {w for c in clauses if not c.negated for alt in c.alternatives for p in alt for w in p}
    known = vocabulary_known(words)
    corrections = {w: fix for w in sorted(words - known - STOP_WORDS) if (fix := word_correct(w))}
    if not corrections:
        return None
    return [
        c if c.negated else Clause(tuple(
            tuple(tuple(corrections.get(w, w) for w in p) for p in alt) for alt in c.alternatives
        ))
        for c in clauses
    ]


# -- PostgreSQL ------------------------------------------------------------------------


def _postgres_tsquery(clauses: list[Clause]) -> tuple[str, list[str]] | None:
    params: list[str] = []

    def phrase_sql(phrase: Phrase) -> str:
        params.append(phrase[0] if len(phrase) == 1 else '"' + " ".join(phrase) + '"')
        return f"websearch_to_tsquery('{TS_CONFIG}', %s)"

    def clause_sql(clause: Clause) -> str:
        alternatives = ["(" + " && ".join(phrase_sql(p) for p in alt) + ")" for alt in clause.alternatives]
        body = "(" + " || ".join(alternatives) + ")"
        return "!!" + body if clause.negated else body

    if all(c.negated for c in clauses):
        return None
    return " && ".join(clause_sql(c) for c in clauses), params


def _postgres_rank(tsquery: str, params: list, *, newer_than: int | None, older_than: int | None,
                   limit: int) -> list[tuple[int, float]]:
    """The newest `limit` matches in an id range, ranked.

    Within the window of newest images (`newer_than`) the match test is written
    `(... @@ ...) IS TRUE`, which the GIN index cannot serve: the planner then reads the
    window backwards by primary key and stops after `limit` matches, at most
    KEYWORD_WINDOW rows. Left free, it estimates a multi-word query as rare (it takes the
    words as independent), visits every match in the table and throws away those outside
    the window: measured 124 ms instead of 17 ms for "koi pond" at 1M images."""
    if newer_than is not None and older_than is not None:  # a backward scan of an older range
        test, bounds = "(s.search_vector @@ q.query) IS TRUE AND s.image_id > %s AND s.image_id <= %s", [
            newer_than, older_than]
    elif newer_than is not None:
        test, bounds = "(s.search_vector @@ q.query) IS TRUE AND s.image_id > %s", [newer_than]
    else:
        test, bounds = "s.search_vector @@ q.query AND s.image_id <= %s", [older_than]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.image_id, ts_rank_cd(c.search_vector, c.query) AS score FROM ("  # noqa: S608 - placeholders only
            f"SELECT s.image_id, s.search_vector, q.query FROM gallery_imagesearch s, (SELECT {tsquery} AS query) q "
            f"WHERE {test} ORDER BY s.image_id DESC LIMIT %s) c",
            [*params, *bounds, limit],
        )
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


def _postgres_candidates(clauses: list[Clause], want: int) -> tuple[list[tuple[int, float]], bool]:
    """Ranked candidates and whether they are all the matches. The newest KEYWORD_WINDOW
    images are searched first; older images only when the window holds fewer than `want`
    matches, which means the words are rare and the GIN index finds their few matches."""
    compiled = _postgres_tsquery(clauses)
    if compiled is None:
        return [], True
    tsquery, params = compiled
    with connection.cursor() as cursor:
        # One GIN lookup first: a query that matches nothing (a typo, before its correction)
        # would otherwise read the whole window to learn it (14 ms at 1M against 0.5 ms).
        cursor.execute(
            f"SELECT max(image_id), EXISTS (SELECT 1 FROM gallery_imagesearch s "  # noqa: S608 - placeholders only
            f"WHERE s.search_vector @@ ({tsquery})) FROM gallery_imagesearch",
            params,
        )
        newest, any_match = cursor.fetchone()
        if not any_match:
            return [], True
        newest = newest or 0
    floor = newest - KEYWORD_WINDOW
    ranked = _postgres_rank(tsquery, params, newer_than=floor, older_than=None, limit=KEYWORD_CANDIDATES)
    complete = floor <= 0 and len(ranked) < KEYWORD_CANDIDATES
    if len(ranked) < want and floor > 0:
        # The window's share of matches tells how far back `want` lies. Near: read on
        # backwards (each row ~1 µs). Far: the words are rare, and the GIN index lists
        # their few matches (a bitmap of every match: cheap for rare words only).
        density = len(ranked) / KEYWORD_WINDOW
        reach = int((want - len(ranked)) / density) if density else None
        if reach is not None and reach <= KEYWORD_REACH:
            ranked += _postgres_rank(tsquery, params, newer_than=max(0, floor - KEYWORD_REACH), older_than=floor,
                                     limit=want - len(ranked))
            complete = floor - KEYWORD_REACH <= 0 and len(ranked) < want
        else:
            # Only the `want` newest: should the planner still prefer the backward primary-key
            # read to the bitmap (it estimates a phrase or an OR of words as common), it reads
            # want / density rows, not KEYWORD_CANDIDATES / density (67 -> 15 ms for "hokusai"
            # at 1M, where 0.8% of images match).
            older = _postgres_rank(tsquery, params, newer_than=None, older_than=floor, limit=want - len(ranked))
            complete = len(older) < want - len(ranked)
            ranked += older
    return sorted(ranked, key=lambda hit: (-hit[1], -hit[0])), complete


def _postgres_in_scope(clauses: list[Clause], limit: int, scope: tuple[str, tuple]) -> list[tuple[int, float]]:
    """Every match inside the caller's queryset, ranked (the exact, slower way)."""
    compiled = _postgres_tsquery(clauses)
    if compiled is None:
        return []
    tsquery, params = compiled
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.image_id, ts_rank_cd(s.search_vector, q.query) AS score "  # noqa: S608 - placeholders only
            f"FROM gallery_imagesearch s, (SELECT {tsquery} AS query) q "
            f"WHERE s.search_vector @@ q.query AND s.image_id IN ({scope[0]}) "
            f"ORDER BY score DESC, s.image_id DESC LIMIT %s",
            [*params, *scope[1], limit],
        )
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


# -- SQLite ----------------------------------------------------------------------------


def _fts5_match(clauses: list[Clause]) -> str:
    """The clauses as an FTS5 MATCH expression ("" for none). Words are letters and
    digits only, so quoting them is all the escaping FTS5 needs."""

    def keep(phrase: Phrase) -> bool:
        return not all(w in STOP_WORDS for w in phrase)

    def alternative_sql(alt: Alternative) -> str | None:
        phrases = [f'"{" ".join(p)}"' for p in alt if keep(p)]
        return " AND ".join(phrases) if phrases else None

    def clause_sql(clause: Clause) -> str | None:
        alternatives = [a for a in map(alternative_sql, clause.alternatives) if a]
        if not alternatives:
            return None
        return "(" + " OR ".join(f"({a})" for a in alternatives) + ")"

    positive = [s for s in (clause_sql(c) for c in clauses if not c.negated) if s]
    if not positive:
        return ""
    expression = " AND ".join(positive)
    for clause in clauses:
        if clause.negated and (excluded := clause_sql(clause)):
            expression = f"({expression}) NOT {excluded}"
    return expression


def _sqlite_candidates(clauses: list[Clause], want: int) -> tuple[list[tuple[int, float]], bool]:
    """The newest KEYWORD_CANDIDATES matches, ranked (FTS5 walks its doclists in rowid
    order and ranks from the index alone, so this costs little however common the word)."""
    match = _fts5_match(clauses)
    if not match:
        return [], True
    with connection.cursor() as cursor:
        # rank is bm25 with the column weights set in migration 0002; lower is better.
        cursor.execute(
            "SELECT rowid, rank FROM gallery_imagesearch_fts WHERE gallery_imagesearch_fts MATCH %s AND rowid >= "
            "coalesce((SELECT rowid FROM gallery_imagesearch_fts WHERE gallery_imagesearch_fts MATCH %s "
            "ORDER BY rowid DESC LIMIT 1 OFFSET %s), 0) ORDER BY rank, rowid DESC",
            [match, match, KEYWORD_CANDIDATES - 1],
        )
        ranked = [(row[0], -float(row[1])) for row in cursor.fetchall()]
    return ranked, len(ranked) < KEYWORD_CANDIDATES


def _sqlite_in_scope(clauses: list[Clause], limit: int, scope: tuple[str, tuple]) -> list[tuple[int, float]]:
    match = _fts5_match(clauses)
    if not match:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid, rank FROM gallery_imagesearch_fts "  # noqa: S608 - placeholders only
            f"WHERE gallery_imagesearch_fts MATCH %s AND rowid IN ({scope[0]}) ORDER BY rank, rowid DESC LIMIT %s",
            [match, *scope[1], limit],
        )
        return [(row[0], -float(row[1])) for row in cursor.fetchall()]


# -- both ------------------------------------------------------------------------------


def _search(clauses: list[Clause], limit: int, base_queryset) -> list[tuple[int, float]]:
    """Rank candidates (see the module's docstring), then keep those in the caller's
    queryset. When that leaves too few while more matches exist (a narrow queryset, a
    common word), rank every match inside the queryset instead: exact, and slower."""
    postgres = connection.vendor == "postgresql"
    candidates = _postgres_candidates if postgres else _sqlite_candidates
    ranked, complete = candidates(clauses, 2 * limit + 20)
    hits = scope_filter(ranked, limit, base_queryset)
    if len(hits) >= limit or complete:
        return hits
    return (_postgres_in_scope if postgres else _sqlite_in_scope)(clauses, limit, scope_sql(base_queryset))


def keyword_search(*, q: str, limit: int, base_queryset=None) -> list[tuple[int, float]]:
    """(image id, score) best first; scores compare within one result list only."""
    clauses = clauses_from_items(query_items(q))
    if all(c.negated for c in clauses):
        return []
    catalog = catalog_get()
    hits = _search(clauses_expand(clauses, catalog), limit, base_queryset)
    if len(hits) >= min(limit, FEW_RESULTS):
        return hits
    corrected = clauses_correct(clauses)
    if corrected is None:
        return hits
    seen = {image_id for image_id, _ in hits}
    extra = [h for h in _search(clauses_expand(corrected, catalog), limit, base_queryset) if h[0] not in seen]
    if not extra:
        return hits
    # Corrected matches rank after exact ones: scale their scores below the last exact score.
    ceiling = min((score for _, score in hits), default=1.0) * 0.5 if hits else 1.0
    top = max(score for _, score in extra) or 1.0
    return (hits + [(image_id, ceiling * score / top) for image_id, score in extra])[:limit]
