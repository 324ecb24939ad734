"""Embeddings from an OpenAI-compatible endpoint, through :class:`OpenAIClient`'s retries, limits,
cache and statistics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..aio import run_sync
from .base import Embedder
from .openai_client import OpenAIClient


class OpenAIEmbedder(Embedder):
    """Embeddings from an OpenAI-compatible endpoint, batched by ``openai_embedding_batch_size``."""

    backend = "openai"
    KNOWN_DIMS = {
        "text-embedding-3-small": 1536,
        "text-embedding-3-large": 3072,
        "text-embedding-ada-002": 1536,
    }

    @property
    def parallel_requests(self) -> int:  # type: ignore[override]
        return self.client.settings.max_concurrent_requests

    def __init__(
        self, client: OpenAIClient, model: str, dim: int | None = None, max_tokens: int = 8191
    ) -> None:
        super().__init__()
        self.client = client
        self.stats = client.stats
        self.name = model
        self.max_tokens = max_tokens
        self.dim = dim or self.KNOWN_DIMS.get(model) or self._probe_dim()

    def _probe_dim(self) -> int:
        return int(run_sync(self.client._embed(["dimension probe"], self.name, None)).shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return run_sync(self.client._embed(list(texts), self.name, self.dim))

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await self.client.embed(texts, self.name, self.dim)
