"""Retrieval levers of issue 21: convex fusion of normalised scores (fixed or query-adaptive
weight), graph re-ranking of mix by personalised PageRank, entity linking of questions, the
excerpt-only embedded text, leave-one-dataset-out choice, and the FAQ set builder."""

import json
import shutil

import networkx as nx
import numpy as np
import pytest
from conftest import SHARED

from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval.lodo import choose, leave_one_out
from smolrag_lab.lab.workspace import QUICK_DEMO_DOCUMENTS
from smolrag_lab.query.graph_rank import EntityLinker, personalised_pagerank, rerank
from smolrag_lab.query.lexical import convex_fusion, normalised, peakedness


def test_normalisations_by_hand():
    assert normalised([3.0, 2.0, 1.0], "minmax").tolist() == [1.0, 0.5, 0.0]
    z = normalised([3.0, 2.0, 1.0], "zscore")
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    assert normalised([2.0, 2.0], "minmax").tolist() == [1.0, 1.0]
    assert normalised([2.0, 2.0], "zscore").tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="minmax or zscore"):
        normalised([1.0], "rank")


def test_convex_fusion_by_hand():
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    bm25 = [("c", 12.0), ("d", 6.0), ("a", 0.0)]
    # minmax: dense a=1, b=.5, c=0; bm25 c=1, d=.5, a=0; b is missing from bm25 (floor 0), d from
    # dense
    fused = dict(convex_fusion(dense, bm25, dense_weight=0.5))
    assert fused == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.25})
    dense_heavy = convex_fusion(dense, bm25, dense_weight=0.8)
    assert [i for i, _ in dense_heavy] == ["a", "b", "c", "d"]  # 0.8, 0.4, 0.2, 0.1
    assert [i for i, _ in convex_fusion(dense, bm25, dense_weight=0.0)][0] == "c"
    assert convex_fusion(dense, [], 0.5) == dense and convex_fusion([], bm25, 0.5) == bm25


def test_adaptive_weight_leans_towards_the_peaked_list():
    flat_dense = [(f"d{i}", 0.50 - 0.001 * i) for i in range(10)]
    peaked_bm25 = [("b0", 20.0)] + [(f"b{i}", 1.0) for i in range(1, 10)]
    assert peakedness([s for _, s in peaked_bm25]) > 2 > peakedness([s for _, s in flat_dense])
    fused = convex_fusion(flat_dense, peaked_bm25, dense_weight=0.5, adaptive=True)
    assert fused[0][0] == "b0"
    fixed = convex_fusion(flat_dense, peaked_bm25, dense_weight=0.9)
    assert fixed[0][0] == "d0"  # a fixed dense-heavy weight keeps the dense top
    assert peakedness([1.0]) == 0.0 and peakedness([2.0, 2.0, 2.0]) == 0.0


def test_entity_linker_matches_stems_and_prefers_longer_names():
    graph = nx.Graph()
    graph.add_nodes_from(["Excerpt vector", "vector", "Thread", "the"])
    linker = EntityLinker(graph)
    assert linker.linked("How are excerpt vectors stored by threads?") == [
        "Excerpt vector",
        "Thread",
    ]
    assert linker.linked("and the other") == []  # a stop word is never an entity


def test_pagerank_rerank_moves_excerpts_that_mention_seeded_entities():
    graph = nx.Graph()
    graph.add_edge("alpha", "beta", weight=1.0)
    graph.add_edge("gamma", "delta", weight=1.0)
    mentions = {"x1": ["gamma"], "x2": ["delta"], "x3": ["alpha", "beta"]}
    candidates = [("x1", 1.0), ("x2", 0.9), ("x3", 0.8)]
    rank = personalised_pagerank(graph, set(graph), {"alpha": 1.0})
    assert rank["alpha"] > rank["beta"] > 0 and rank.get("gamma", 0) == pytest.approx(0)
    moved = rerank(candidates, mentions, graph, {"alpha": 1.0}, weight=0.6)
    assert moved[0][0] == "x3"
    assert rerank(candidates, mentions, graph, {"alpha": 1.0}, weight=0.0) == candidates
    assert rerank(candidates, mentions, graph, {"unknown": 1.0}, weight=0.6) == candidates


