"""Gallery search: keyword, semantic and hybrid, and similar images.

- keyword (gallery.search.keyword): PostgreSQL full-text search or SQLite FTS5 over the
  prompt, the names of its modifiers and the author, with catalog aliases and spelling
  corrections.
- semantic (gallery.search.vectors): MiniLM embeddings of the prompts, nearest by cosine
  through an IVF index kept in plain tables.
- hybrid: both rankings fused by reciprocal rank (k = 60).

Every function takes `base_queryset`, an Image queryset the caller has already narrowed
to what the viewer may see (and any filters); results always lie within it. Without one,
only public images that no moderator hid are searched.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

import numpy as np

from gallery.embeddings import vectors_unpack
from gallery.models import ImageSearch
from gallery.search.keyword import keyword_search
from gallery.search.text import query_items
from gallery.search.vectors import vector_search

SEARCH_MODES = ("keyword", "semantic", "hybrid")
MAX_LIMIT = 500
RRF_K = 60
# How far down each ranking hybrid search looks before fusing.
HYBRID_DEPTH = 100
# Semantic matches below this cosine are noise for MiniLM (unrelated prompts score ~0-0.2).
SEMANTIC_MIN_SCORE = 0.25
QUERY_CACHE_SIZE = 512


@dataclass(frozen=True)
class SearchHit:
    image_id: int
    score: float


class SearchModeError(ValueError):
    code = "invalid_search_mode"


def _limit(limit: int) -> int:
    return max(0, min(int(limit), MAX_LIMIT))


_query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
_query_lock = Lock()


def query_vector(text: str) -> np.ndarray:
    """The MiniLM embedding of a query, remembered for the last QUERY_CACHE_SIZE queries."""
    from gallery.embeddings import texts_embed

    with _query_lock:
        if text in _query_vectors:
            _query_vectors.move_to_end(text)
            return _query_vectors[text]
    vector = texts_embed([text])[0]
    with _query_lock:
        _query_vectors[text] = vector
        while len(_query_vectors) > QUERY_CACHE_SIZE:
            _query_vectors.popitem(last=False)
    return vector


def query_vectors_forget() -> None:
    with _query_lock:
        _query_vectors.clear()


def semantic_text(q: str) -> str:
    """What semantic search embeds: the query's words without its syntax, and without
    the words it excludes ("-fox" means "not fox", which an embedding cannot say)."""
    return " ".join(" ".join(item.words) for item in query_items(q) if not item.negated)


def _semantic(q: str, limit: int, base_queryset) -> list[tuple[int, float]]:
    text = semantic_text(q)
    if not text:
        return []
    hits = vector_search(vector=query_vector(text), limit=limit, base_queryset=base_queryset)
    return [(image_id, score) for image_id, score in hits if score >= SEMANTIC_MIN_SCORE]


def _fuse(rankings: list[list[tuple[int, float]]], limit: int) -> list[SearchHit]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (image_id, _) in enumerate(ranking, start=1):
            scores[image_id] = scores.get(image_id, 0.0) + 1.0 / (RRF_K + rank)
    # Ties (an image first in one list vs first in the other) go to the keyword ranking's order.
    first_seen = {image_id: i for i, (image_id, _) in enumerate(hit for r in rankings for hit in r)}
    ordered = sorted(scores, key=lambda image_id: (-scores[image_id], first_seen[image_id]))
    return [SearchHit(image_id, scores[image_id]) for image_id in ordered[:limit]]


def images_search(*, q: str, mode: str = "hybrid", limit: int = 50, base_queryset=None) -> list[SearchHit]:
    """Images matching `q`, best first, within `base_queryset` (default: public, not hidden).

    Any string is a valid query: quotes, operators, NUL bytes and very long strings are
    read as words or dropped; a query without words finds nothing."""
    if mode not in SEARCH_MODES:
        raise SearchModeError(f"Unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)}.")
    limit = _limit(limit)
    if limit == 0:
        return []
    if mode == "keyword":
        hits = keyword_search(q=q, limit=limit, base_queryset=base_queryset)
    elif mode == "semantic":
        hits = _semantic(q, limit, base_queryset)
    else:
        depth = max(limit, HYBRID_DEPTH)
        return _fuse([keyword_search(q=q, limit=depth, base_queryset=base_queryset),
                      _semantic(q, depth, base_queryset)], limit)
    return [SearchHit(image_id, score) for image_id, score in hits]


def images_similar(*, image_id: int, limit: int = 12, base_queryset=None) -> list[SearchHit]:
    """The images whose prompts mean the most like this one's, nearest first, within
    `base_queryset` (default: public, not hidden); never the image itself."""
    limit = _limit(limit)
    embedding = ImageSearch.objects.filter(image_id=image_id).values_list("embedding", flat=True).first()
    if limit == 0 or embedding is None:
        return []
    vector = vectors_unpack([bytes(embedding)])[0]
    hits = vector_search(vector=vector, limit=limit, base_queryset=base_queryset, exclude=image_id)
    return [SearchHit(i, score) for i, score in hits]


__all__ = ["SEARCH_MODES", "SearchHit", "SearchModeError", "images_search", "images_similar"]
