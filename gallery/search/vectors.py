"""Nearest embeddings without a vector extension: an IVF index in plain tables.

Every ImageSearch row carries its MiniLM embedding (float16). Once a gallery has
IVF_MIN_ROWS embeddings, `ivf_train` clusters them with spherical k-means into about
sqrt(N) lists, stores the centroids in `gallery_ivfcentroid` and writes each row's list
into `gallery_imagesearch.ivf_list` (raw columns, migration 0002); indexing assigns new
rows to their nearest centroid as they come. A query then scores the centroids (a few
hundred dot products), reads the embeddings of the NPROBE nearest lists — through an
index that carries the embedding itself, so the read is one range per list — and scores
those exactly. At 1M images that is ~1% of the vectors per query, with nothing held in
the web processes' memory but the centroids (1000 x 384 float32, 1.5 MB).

Below IVF_MIN_ROWS, and whenever the caller's queryset is small, every candidate's
vector is read and scored: exact, and cheap at that size. The caller's queryset is
applied in the same statement, so results never leave it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import numpy as np
from django.db import connection, transaction

from gallery.embeddings import DIMENSIONS, vectors_unpack
from gallery.search.scope import scope_sql

IVF_MIN_ROWS = 20_000
NPROBE = 12
# A caller's queryset this small is scanned exactly when the probed lists come up short.
EXACT_SCOPE_ROWS = 50_000
TRAIN_SAMPLE = 60_000
TRAIN_ITERATIONS = 12
CENTROID_CHECK_SECONDS = 30.0

_lock = threading.Lock()
_centroids: tuple[float, int, np.ndarray | None] | None = None  # (checked at, version, matrix)


# -- centroids ---------------------------------------------------------------------------


def centroids_get() -> np.ndarray | None:
    """The IVF centroids (lists x DIMENSIONS, float32), re-read when their version
    changes; the version is checked at most every CENTROID_CHECK_SECONDS per process."""
    global _centroids
    now = time.monotonic()
    current = _centroids
    if current is not None and now - current[0] < CENTROID_CHECK_SECONDS:
        return current[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM gallery_ivfcentroid WHERE list = 0")
        row = cursor.fetchone()
        version = row[0] if row else 0
        if current is not None and current[1] == version:
            matrix = current[2]
        elif row is None:
            matrix = None
        else:
            cursor.execute("SELECT centroid FROM gallery_ivfcentroid ORDER BY list")
            matrix = np.stack([np.frombuffer(bytes(r[0]), dtype="<f4") for r in cursor.fetchall()])
    with _lock:
        _centroids = (now, version, matrix)
    return matrix


def centroids_forget() -> None:
    global _centroids
    with _lock:
        _centroids = None


def lists_assign(vectors: np.ndarray, centroids: np.ndarray, *, chunk: int = 20_000) -> np.ndarray:
    """The nearest centroid (by cosine) of each row."""
    out = np.empty(len(vectors), dtype=np.int32)
    for start in range(0, len(vectors), chunk):
        out[start : start + chunk] = np.argmax(vectors[start : start + chunk] @ centroids.T, axis=1)
    return out


def kmeans_spherical(vectors: np.ndarray, k: int, *, iterations: int = TRAIN_ITERATIONS, seed: int = 0) -> np.ndarray:
    """k unit-length centroids of unit-length rows (cosine k-means)."""
    rng = np.random.default_rng(seed)
    centroids = vectors[rng.choice(len(vectors), size=k, replace=False)].copy()
    for _ in range(iterations):
        labels = lists_assign(vectors, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, vectors)
        norms = np.linalg.norm(sums, axis=1)
        empty = norms < 1e-6
        # An empty list takes a random point, so every list stays in use.
        sums[empty] = vectors[rng.choice(len(vectors), size=int(empty.sum()), replace=False)]
        norms[empty] = 1.0
        centroids = (sums / norms[:, None]).astype(np.float32)
    return centroids


def ivf_list_count(rows: int) -> int:
    return max(16, min(4096, round(math.sqrt(rows))))


def embeddings_iterate(*, batch: int = 20_000) -> Iterator[tuple[list[int], np.ndarray]]:
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT image_id, embedding FROM gallery_imagesearch WHERE image_id > %s AND embedding IS NOT NULL "
                "ORDER BY image_id LIMIT %s",
                [last, batch],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [r[0] for r in rows], vectors_unpack([bytes(r[1]) for r in rows])


def ivf_lists_write(ids: list[int], lists: np.ndarray | None) -> None:
    """Set ivf_list of these rows (None: clear them)."""
    if not ids:
        return
    with connection.cursor() as cursor:
        if lists is None:
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                cursor.execute(
                    f"UPDATE gallery_imagesearch SET ivf_list = NULL WHERE image_id IN ({', '.join(['%s'] * len(chunk))})",  # noqa: S608
                    chunk,
                )
        elif connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE gallery_imagesearch s SET ivf_list = v.list "
                "FROM unnest(%s::bigint[], %s::integer[]) AS v(image_id, list) "
                "WHERE s.image_id = v.image_id AND s.ivf_list IS DISTINCT FROM v.list",
                [list(ids), [int(x) for x in lists]],
            )
        else:
            cursor.executemany(
                "UPDATE gallery_imagesearch SET ivf_list = %s WHERE image_id = %s",
                [(int(lst), image_id) for image_id, lst in zip(ids, lists, strict=True)],
            )


def centroids_store(centroids: np.ndarray | None) -> None:
    version = time.time_ns()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM gallery_ivfcentroid")
        if centroids is not None:
            cursor.executemany(
                "INSERT INTO gallery_ivfcentroid (list, version, centroid) VALUES (%s, %s, %s)",
                [(i, version, np.asarray(c, dtype="<f4").tobytes()) for i, c in enumerate(centroids)],
            )
    centroids_forget()


def ivf_train(*, lists: int | None = None, sample: int = TRAIN_SAMPLE, seed: int = 0) -> int:
    """(Re)build the IVF index from the stored embeddings; returns the number of lists
    (0: the gallery is small enough to be scanned exactly, and no index is kept)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT image_id FROM gallery_imagesearch WHERE embedding IS NOT NULL")
        ids = np.fromiter((r[0] for r in cursor.fetchall()), dtype=np.int64)
    if len(ids) < IVF_MIN_ROWS and not lists:
        ivf_build(None)
        return 0
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(ids, size=min(sample, len(ids)), replace=False))
    vectors = []
    with connection.cursor() as cursor:
        for start in range(0, len(chosen), 5000):
            chunk = [int(x) for x in chosen[start : start + 5000]]
            cursor.execute(
                f"SELECT embedding FROM gallery_imagesearch WHERE image_id IN ({', '.join(['%s'] * len(chunk))})",  # noqa: S608
                chunk,
            )
            vectors.append(vectors_unpack([bytes(r[0]) for r in cursor.fetchall()]))
    centroids = kmeans_spherical(np.concatenate(vectors), min(lists or ivf_list_count(len(ids)), len(chosen)), seed=seed)
    ivf_build(centroids)
    return len(centroids)


