"""BM25 over excerpts (bm25s, English stop words and Snowball stemming), and reciprocal rank fusion."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

_STEMMER = Stemmer.Stemmer("english")


class LexicalIndex:
    """An in-memory BM25 index of ``texts`` under ``ids``; rebuilt by the engine when the index changes."""

    def __init__(
        self, ids: Sequence[str], texts: Sequence[str], k1: float = 0.9, b: float = 0.4
    ) -> None:
        self.ids = list(ids)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        if self.ids:
            tokens = bm25s.tokenize(
                list(texts), stopwords="en", stemmer=_STEMMER, show_progress=False
            )
            self._bm25.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        if not self.ids:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=_STEMMER, show_progress=False)
        if not tokens.vocab:
            return []
        k = min(k, len(self.ids))
        docs, scores = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60
) -> list[tuple[str, float]]:
    """Ids ordered by the sum of 1 / (k + rank) over the rankings that hold them (rank from 1)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = np.argsort([-v for v in scores.values()], kind="stable")
    items = list(scores.items())
    return [items[i] for i in order]
