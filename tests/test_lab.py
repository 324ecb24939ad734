"""The notebook helpers (smolrag_lab.lab) driven the way the notebooks and the widgets' buttons
drive them.
"""

import json
import re

import matplotlib
import pandas as pd
import pytest
from test_engine import DOCS, write_corpus

from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval import load_dataset
from smolrag_lab.eval.sweep import sweep_matrix, tuning_sweep
from smolrag_lab.index_settings import folder_name
from smolrag_lab.lab import graph_view, plots, render, tables, workspace
from smolrag_lab.lab.widgets import GraphExplorer, IngestPanel, QueryExplorer

matplotlib.use("Agg")
QUESTION = "Which store keeps entities and relationships?"


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def rag(tmp_path, corpus):
    engine = SmolRag(
        Settings(data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=0, query_cache=False)
    )
    engine.ingest(corpus, progress=False)
    yield engine
    engine.close()


def test_tables_describe_the_index(rag):
    docs = tables.documents_table(rag)
    assert sorted(docs["document"]) == sorted(DOCS)
    assert (docs["excerpts"] > 0).all() and docs["excerpts"].sum() == len(rag.index.excerpts)
    excerpts = tables.excerpts_table(rag)
    assert len(excerpts) == len(rag.index.excerpts) and (excerpts["tokens"] > 0).all()
    entities = tables.entities_table(rag, include_code=True)
    assert len(entities) == rag.index.graph.number_of_nodes()
    assert not {"code", "file"} & set(tables.entities_table(rag)["type"])
    assert "\n" not in "".join(tables.excerpts_table(rag, preview=80)["text"])
    assert list(entities["degree"]) == sorted(entities["degree"], reverse=True)
    relationships = tables.relationships_table(rag, limit=3)
    assert len(relationships) == 3 and list(relationships["weight"]) == sorted(
        relationships["weight"], reverse=True
    )


def test_ingest_panel_keeps_one_index_per_chunking_setup(tmp_path, corpus, monkeypatch):
    monkeypatch.setenv("SMOLRAG_LAB_DATA", str(tmp_path / "lab"))
    panel = IngestPanel([corpus])
    first = panel.run()
    assert first["documents"]["added"] == 3 and first["excerpts"] > 0
    assert set(first["stage_peak_memory_mb"]) >= {"grouped_calls", "embeddings", "commit"}
    assert tables.stages_table(first)["share"].sum() == pytest.approx(1.0, abs=0.01)
    default_dir = panel.rag.settings.data_dir
    panel.size.value, panel.overlap.value = 32, 0
    smaller = panel.run()
    assert panel.rag.settings.data_dir != default_dir and panel.rag.settings.chunk_size == 32
    assert smaller["documents"]["added"] == 3
    again = panel.run()
    assert again["documents"]["unchanged"] == 3 and sum(again["provider_calls"].values()) == 0
    rebuilt = panel.run(from_scratch=True)
    assert rebuilt["documents"]["added"] == 3 and rebuilt["excerpts"] == smaller["excerpts"]


def test_query_explorer_shows_linked_sources_breakdown_and_latency(rag):
    explorer = QueryExplorer(rag, question=QUESTION, mode="mix")
    result = explorer.ask()
    first, second = render.result_html(result), render.result_html(result)
    anchor = re.search(r'class="srl-result" id="([\w-]+)"', first).group(1)
    assert result.sources and f'id="{anchor}-1"' in first
    assert anchor not in second, "two renderings of answers must not share source anchors"
    if "[1]" in result.answer:
        assert f'href="#{anchor}-1"' in first and "srl-cited" in first
    breakdown = render.context_breakdown(result, rag.settings)
    assert breakdown.iloc[-1]["tokens"] == result.token_counts["total"]
    assert "excerpts (vector + BM25)" in set(breakdown["section"])
    assert "total_ms" in result.timings_ms
    explorer.top_k.value = 1
    narrow = explorer.ask(mode="standard")
    assert len(narrow.sources) == 1
    explorer.budget.value, explorer.top_k.value = 200, 30
    assert explorer.ask().token_counts["vector_excerpts"] <= 200
    assert len(explorer.history) == 3 and len(render.history_table(explorer.history)) == 3
    compared = explorer.compare()
    assert list(compared) == ["standard", "local_kg", "global_kg", "hybrid_kg", "mix"]


