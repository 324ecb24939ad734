"""What a user would otherwise get, computed over the very same excerpts: BM25 and dense-only
search.

Both index the raw excerpt text (no summary), so the gap to ``standard`` shows what the engine adds.
"""

from __future__ import annotations

import numpy as np

from ..engine import SmolRag
from ..query.bm25 import LexicalIndex


class Baselines:
    def __init__(self, rag: SmolRag) -> None:
        items = list(rag.index.excerpts.items())
        self.ids = [k for k, _ in items]
        self.texts = {k: v["text"] for k, v in items}
        self.documents = {k: v["source"] for k, v in items}
        self.embedder = rag.providers.embedder
        self.bm25 = LexicalIndex(self.ids, [v["text"] for _, v in items])
        self.matrix = (
            self.embedder.embed([v["text"] for _, v in items]) if items else np.zeros((0, 1))
        )

    def search(self, system: str, query: str, k: int) -> list[str]:
        """Excerpt ids, best first."""
        if system == "bm25":
            return [i for i, _ in self.bm25.search(query, k)]
        if not self.ids:
            return []
        scores = self.matrix @ self.embedder.embed([query])[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top]