def test_leave_one_dataset_out_keeps_only_a_choice_that_holds_out():
    rng = np.random.default_rng(0)
    base = {s: rng.uniform(0.3, 0.7, 40) for s in ("a", "b", "c")}
    good = {s: {"old": v, "new": np.minimum(v + 0.1, 1)} for s, v in base.items()}
    result = leave_one_out(good, "old", ["old", "new"])
    assert result["kept"] == "new" and all(
        f["chosen"] == "new" and f["wins"] for f in result["folds"]
    )
    assert result["folds"][0]["delta_low"] > 0
    # "new" wins on a and b by a lot but loses on c: chosen on a+b, it fails on c, so "old" stays
    mixed = {**good, "c": {"old": base["c"], "new": base["c"] - 0.2}}
    result = leave_one_out(mixed, "old", ["old", "new"])
    fold_c = next(f for f in result["folds"] if f["left_out"] == "c")
    assert fold_c["chosen"] == "new" and not fold_c["wins"] and result["kept"] == "old"
    assert choose(mixed, ["c"], ["old", "new"]) == "old"
    with pytest.raises(ValueError, match="previous default"):
        leave_one_out(good, "missing", ["old", "new"])


@pytest.mark.skipif(not (SHARED / "corpus" / "smolrag_docs").is_dir(), reason="needs ../shared")
def test_levers_run_through_the_engine(tmp_path):
    corpus = SHARED / "corpus" / "smolrag_docs"
    docs = [corpus / name for name in QUICK_DEMO_DOCUMENTS]
    question = "How does the mix query type combine graph and vector search?"
    with SmolRag(Settings(data_dir=tmp_path / "full", log_to_file=False, query_cache=False)) as rag:
        rag.ingest(docs, progress=False)
        rrf = rag.retrieve(question, "standard", excerpt_top_k=8)
        for overrides in (
            {"fusion": "convex"},
            {"fusion": "convex", "fusion_norm": "zscore", "fusion_adaptive": True},
            {"fusion": "rrf", "lexical_summary": False},
        ):
            result = rag.retrieve(question, "standard", excerpt_top_k=8, **overrides)
            assert len(result.sources) == 8
            assert {s.excerpt_id for s in result.sources} & {s.excerpt_id for s in rrf.sources}
        appended = rag.retrieve(question, "mix", excerpt_top_k=8)
        reranked = rag.retrieve(question, "mix", excerpt_top_k=8, mix_graph="rerank")
        graph_origins = ("entity", "relationship")
        vector = [s.excerpt_id for s in reranked.sources if s.origin not in graph_origins]
        assert len(vector) == 8 and len(set(vector)) == 8
        assert [s.excerpt_id for s in appended.sources][:8] == [s.excerpt_id for s in rrf.sources]
        summary_vector = rag.index.excerpt_vectors.get_vectors([rrf.sources[0].excerpt_id])[0]
    settings = Settings(data_dir=tmp_path / "text", log_to_file=False, embed_summary=False)
    with SmolRag(settings) as rag:
        rag.ingest(docs, progress=False)
        text_vector = rag.index.excerpt_vectors.get_vectors([rrf.sources[0].excerpt_id])[0]
        expected = rag.providers.embedder.embed([rrf.sources[0].text])[0]
    assert np.allclose(text_vector, expected, atol=1e-3)
    assert not np.allclose(summary_vector, expected, atol=1e-3)


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs Debian's FAQ packages")
def test_faq_builder_writes_the_shared_format(tmp_path):
    from benchmarks import build_faq_set

    if not build_faq_set.GITFAQ.exists() or not build_faq_set.SQLITEFAQ.exists():
        pytest.skip("apt-get install -y git-doc sqlite3-doc")
    counts = build_faq_set.build(tmp_path, ["gitfaq", "sqlitefaq"])
    assert counts["gitfaq"] >= 15 and counts["sqlitefaq"] >= 20
    records = [json.loads(line) for line in (tmp_path / "queries.jsonl").open()]
    assert len(records) == sum(counts.values()) == len({r["id"] for r in records})
    for record in records:
        (name,) = record["relevant"]
        answer = (tmp_path / "docs" / name).read_text()
        assert record["query"] not in answer and len(answer.split()) >= 15
        assert "<" not in record["query"] and record["reference_answer"]
    assert build_faq_set.main(["--out", str(tmp_path / "x"), "--sources", "gitfaq"]) == 0
