"""The vectors of an OpenAI-compatible embeddings response body, checked: one per input, all of
one length (and of the expected one), each a unit vector.

The body is read as JSON rather than through the SDK's models: the SDK turns each base64 vector
into a list of floats and a pydantic object, a third of the client's CPU in a grouped ingestion.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from .base import ProviderError


def _index(entry: dict[str, Any]) -> int:
    index = entry.get("index", 0)
    return index if isinstance(index, int) else 0


def _vector(embedding: Any) -> Any:
    """One vector of a response: base64 little-endian float32 as asked, or a list of numbers from a
    server that ignores ``encoding_format``.
    """
    if isinstance(embedding, str):
        try:
            return np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4")
        except (binascii.Error, ValueError) as exc:
            raise ProviderError(f"embeddings response has an undecodable vector: {exc}") from exc
    return embedding


def embedding_matrix(response: Any, count: int, dim: int | None) -> np.ndarray:
    entries = response.get("data") if isinstance(response, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ProviderError("embeddings response has no list of vectors under 'data'")
    data = sorted(entries, key=_index)
    if len(data) != count:
        raise ProviderError(f"embeddings response has {len(data)} vectors for {count} inputs")
    try:
        matrix = np.asarray([_vector(d.get("embedding")) for d in data], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"embeddings response has vectors of different lengths: {exc}") from exc
    if matrix.ndim != 2 or not matrix.shape[1] or (dim and matrix.shape[1] != dim):
        expected = f"{dim}-d" if dim else "non-empty ones"
        raise ProviderError(
            f"embeddings response has {matrix.shape[-1]}-d vectors, expected {expected}"
        )
    if not np.isfinite(matrix).all():
        raise ProviderError("embeddings response has vectors with missing or non-finite values")
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
