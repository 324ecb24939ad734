"""Metrics on hand-worked examples."""

import math

import pytest

from smolrag_lab.eval.metrics import (
    hit_at_k,
    latency_summary,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    span_at_k,
)

RANKING = ["a.md", "x.md", "a.md", "b.md", "y.md"]  # excerpts' documents, best first
RELEVANT = {"a.md": 3, "b.md": 1, "c.md": 2}


def test_precision_counts_relevant_excerpts():
    assert precision_at_k(RANKING, RELEVANT, 1) == 1.0
    assert precision_at_k(RANKING, RELEVANT, 3) == pytest.approx(2 / 3)
    assert precision_at_k(RANKING, RELEVANT, 5) == pytest.approx(3 / 5)


def test_recall_counts_distinct_relevant_documents():
    assert recall_at_k(RANKING, RELEVANT, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, RELEVANT, 5) == pytest.approx(2 / 3)


def test_hit_and_reciprocal_rank():
    assert hit_at_k(["x.md", "y.md", "b.md"], RELEVANT, 2) == 0.0
    assert hit_at_k(["x.md", "y.md", "b.md"], RELEVANT, 3) == 1.0
    assert reciprocal_rank(["x.md", "y.md", "b.md"], RELEVANT) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x.md"], RELEVANT) == 0.0


def test_ndcg_uses_grades_and_distinct_documents():
    # distinct documents: a(3), x(0), b(1), y(0); ideal: 3, 2, 1
    dcg = 3 / math.log2(2) + 0 + 1 / math.log2(4)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKING, RELEVANT, 4) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a.md", "c.md", "b.md"], RELEVANT, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["x.md"], RELEVANT, 10) == 0.0


def test_span_is_found_inside_one_excerpt_ignoring_markdown_and_case():
    excerpts = ["Intro text.", "The **QueryCache** stores every answer,\nunder a hash."]
    assert span_at_k(excerpts, "the querycache stores every answer under a hash", 2) == 1.0
    assert span_at_k(excerpts, "the querycache stores every answer under a hash", 1) == 0.0
    assert span_at_k(["stores every", "answer under"], "stores every answer under", 2) == 0.0


def test_latency_summary():
    summary = latency_summary(list(range(1, 101)))
    assert (
        summary["p50"] == pytest.approx(50.5)
        and summary["max"] == 100
        and summary["p95"] == pytest.approx(95.05)
    )


def test_reciprocal_rank_fusion_by_hand():
    from smolrag_lab.query.lexical import reciprocal_rank_fusion

    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=1)
    # a: 1/2 + 1/3, c: 1/4 + 1/2, b: 1/3
    assert [i for i, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 2 + 1 / 3) and fused[1][1] == pytest.approx(0.75)


def test_bm25_ranks_exact_terms_and_ignores_stop_words():
    from smolrag_lab.query.bm25 import LexicalIndex

    index = LexicalIndex(
        ["e1", "e2", "e3"],
        [
            "The query cache stores answers.",
            "Graphs of entities.",
            "Caching answers in the query cache, cached queries.",
        ],
    )
    assert {i for i, _ in index.search("cached queries", 3)} == {"e1", "e3"}
    assert index.search("cached queries", 3)[0][0] == "e3"
    assert index.search("the of in", 3) == []