def test_sources_carry_one_score_per_kind(rag):
    """With fusion on, a vector-half source says which ranking found it and keeps each score: cosine
    in [-1, 1], BM25 >= 0 and the fused RRF score, at most 2 / (k + 1).
    """
    result = rag.query(QUESTION, "standard", fusion="rrf")
    bound = 2 / (rag.settings.rrf_k + 1)
    for source in result.sources:
        assert source.origin in ("vector", "bm25", "vector+bm25")
        assert 0 < source.scores["rrf"] <= bound + 1e-9
        assert ("cosine" in source.scores) == ("vector" in source.origin)
        assert ("bm25" in source.scores) == ("bm25" in source.origin)
        assert -1.0 <= source.scores.get("cosine", 0.0) <= 1.0
    dense = rag.query(QUESTION, "standard", fusion="none")
    assert all(set(s.scores) == {"cosine"} for s in dense.sources)
    page = render.result_html(result, settings=rag.settings)
    assert "fused (RRF)" in page and "BM25" in page and "per section" in page


def test_auto_says_what_it_chose_and_why(rag):
    result = rag.query(QUESTION, "auto")
    assert result.plan and f"auto chose {result.mode}" in render.result_html(result)


def test_query_explorer_refuses_an_empty_question(rag):
    with pytest.raises(ValueError, match="question"):
        QueryExplorer(rag).ask()


def test_compare_modes_table_has_one_row_per_mode(rag):
    table, results = render.compare_modes(rag, QUESTION, modes=("standard", "global_kg"), repeats=2)
    assert list(table["mode"]) == ["standard", "global_kg"]
    assert {"warm total ms", "cold start ms"} <= set(table.columns)
    assert not results["standard"].cached
    assert table.loc[0, "sources"] == len(results["standard"].sources)
    assert "cmp-global_kg" in render.compare_html(results) or not results["global_kg"].sources


def test_graph_filters_and_offline_page(rag):
    graph = rag.graph()
    stats = graph_view.graph_stats(graph)
    assert stats["entities"] == graph.number_of_nodes() and stats["components"] >= 1
    assert graph_view.degree_distribution(graph).sum() == graph.number_of_nodes()
    connected = graph_view.filter_graph(rag, min_degree=2)
    assert all(graph.degree(k) >= 2 for k in connected.nodes)
    one_doc = graph_view.filter_graph(rag, document="graph.md")
    keys = next(d for _, d in rag.index.documents.items() if d["source"].endswith("graph.md"))[
        "entity_keys"
    ]
    assert set(one_doc.nodes) <= set(keys) and one_doc.number_of_nodes() > 0
    assert graph_view.filter_graph(rag, max_nodes=3).number_of_nodes() == 3
    some_type = graph_view.entity_types(rag)[0]
    typed = graph_view.filter_graph(rag, types=[some_type])
    assert typed.number_of_nodes() > 0
    page = graph_view.graph_html(rag, one_doc)
    assert not re.search(r"<(?:script|link)[^>]+(?:src|href)=\"(?:https?:)?//", page)
    assert "smolrag-graph-status" in page and "vis.Network" in page
    drawn = json.loads(
        re.search(r"nodes = new vis\.DataSet\((\[.*?\])\);", page, re.DOTALL).group(1)
    )
    assert len(drawn) == one_doc.number_of_nodes()


