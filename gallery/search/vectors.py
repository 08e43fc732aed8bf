"""Nearest embeddings without a vector extension: an IVF index with compact codes, in
plain tables.

Every ImageSearch row carries its MiniLM embedding (384 x float16 = 768 bytes). Once a
gallery has IVF_MIN_ROWS embeddings, `ivf_train` builds an index from a sample:
- spherical k-means centroids, about sqrt(N) of them (`gallery_ivfcentroid`); each row
  keeps the number of its nearest centroid, its list (`gallery_imagesearch.ivf_list`);
- a PCA projection to CODE_DIMENSIONS with one int8 step per dimension
  (`gallery_ivfprojection`); each row keeps its embedding's 128-byte code
  (`gallery_imagesearch.ivf_code`).
An index on (ivf_list) that carries image_id and ivf_code holds the lists side by side.
Indexing assigns and encodes new rows as they come (raw columns, migrations 0002-0003).

A query scores the centroids, reads the codes of the NPROBE nearest lists (one index
range each, ~1% of a 1M gallery: ~12k codes, 1.6 MB), ranks them by approximate cosine,
keeps the head that lies in the caller's queryset (filtered by primary key: joining the
queryset into the read would scan it), and re-scores that head exactly with the stored
float16 embeddings. Per query ~1.6 MB is read instead of the ~9 MB the lists' full
embeddings would be, which at 1M images decided the latency (text protocol: ~5 µs per
768-byte row on this machine). Web processes hold only the centroids and projection
(~1.7 MB).

Below IVF_MIN_ROWS, and when the caller's queryset keeps too few of the probed rows and
is small, the queryset's own embeddings are read and scored exactly: cheap at that size.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from gallery.embeddings import DIMENSIONS, vectors_unpack
from gallery.search.scope import scope_filter, scope_sql

IVF_MIN_ROWS = 20_000
NPROBE = 12
CODE_DIMENSIONS = 128
# Candidates re-scored exactly: RERANK per result asked for, at least RERANK_MIN, and
# at most RERANK_EXTRA beyond the results (deep results keep the approximate order).
RERANK = 4
RERANK_MIN = 100
RERANK_EXTRA = 300
# A caller's queryset this small is scanned exactly when the probed lists come up short.
EXACT_SCOPE_ROWS = 50_000
TRAIN_SAMPLE = 60_000
TRAIN_ITERATIONS = 12
INDEX_CHECK_SECONDS = 30.0


def _dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """matrix @ vector without BLAS: at these sizes (~10k rows) one core takes ~2 ms,
    and BLAS's worker threads, spinning for a core that a busy server lacks, took 10x that."""
    return np.einsum("ij,j->i", matrix, vector)


