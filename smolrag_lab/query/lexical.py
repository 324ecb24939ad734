"""The fusion of a dense and a lexical ranking (the BM25 index itself is in :mod:`.bm25`):
reciprocal rank fusion, or a convex combination of normalised scores whose weight can follow the
query.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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


def normalised(scores: Sequence[float], method: str) -> np.ndarray:
    """Scores of one ranking on a common scale: ``minmax`` to [0, 1], ``zscore`` to mean 0, sd 1.
    A constant list maps to ones (minmax) or zeros (zscore): it carries no ordering.
    """
    arr = np.asarray(scores, dtype=float)
    if arr.size == 0:
        return arr
    if method == "minmax":
        span = float(arr.max() - arr.min())
        return (arr - arr.min()) / span if span > 0 else np.ones_like(arr)
    if method == "zscore":
        sd = float(arr.std())
        return (arr - arr.mean()) / sd if sd > 0 else np.zeros_like(arr)
    raise ValueError(f"unknown normalisation {method!r}; choose minmax or zscore")


def peakedness(scores: Sequence[float]) -> float:
    """How far the best score stands above the rest of its list, in standard deviations: high when
    one candidate clearly matches (an exact term hit for BM25), near zero when the list is flat.
    """
    arr = np.asarray(scores, dtype=float)
    if arr.size < 2:
        return 0.0
    rest = arr[1:]
    sd = float(arr.std())
    return max(0.0, float(arr[0] - rest.mean()) / sd) if sd > 0 else 0.0


def convex_fusion(
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    dense_weight: float = 0.5,
    method: str = "minmax",
    adaptive: bool = False,
) -> list[tuple[str, float]]:
    """Ids by ``w * dense + (1 - w) * lexical`` over normalised scores (best first); an id missing
    from one list takes that list's lowest normalised score. With ``adaptive`` the weight leans
    towards the list whose best hit stands out more: ``w = a*pd / (a*pd + (1-a)*pl)`` for the prior
    ``a`` = ``dense_weight`` and peakedness ``pd``, ``pl`` (the prior alone when both lists are
    flat).
    """
    if not lexical:
        return list(dense)
    if not dense:
        return list(lexical)
    weight = dense_weight
    if adaptive:
        pd, pl = peakedness([s for _, s in dense]), peakedness([s for _, s in lexical])
        total = dense_weight * pd + (1 - dense_weight) * pl
        weight = dense_weight * pd / total if total > 0 else dense_weight
    lists = []
    for ranking in (dense, lexical):
        values = normalised([s for _, s in ranking], method)
        lists.append(dict(zip([i for i, _ in ranking], values, strict=True)))
    floors = [min(scores.values()) for scores in lists]
    ids = list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in lexical]))
    fused = [
        (
            i,
            weight * lists[0].get(i, floors[0]) + (1 - weight) * lists[1].get(i, floors[1]),
        )
        for i in ids
    ]
    order = np.argsort([-v for _, v in fused], kind="stable")
    return [(fused[k][0], float(fused[k][1])) for k in order]