def test_query_subgraph_highlights_what_reached_the_context(rag):
    result = rag.retrieve(QUESTION, "hybrid_kg")
    sub, nodes, edges = graph_view.query_subgraph(rag, result, neighbours=1)
    assert nodes == {e["key"] for e in result.entities} | {
        k for r in result.relationships for k in r["pair"]
    }
    assert nodes <= set(sub.nodes)
    page = graph_view.graph_html(rag, sub, nodes, edges)
    drawn = json.loads(
        re.search(r"nodes = new vis\.DataSet\((\[.*?\])\);", page, re.DOTALL).group(1)
    )
    red = {n["id"] for n in drawn if n["color"] == graph_view.HIGHLIGHT}
    assert red == nodes


def test_graph_explorer_draws_the_selection(rag):
    explorer = GraphExplorer(rag, max_nodes=5, min_degree=0)
    sub = explorer.draw()
    assert sub.number_of_nodes() == 5 and "vis.Network" in explorer.page


def test_quick_mode_switch(monkeypatch):
    monkeypatch.delenv("SMOLRAG_LAB_QUICK", raising=False)
    monkeypatch.setenv("CI", "true")
    assert workspace.quick_mode()
    monkeypatch.setenv("SMOLRAG_LAB_QUICK", "0")
    assert not workspace.quick_mode()
    monkeypatch.delenv("CI")
    monkeypatch.setenv("SMOLRAG_LAB_QUICK", "1")
    assert workspace.quick_mode()


