"""Exact top-k kernels over a (memory-mapped) matrix of L2-normalised rows.

float32 matrices are scanned block by block with BLAS matrix products (numpy). float16 and int8
matrices go through usearch's SIMD brute-force search instead: numpy has no fast mixed-precision
product, and converting blocks to float32 costs more than the scan saves.
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 65_536
CONVERT_BLOCK_ROWS = 8_192  # rows converted to float32 at a time when SIMD search cannot be used
SIMD_MAX_DEAD = 4_096  # beyond this many deleted rows, over-fetching costs more than converting


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


def quantise_int8(rows: np.ndarray) -> np.ndarray:
    """Per-row symmetric int8 codes (each row scaled by its largest component). Cosine similarity is
    unchanged by a row's scale, so codes are compared by cosine and need no stored scale.
    """
    rows = np.asarray(rows, dtype=np.float32)
    peak = np.maximum(np.abs(rows).max(axis=-1, keepdims=True), np.float32(1e-12))
    return np.round(rows * (127.0 / peak)).astype(np.int8)


def top_k(
    matrix: np.ndarray, alive: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k scores (dot products, or cosine for int8 codes) and row numbers per query, best
    first; -1 marks empty slots. ``queries`` are float32; int8 matrices get int8-quantised queries.
    """
    dead = len(alive) - int(alive.sum())
    if matrix.dtype != np.float32 and dead <= SIMD_MAX_DEAD:
        return _simd_top_k(matrix, alive, queries, k, dead)
    block_rows = BLOCK_ROWS if matrix.dtype == np.float32 else CONVERT_BLOCK_ROWS
    return _blockwise_top_k(matrix, alive, queries, k, block_rows)


def _simd_top_k(
    matrix: np.ndarray, alive: np.ndarray, queries: np.ndarray, k: int, dead: int
) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime  # noqa: F401  -- must be loaded before usearch (see stores/ann.py)
    from usearch.index import MetricKind, search

    int8 = matrix.dtype == np.int8
    typed = quantise_int8(queries) if int8 else queries.astype(matrix.dtype)
    want = min(k + dead, len(matrix))
    found = search(matrix, typed, want, MetricKind.Cos if int8 else MetricKind.IP, exact=True)
    keys = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)
    scores = 1.0 - np.asarray(found.distances, dtype=np.float32).reshape(len(queries), -1)
    counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(-1)
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.full((len(queries), k), -1, dtype=np.int64)
    for i, count in enumerate(counts):
        rows, row_scores = keys[i, :count], scores[i, :count]
        keep = alive[rows]
        rows, row_scores = rows[keep][:k], row_scores[keep][:k]
        best_scores[i, : len(rows)], best_rows[i, : len(rows)] = row_scores, rows
    return best_scores, best_rows


def _blockwise_top_k(
    matrix: np.ndarray, alive: np.ndarray, queries: np.ndarray, k: int, block_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    n_queries = len(queries)
    if matrix.dtype == np.int8:
        queries = quantise_int8(queries).astype(np.float32)
        queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    best_scores = np.full((n_queries, 0), -np.inf, dtype=np.float32)
    best_rows = np.full((n_queries, 0), -1, dtype=np.int64)
    for start in range(0, len(matrix), block_rows):
        block = np.asarray(matrix[start : start + block_rows], dtype=np.float32)
        scores = queries @ block.T
        if matrix.dtype == np.int8:
            scores /= np.maximum(np.linalg.norm(block, axis=1), 1e-12)
        scores[:, ~alive[start : start + len(block)]] = -np.inf
        width = min(k, scores.shape[1])
        part = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        best_scores = np.concatenate(
            [best_scores, np.take_along_axis(scores, part, axis=1)], axis=1
        )
        best_rows = np.concatenate([best_rows, part + start], axis=1)
        if best_scores.shape[1] > k:
            keep = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(best_scores, keep, axis=1)
            best_rows = np.take_along_axis(best_rows, keep, axis=1)
    order = np.argsort(-best_scores, axis=1, kind="stable")
    best_scores = np.take_along_axis(best_scores, order, axis=1)
    best_rows = np.take_along_axis(best_rows, order, axis=1)
    best_rows[~np.isfinite(best_scores)] = -1
    return best_scores, best_rows
