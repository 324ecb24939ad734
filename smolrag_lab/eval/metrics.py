"""Retrieval metrics with document-level relevance, as the shared evaluation format defines them.

``ranking`` is the list of document names of the retrieved excerpts, best first (a document may
appear several times). Precision, hit and MRR count excerpts; recall counts distinct relevant
documents; nDCG ranks distinct documents (first occurrence) with the grades as gains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np


def precision_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return sum(doc in relevant for doc in ranking[:k]) / k if k else 0.0


def hit_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return float(any(doc in relevant for doc in ranking[:k]))


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return len({doc for doc in ranking[:k] if doc in relevant}) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: Mapping[str, int]) -> float:
    return next((1.0 / rank for rank, doc in enumerate(ranking, 1) if doc in relevant), 0.0)


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    documents = list(dict.fromkeys(ranking))[:k]
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(documents))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def normalise_passage(text: str) -> str:
    """Lower case, markdown marks and punctuation dropped, whitespace collapsed."""
    text = re.sub(r"[`*_#>|\[\]()]", " ", text.lower())
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def span_at_k(excerpts: Sequence[str], gold_span: str, k: int) -> float:
    """1 when the gold passage lies inside one of the first ``k`` excerpts."""
    gold = normalise_passage(gold_span)
    return float(bool(gold) and any(gold in normalise_passage(text) for text in excerpts[:k]))


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    if not len(values_ms):
        return {"p50": 0.0, "p95": 0.0, "max": 0.0, "mean": 0.0}
    arr = np.asarray(values_ms, dtype=float)
    return {
        "p50": round(float(np.percentile(arr, 50)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "max": round(float(arr.max()), 3),
        "mean": round(float(arr.mean()), 3),
    }


def score_ranking(
    ranking: Sequence[str],
    excerpts: Sequence[str],
    relevant: Mapping[str, int],
    ks: Sequence[int],
    gold_span: str | None = None,
) -> dict[str, float]:
    """Every metric for one query: precision/recall/hit/ndcg at each k, mrr, and span at each k."""
    scores: dict[str, float] = {"mrr": reciprocal_rank(ranking, relevant)}
    for k in ks:
        scores[f"precision@{k}"] = precision_at_k(ranking, relevant, k)
        scores[f"recall@{k}"] = recall_at_k(ranking, relevant, k)
        scores[f"hit@{k}"] = hit_at_k(ranking, relevant, k)
        scores[f"ndcg@{k}"] = ndcg_at_k(ranking, relevant, k)
        if gold_span is not None:
            scores[f"span@{k}"] = span_at_k(excerpts, gold_span, k)
    return scores