@transaction.atomic
def ivf_build(centroids: np.ndarray | None) -> None:
    """Store these centroids (None: drop the IVF index) and put every row in its list."""
    centroids_store(centroids)
    if centroids is None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE gallery_imagesearch SET ivf_list = NULL WHERE ivf_list IS NOT NULL")
        return
    for batch_ids, batch_vectors in embeddings_iterate():
        ivf_lists_write(batch_ids, lists_assign(batch_vectors, centroids))


# -- search ------------------------------------------------------------------------------


def _scored(rows: list[tuple], query: np.ndarray, limit: int, exclude: int | None) -> list[tuple[int, float]]:
    if exclude is not None:
        rows = [r for r in rows if r[0] != exclude]
    if not rows:
        return []
    scores = vectors_unpack([bytes(r[1]) for r in rows]) @ query
    k = min(limit, len(rows))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((-np.array([rows[i][0] for i in top]), -scores[top]))]
    return [(rows[i][0], float(scores[i])) for i in top]


def _rows(scope: tuple[str, tuple], lists: list[int] | None) -> list[tuple]:
    scope_query, scope_params = scope
    with connection.cursor() as cursor:
        if lists is None:
            cursor.execute(
                f"SELECT image_id, embedding FROM gallery_imagesearch "  # noqa: S608 - placeholders only
                f"WHERE embedding IS NOT NULL AND image_id IN ({scope_query})",
                list(scope_params),
            )
        else:
            cursor.execute(
                f"SELECT image_id, embedding FROM gallery_imagesearch "  # noqa: S608 - placeholders only
                f"WHERE ivf_list IN ({', '.join(['%s'] * len(lists))}) AND image_id IN ({scope_query})",
                [*lists, *scope_params],
            )
        return cursor.fetchall()


def _scope_is_small(scope: tuple[str, tuple]) -> bool:
    scope_query, scope_params = scope
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM ({scope_query} LIMIT {EXACT_SCOPE_ROWS + 1}) AS scope",  # noqa: S608
            list(scope_params),
        )
        return cursor.fetchone()[0] <= EXACT_SCOPE_ROWS


def vector_search(
    *, vector: np.ndarray, limit: int, base_queryset=None, exclude: int | None = None, nprobe: int = NPROBE
) -> list[tuple[int, float]]:
    """(image id, cosine) of the nearest embeddings within the queryset, best first."""
    query = np.asarray(vector, dtype=np.float32).reshape(DIMENSIONS)
    scope = scope_sql(base_queryset)
    centroids = centroids_get()
    if centroids is None:
        return _scored(_rows(scope, None), query, limit, exclude)
    order = np.argsort(-(centroids @ query))
    hits = _scored(_rows(scope, [int(x) for x in order[:nprobe]]), query, limit, exclude)
    if len(hits) >= limit:
        return hits
    # Short: the queryset keeps few of the probed rows. Small querysets are scanned
    # exactly; large ones get a wider probe.
    if _scope_is_small(scope):
        return _scored(_rows(scope, None), query, limit, exclude)
    return _scored(_rows(scope, [int(x) for x in order[: nprobe * 8]]), query, limit, exclude)