def test_lab_settings_name_the_index_after_the_chunking(tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLRAG_LAB_DATA", str(tmp_path))
    settings = workspace.lab_settings(quick=False, chunk_size=96, chunk_overlap=8)
    assert settings.data_dir.parent == tmp_path
    assert settings.data_dir.name == folder_name(settings)  # the recorded settings' digest
    assert settings.data_dir.name.startswith("markdown-96-8-")
    assert workspace.lab_settings(quick=True).data_dir.name.endswith("-quick")


def _dataset(tmp_path, corpus):
    rows = [
        {
            "id": "q1",
            "query": "Which store keeps entities and relationships?",
            "relevant": {"graph.md": 2},
            "gold_span": "The GraphStore keeps entities and relationships extracted from excerpts.",
            "match_f1": 1.0,
        },
        {
            "id": "q2",
            "query": "What is cleared whenever the index changes?",
            "relevant": {"cache.md": 1},
        },
        {"id": "q3", "query": "How are excerpts ranked?", "relevant": {"search.md": 1}},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return load_dataset(path, corpus)


def test_dataset_slices(tmp_path, corpus):
    dataset = _dataset(tmp_path, corpus)
    assert dataset.name == tmp_path.name  # "qa.jsonl" is a generic name: the folder names the set
    small = dataset.restricted_to(["graph.md", "cache.md"])
    assert [i.id for i in small.items] == ["q1", "q2"] and [p.name for p in small.paths] == [
        "cache.md",
        "graph.md",
    ]
    sampled = dataset.sample(1, extra_documents=1, seed=3)
    assert len(sampled.items) == 1 and len(sampled.paths) == 2
    assert set(sampled.items[0].relevant) <= {p.name for p in sampled.paths}
    assert dataset.paths == [corpus]


def test_tuning_sweep_grid(tmp_path, corpus):
    dataset = _dataset(tmp_path, corpus)
    sweep = tuning_sweep(
        dataset,
        Settings(data_dir=tmp_path / "base"),
        "chunk_size",
        [24, 64],
        "excerpt_top_k",
        [1, 3],
        data_root=tmp_path / "sweeps",
    )
    assert len(sweep) == 4 and set(sweep["cutoff"]) == {1, 3}
    for size in (24, 64):
        rows = sweep[sweep["chunk_size"] == size].set_index("excerpt_top_k")
        assert rows.loc[3, "recall"] >= rows.loc[1, "recall"]
        assert rows.loc[3, "context_tokens"] >= rows.loc[1, "context_tokens"]
    # every cell carries nDCG's interval and its paired difference from the default cell
    assert (sweep["ndcg_low"] <= sweep["ndcg"]).all() and (
        sweep["ndcg"] <= sweep["ndcg_high"]
    ).all()
    reference = sweep[sweep["reference_cell"]]
    assert len(reference) == 1 and reference["within_noise"].all()
    assert (reference["delta_ndcg"] == 0).all() and (reference["p_ndcg"] == 1).all()
    matrix = sweep_matrix(sweep, "recall")
    assert matrix.shape == (2, 2)
    ax = plots.plot_heatmap(matrix, "recall")
    assert len(ax.texts) == 4
    with pytest.raises(ValueError, match="changes the index"):
        tuning_sweep(
            dataset, Settings(data_dir=tmp_path / "b"), "chunk_size", [24], "chunk_overlap", [0]
        )


def test_code_identifiers_and_file_names_are_typed_and_hidden():
    def kind(name, type_="concept"):
        return graph_view.entity_kind({"name": name, "type": type_})

    assert kind("response.json()") == "code" and kind("query_type") == "code"
    assert kind("getValue") == "code" and kind("anything", "identifier") == "code"
    assert kind("settings.py") == "file" and kind("README.md") == "file"
    assert kind("Knowledge Graph") == "concept" and kind("SmolRAG", "interface") == "interface"


def test_query_subgraph_limit_keeps_the_best_ranked(rag):
    result = rag.retrieve(QUESTION, "hybrid_kg")
    sub, nodes, edges = graph_view.query_subgraph(rag, result, neighbours=1, limit=2)
    assert len(edges) <= 2 and len(nodes) <= 2 + 2 * 2
    assert {e["key"] for e in result.entities[:2]} <= nodes <= set(sub.nodes)


def test_graph_page_has_search_expansion_and_wrapped_tooltips(rag):
    sub = graph_view.filter_graph(rag, min_degree=0, max_nodes=4)
    page = graph_view.graph_html(rag, sub)
    assert 'id="smolrag-node-search"' in page and "smolragExpansions" in page
    assert "white-space:pre-wrap" in page and "Sources:" in page
    assert 'id="smolrag-graph-bar"' in page.split('id="mynetwork"')[0], "legend above the drawing"


def test_ingestion_progress_overall_bar_and_clean_cancel(tmp_path, corpus):
    """The listener sees an overall fraction reach 1 with the graph stage counted; a cancel after
    the first commit leaves that document in the index and the others out, as if never started.
    """
    settings = Settings(data_dir=tmp_path / "data", chunk_size=40, ingest_concurrency=1)
    seen = []
    with SmolRag(settings) as rag:

        def listener(progress):
            seen.append((progress.fraction, dict(progress.stages)))
            if len(rag.index.documents) >= 1:
                rag.ingestor.cancel.set()

        rag.ingestor.progress_listener = listener
        report = rag.ingest(corpus, progress=False)
        cancelled = [s for s in report.skipped if s["reason"] == "cancelled before commit"]
        assert len(report.added) == 1 and len(cancelled) == 2
        assert len(rag.index.documents) == 1
        assert seen[-1][0] == 1.0 and "graph_vectors" in seen[-1][1]
        rag.ingestor.progress_listener = None
        rest = rag.ingest(corpus, progress=False)
        assert len(rest.added) == 2 and len(rag.index.documents) == 3
    with SmolRag(settings.replace(data_dir=tmp_path / "fresh")) as rag:
        fractions = []
        rag.ingestor.progress_listener = lambda p: fractions.append(p.fraction)
        rag.ingest(corpus, progress=False)
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert rag.ingestor.progress_listener is not None


def test_question_drilldown_puts_failures_first():
    from smolrag_lab.eval.dataset import EvalItem

    items = [EvalItem("q1", "easy one", {"a.md": 1}), EvalItem("q2", "hard one", {"b.md": 1})]
    rows = [
        {
            "system": "standard",
            "id": "q1",
            "query": "easy one",
            "top_documents": "a.md|c.md",
            "hit@5": 1.0,
        },
        {
            "system": "standard",
            "id": "q2",
            "query": "hard one",
            "top_documents": "c.md|d.md",
            "hit@5": 0.0,
        },
        {
            "system": "mix",
            "id": "q2",
            "query": "hard one",
            "top_documents": "c.md|b.md",
            "hit@5": 1.0,
        },
    ]
    table = tables.question_drilldown(rows, items)
    assert list(table["question"]) == ["hard one", "easy one"]
    assert table.loc[0, "standard"] == "✗ not in top 2; first: c.md"
    assert table.loc[0, "mix"] == "✓ rank 2" and table.loc[1, "standard"] == "✓ rank 1"


def test_tables_show_stores_costs_and_monitor_figures_in_human_units():
    profile = {
        "disk_bytes": {"kv_bytes": 2_306_867, "excerpt_vectors_bytes": 272_281},
        "estimated_cost_usd": {
            "embedding_tokens": 19_032,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "embedding_usd": 0.00038,
            "completion_usd": 0.0,
        },
    }
    storage = dict(tables.storage_and_cost_table(profile).values.tolist())
    assert storage["database (documents, excerpts, graph, caches)"] == "2.2 MB"
    assert storage["on disk in all"] == "2.5 MB" and storage["embedding tokens"] == "19,032"
    assert storage["estimated API cost, embeddings"] == "$0.0004"
    summary = {
        "query.mix": {
            "count": 20.0,
            "wall_ms_p50": 34.04,
            "wall_ms_p95": 1_510.0,
            "cpu_s_total": 0.61,
            "peak_rss_mb": 856.7,
            "provider_calls": 40.0,
        }
    }
    row = tables.monitor_table(summary).iloc[0].to_dict()
    assert row == {
        "operation": "query.mix",
        "count": 20,
        "wall p50": "34 ms",
        "wall p95": "1.5 s",
        "CPU, all calls": "610 ms",
        "peak memory": "857 MB",
        "provider calls": 40,
    }


def test_sweep_table_gives_intervals_and_marks_the_default_cell():
    cell = {
        "chunk_size": 96,
        "excerpt_top_k": 3,
        "cutoff": 3,
        "recall": 0.96,
        "ndcg": 0.93,
        "context_tokens": 410.4,
        "latency_ms": 12.46,
        "ndcg_low": 0.836,
        "ndcg_high": 1.0,
        "reference_cell": False,
        "delta_ndcg": -0.026,
        "delta_ndcg_low": -0.08,
        "delta_ndcg_high": 0.0,
        "within_noise": True,
        "p_ndcg": 0.41,
    }
    default = {**cell, "chunk_size": 160, "reference_cell": True, "within_noise": False}
    frame = pd.DataFrame([cell, default])
    table = tables.sweep_table(frame)
    reordered = tables.sweep_table(frame[frame.columns[::-1]])  # knobs found by name, not place
    assert set(reordered.columns) == set(table.columns)
    assert set(reordered.columns[:2]) == {"chunk_size", "excerpt_top_k"}
    assert list(table.columns) == [
        "chunk_size",
        "excerpt_top_k",
        "ndcg [95% CI]",
        "Δ ndcg vs default [95% CI]",
        "recall",
        "context tokens",
        "latency",
    ]
    assert table.loc[0, "ndcg [95% CI]"] == "0.930 [0.836, 1.000]"
    assert table.loc[0, "Δ ndcg vs default [95% CI]"] == "-0.026 [-0.080, +0.000] within noise"
    assert table.loc[1, "Δ ndcg vs default [95% CI]"] == "(default)"
    assert table.loc[0, "context tokens"] == "410" and table.loc[0, "latency"] == "12 ms"