@dataclass(frozen=True)
class IvfIndex:
    version: int
    centroids: np.ndarray  # lists x DIMENSIONS
    mean: np.ndarray  # DIMENSIONS
    components: np.ndarray  # CODE_DIMENSIONS x DIMENSIONS
    step: np.ndarray  # CODE_DIMENSIONS: the value of one int8 step per projected dimension

    @property
    def lists(self) -> int:
        return len(self.centroids)

    def assign(self, vectors: np.ndarray, *, chunk: int = 20_000) -> np.ndarray:
        """The nearest centroid (by cosine) of each row."""
        return lists_assign(vectors, self.centroids, chunk=chunk)

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        projected = (vectors - self.mean) @ self.components.T / self.step
        return np.clip(np.rint(projected), -127, 127).astype(np.int8)

    def approximate(self, codes: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Approximate cosine of each coded row with a unit query: v = mean + codes·step·components."""
        weights = (self.components @ query) * self.step
        return float(self.mean @ query) + _dot(codes.astype(np.float32), weights.astype(np.float32))

    @classmethod
    def train(cls, vectors: np.ndarray, lists: int, *, seed: int = 0) -> IvfIndex:
        centroids = kmeans_spherical(vectors, min(lists, len(vectors)), seed=seed)
        mean = vectors.mean(axis=0)
        _, _, components = np.linalg.svd(vectors - mean, full_matrices=False)
        components = components[:CODE_DIMENSIONS]
        if len(components) < CODE_DIMENSIONS:  # a sample smaller than the code: pad with unused dimensions
            components = np.vstack([components, np.zeros((CODE_DIMENSIONS - len(components), DIMENSIONS))])
        projected = (vectors - mean) @ components.T
        # The 99.9th percentile, not the maximum: one outlier would coarsen every code.
        step = np.maximum(np.percentile(np.abs(projected), 99.9, axis=0), 1e-6) / 127
        return cls(version=time.time_ns(), centroids=centroids.astype(np.float32), mean=mean.astype(np.float32),
                   components=components.astype(np.float32), step=step.astype(np.float32))


_lock = threading.Lock()
_index: tuple[float, int, IvfIndex | None] | None = None  # (checked at, version, index)


def ivf_index_get() -> IvfIndex | None:
    """The IVF index, re-read when its version changes; the version is checked at most
    every INDEX_CHECK_SECONDS per process."""
    global _index
    now = time.monotonic()
    current = _index
    if current is not None and now - current[0] < INDEX_CHECK_SECONDS:
        return current[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, mean, components, step FROM gallery_ivfprojection")
        row = cursor.fetchone()
        version = row[0] if row else 0
        if current is not None and current[1] == version:
            index = current[2]
        elif row is None:
            index = None
        else:
            cursor.execute("SELECT centroid FROM gallery_ivfcentroid ORDER BY list")
            centroids = np.stack([np.frombuffer(bytes(r[0]), dtype="<f4") for r in cursor.fetchall()])
            index = IvfIndex(
                version=version, centroids=centroids, mean=np.frombuffer(bytes(row[1]), dtype="<f4"),
                components=np.frombuffer(bytes(row[2]), dtype="<f4").reshape(CODE_DIMENSIONS, DIMENSIONS),
                step=np.frombuffer(bytes(row[3]), dtype="<f4"),
            )
    with _lock:
        _index = (now, version, index)
    return index


def ivf_index_forget() -> None:
    global _index
    with _lock:
        _index = None


def lists_assign(vectors: np.ndarray, centroids: np.ndarray, *, chunk: int = 20_000) -> np.ndarray:
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
    """Every stored embedding, in batches of (image ids, float32 matrix), by id."""
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


def ivf_rows_write(ids: list[int], vectors: np.ndarray | None, index: IvfIndex | None) -> None:
    """Put these rows in their lists with their codes (no vectors or no index: take them out)."""
    if not ids:
        return
    with connection.cursor() as cursor:
        if vectors is None or index is None:
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                cursor.execute(
                    f"UPDATE gallery_imagesearch SET ivf_list = NULL, ivf_code = NULL "  # noqa: S608
                    f"WHERE image_id IN ({', '.join(['%s'] * len(chunk))})",
                    chunk,
                )
            return
        lists = [int(x) for x in index.assign(vectors)]
        codes = [code.tobytes() for code in index.encode(vectors)]
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE gallery_imagesearch s SET ivf_list = v.list, ivf_code = v.code "
                "FROM unnest(%s::bigint[], %s::integer[], %s::bytea[]) AS v(image_id, list, code) "
                "WHERE s.image_id = v.image_id",
                [list(ids), lists, codes],
            )
        else:
            cursor.executemany(
                "UPDATE gallery_imagesearch SET ivf_list = %s, ivf_code = %s WHERE image_id = %s",
                list(zip(lists, codes, ids, strict=True)),
            )


def ivf_store(index: IvfIndex | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM gallery_ivfcentroid")
        cursor.execute("DELETE FROM gallery_ivfprojection")
        if index is not None:
            cursor.executemany(
                "INSERT INTO gallery_ivfcentroid (list, version, centroid) VALUES (%s, %s, %s)",
                [(i, index.version, np.asarray(c, dtype="<f4").tobytes()) for i, c in enumerate(index.centroids)],
            )
            cursor.execute(
                "INSERT INTO gallery_ivfprojection (version, mean, components, step) VALUES (%s, %s, %s, %s)",
                [index.version, *(np.asarray(a, dtype="<f4").tobytes() for a in (index.mean, index.components, index.step))],
            )
    ivf_index_forget()


def ivf_train(*, lists: int | None = None, sample: int = TRAIN_SAMPLE, seed: int = 0) -> int:
    """(Re)build the IVF index from the stored embeddings; returns the number of lists
    (0: the gallery is small enough to be scanned exactly, and no index is kept)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT image_id FROM gallery_imagesearch WHERE embedding IS NOT NULL")
        ids = np.fromiter((r[0] for r in cursor.fetchall()), dtype=np.int64)
    if (len(ids) < IVF_MIN_ROWS and not lists) or len(ids) < 2:
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
    index = IvfIndex.train(np.concatenate(vectors), lists or ivf_list_count(len(ids)), seed=seed)
    ivf_build(index)
    return index.lists


@transaction.atomic
def ivf_build(index: IvfIndex | None) -> None:
    """Store this index (None: drop it) and put every row in its list, with its code."""
    ivf_store(index)
    if index is None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE gallery_imagesearch SET ivf_list = NULL, ivf_code = NULL WHERE ivf_list IS NOT NULL")
        return
    for batch_ids, batch_vectors in embeddings_iterate():
        ivf_rows_write(batch_ids, batch_vectors, index)


# -- search ------------------------------------------------------------------------------


def _exact(rows: list[tuple], query: np.ndarray, limit: int, exclude: int | None) -> list[tuple[int, float]]:
    """(image id, cosine) of the best `limit` of these (image id, embedding) rows, best first."""
    rows = [r for r in rows if r[0] != exclude and r[1] is not None]
    if not rows:
        return []
    scores = _dot(vectors_unpack([bytes(r[1]) for r in rows]), query)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    top = np.lexsort((-ids, -scores))[:limit]
    return [(int(ids[i]), float(scores[i])) for i in top]


def _rows_by_id(ids: list[int]) -> list[tuple]:
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT image_id, embedding FROM gallery_imagesearch WHERE image_id IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608
            ids,
        )
        return cursor.fetchall()


