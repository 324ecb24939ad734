"""Persistent caches for embeddings and completions, keyed by a hash of the whole request."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..stores.base import KVStore
from .base import Embedder


def request_key(prefix: str, **request: Any) -> str:
    """A stable key for a request: sha256 of its canonical JSON (backend, model, full payload)."""
    payload = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
    return f"{prefix}-{hashlib.sha256(payload.encode('utf-8')).hexdigest()}"


class CompletionCache:
    def __init__(self, store: KVStore) -> None:
        self.store = store

    def get(self, key: str) -> dict | None:
        return self.store.get(key)

    def put(self, key: str, value: dict) -> None:
        self.store.set(key, value)


class CachedEmbedder(Embedder):
    """Wraps an embedder; only texts never embedded before by that backend and model reach it."""

    def __init__(self, inner: Embedder, store: KVStore) -> None:
        super().__init__()
        self.inner = inner
        self.store = store
        self.stats = inner.stats
        self.name, self.dim, self.max_tokens, self.backend = (
            inner.name,
            inner.dim,
            inner.max_tokens,
            inner.backend,
        )

    @property
    def parallel_requests(self) -> int:  # type: ignore[override]
        return self.inner.parallel_requests

    @property
    def pool_min_texts(self) -> int:
        return self.inner.pool_min_texts

    def _key(self, text: str) -> str:
        return request_key("emb", backend=self.backend, model=self.name, dim=self.dim, text=text)

    def _lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int], list[str]]:
        keys = [self._key(t) for t in texts]
        found = self.store.get_many(keys)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = []
        for i, key in enumerate(keys):
            if key in found:
                out[i] = np.frombuffer(base64.b64decode(found[key]), dtype=np.float32)
            else:
                missing.append(i)
        self.stats.add(
            "embeddings", cache_hits=len(texts) - len(missing), cache_misses=len(missing)
        )
        return out, missing, keys

    def _store(
        self, keys: list[str], missing: list[int], vectors: np.ndarray, out: np.ndarray
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        out[missing] = vectors
        self.store.set_many(
            {
                keys[i]: base64.b64encode(v.tobytes()).decode("ascii")
                for i, v in zip(missing, vectors, strict=True)
            }
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out, missing, keys = self._lookup(texts)
        if missing:
            self._store(keys, missing, self.inner.embed([texts[i] for i in missing]), out)
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        out, missing, keys = self._lookup(texts)
        if missing:
            self._store(keys, missing, await self.inner.aembed([texts[i] for i in missing]), out)
        return out