def _rows_in_scope(scope: tuple[str, tuple]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT image_id, embedding FROM gallery_imagesearch "  # noqa: S608 - placeholders only
            f"WHERE embedding IS NOT NULL AND image_id IN ({scope[0]})",
            list(scope[1]),
        )
        return cursor.fetchall()


def _scope_is_small(scope: tuple[str, tuple]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM ({scope[0]} LIMIT {EXACT_SCOPE_ROWS + 1}) AS scope",  # noqa: S608
            list(scope[1]),
        )
        return cursor.fetchone()[0] <= EXACT_SCOPE_ROWS


def _probe_read(lists: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, int8 codes) of every coded row in these lists. PostgreSQL concatenates
    them into two byte strings, one row: ~12k rows of Python objects per query cost more
    than the read itself (measured ~60 ms of a ~110 ms image page at 1M images)."""
    placeholders = ", ".join(["%s"] * len(lists))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT string_agg(int8send(image_id), ''::bytea), string_agg(ivf_code, ''::bytea) "  # noqa: S608
                f"FROM gallery_imagesearch WHERE ivf_list IN ({placeholders}) AND ivf_code IS NOT NULL",
                lists,
            )
            packed_ids, packed_codes = cursor.fetchone()
            if packed_ids is None:
                return np.zeros(0, dtype=np.int64), np.zeros((0, CODE_DIMENSIONS), dtype=np.int8)
            ids = np.frombuffer(bytes(packed_ids), dtype=">i8").astype(np.int64)
            return ids, np.frombuffer(bytes(packed_codes), dtype=np.int8).reshape(len(ids), CODE_DIMENSIONS)
        cursor.execute(
            f"SELECT image_id, ivf_code FROM gallery_imagesearch "  # noqa: S608 - placeholders only
            f"WHERE ivf_list IN ({placeholders}) AND ivf_code IS NOT NULL",
            lists,
        )
        rows = cursor.fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    codes = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype=np.int8).reshape(len(rows), CODE_DIMENSIONS)
    return ids, codes


def _probe(index: IvfIndex, lists: list[int], query: np.ndarray, limit: int, base_queryset,
           exclude: int | None) -> list[tuple[int, float]]:
    ids, codes = _probe_read(lists)
    if not len(ids):
        return []
    approximate = index.approximate(codes, query)
    if exclude is not None:
        approximate[ids == exclude] = -np.inf
    wanted = max(min(RERANK * limit, limit + RERANK_EXTRA), RERANK_MIN)
    # The queryset keeps most rows as a rule: its filter needs only the head of the ranking.
    head = np.argsort(-approximate)[: 20 * wanted]
    ranked = [(int(ids[i]), float(approximate[i])) for i in head if approximate[i] > -np.inf]
    candidates = scope_filter(ranked, wanted, base_queryset)
    return _exact(_rows_by_id([image_id for image_id, _ in candidates]), query, limit, exclude)


def vector_search(
    *, vector: np.ndarray, limit: int, base_queryset=None, exclude: int | None = None, nprobe: int = NPROBE
) -> list[tuple[int, float]]:
    """(image id, cosine) of the nearest embeddings within the queryset, best first.

    If the probed lists hold too few rows of the queryset, a small queryset is scanned
    exactly and a large one gets a probe eight times wider."""
    query = np.asarray(vector, dtype=np.float32).reshape(DIMENSIONS)
    index = ivf_index_get()
    if index is None:
        return _exact(_rows_in_scope(scope_sql(base_queryset)), query, limit, exclude)
    order = [int(x) for x in np.argsort(-_dot(index.centroids, query))]
    hits = _probe(index, order[:nprobe], query, limit, base_queryset, exclude)
    if len(hits) >= limit or nprobe >= len(order):
        return hits
    scope = scope_sql(base_queryset)
    if _scope_is_small(scope):
        return _exact(_rows_in_scope(scope), query, limit, exclude)
    return _probe(index, order[: nprobe * 8], query, limit, base_queryset, exclude)
