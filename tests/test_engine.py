"""The engine end to end, offline, on a small corpus written by the tests."""

import json
import re
import subprocess
import sys

import pytest

from smolrag_lab import Settings, SmolRag
from smolrag_lab.ingest.graph_merge import entity_id, node_key
from smolrag_lab.prompts import COMPLETE_TAG
from smolrag_lab.query.retrieval import MODES

DOCS = {
    "cache.md": "# Caching\n\nThe QueryCache stores every answer under a hash of the question. "
    "The EmbeddingCache keeps vectors so that unchanged text is never embedded twice.\n\n"
    "## Invalidation\n\nThe QueryCache is cleared whenever the index changes.",
    "graph.md": "# Knowledge Graph\n\nThe GraphStore keeps entities and relationships "
    "extracted from excerpts. "
    "Entities with the same name are merged by the GraphStore.\n\n"
    "## Visualisation\n\nThe graph can be drawn with pyvis in a notebook.",
    "search.md": "# Similarity Search\n\nThe VectorStore ranks excerpts by cosine similarity. "
    "The QueryCache sits in front of the VectorStore.\n\nTop-k and a threshold limit the results.",
}


def write_corpus(folder, docs=DOCS):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def rag(backend):
    """The engine on each storage backend (files; PostgreSQL + pgvector): the tests below run on
    both.
    """
    engine = SmolRag(backend(chunk_size=40, chunk_overlap=0, log_to_file=True))
    yield engine
    engine.close()


def calls(report):
    return sum(report.provider_calls.values())


def test_ingest_then_rerun_makes_zero_provider_calls(rag, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    first = rag.ingest(corpus, progress=False)
    assert len(first.added) == 3 and not first.failed and first.excerpts >= 3
    assert first.provider_calls["summary"] == first.excerpts and first.entities > 5
    second = rag.ingest(corpus, progress=False)
    assert len(second.unchanged) == 3 and calls(second) == 0
    stats = rag.stats()
    assert stats["documents"] == 3 and stats["vectors"]["excerpts"] == stats["excerpts"]


def test_editing_one_document_reprocesses_only_it(rag, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    rag.ingest(corpus, progress=False)
    (corpus / "graph.md").write_text(DOCS["graph.md"].replace("pyvis", "PyVis and Graphviz"))
    report = rag.ingest(corpus, progress=False)
    edited = str((corpus / "graph.md").resolve())
    assert report.updated == [edited] and len(report.unchanged) == 2
    doc_id = rag.index.sources.get(edited)
    n_excerpts = len(rag.index.documents.get(doc_id)["excerpt_ids"])
    assert report.provider_calls["summary"] == n_excerpts
    texts = [e["text"] for _, e in rag.index.excerpts.items()]
    assert any("Graphviz" in t for t in texts) and not any("with pyvis in" in t for t in texts)


def test_removing_a_file_removes_what_it_alone_contributed(rag, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    rag.ingest(corpus, progress=False)
    graph = rag.graph()
    assert node_key("EmbeddingCache") in graph and node_key("QueryCache") in graph
    (corpus / "cache.md").unlink()
    report = rag.ingest(corpus, progress=False)
    assert report.removed == [str((corpus / "cache.md").resolve())]
    assert node_key("EmbeddingCache") not in rag.graph()  # only cache.md mentioned it
    assert entity_id(node_key("EmbeddingCache")) not in rag.index.entity_vectors
    shared = graph.nodes[node_key("QueryCache")]  # search.md mentions it too
    assert all(eid.split(":")[0] in rag.index.documents for eid in shared["excerpt_ids"])
    assert not any(
        "hash of the question" in d for ds in shared["descriptions"].values() for d in ds
    )
    assert all(
        e["source"] != str((corpus / "cache.md").resolve()) for _, e in rag.index.excerpts.items()
    )
    assert len(rag.index.excerpt_vectors) == len(rag.index.excerpts)


def test_every_mode_answers_with_cited_sources(rag, tmp_path):
    rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
    for mode in MODES:
        result = rag.query("How does the QueryCache store answers?", mode)
        assert result.sources, mode
        assert result.answer.startswith("Extractive answer")
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", result.answer)}
        assert cited and cited <= {s.number for s in result.sources}
        assert result.timings_ms["total_ms"] > 0 and result.token_counts["total"] > 0
        if mode != "standard":
            assert result.keywords["low_level"] and result.entities


def test_context_respects_token_budgets(rag, tmp_path):
    rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
    result = rag.retrieve(
        "QueryCache VectorStore GraphStore",
        "mix",
        excerpt_token_budget=60,
        kg_excerpt_token_budget=50,
        entity_token_budget=80,
        relationship_token_budget=70,
    )
    counts = result.token_counts
    assert counts["vector_excerpts"] <= 60 and counts["graph_excerpts"] <= 50
    assert counts["entities"] <= 80 and counts["relationships"] <= 70


def test_query_cache_hits_and_is_invalidated_by_changes(rag, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    rag.ingest(corpus, progress=False)
    first = rag.query("What does the VectorStore rank?", "standard")
    again = rag.query("What does the VectorStore rank?", "standard")
    assert not first.cached and again.cached and again.answer == first.answer
    assert [s.excerpt_id for s in again.sources] == [s.excerpt_id for s in first.sources]
    assert not rag.query("What does the VectorStore rank?", "standard", excerpt_top_k=2).cached
    rag.ingest_text("The VectorStore also ranks entities.", "notes/extra.md")
    assert not rag.query("What does the VectorStore rank?", "standard").cached


def test_bad_files_are_skipped_with_reasons(rag, tmp_path):
    corpus = write_corpus(
        tmp_path / "corpus", {"good.md": "# Good\n\nA readable document about caching."}
    )
    (corpus / "binary.md").write_bytes(b"\x89PNG\x00\x00\x01")
    (corpus / "empty.txt").write_text("  \n")
    (corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (corpus / "image.png").write_bytes(b"\x89PNG")
    report = rag.ingest(corpus, progress=False)
    reasons = {s["source"].rsplit("/", 1)[-1]: s["reason"] for s in report.skipped}
    assert "binary" in reasons["binary.md"] and reasons["empty.txt"] == "empty"
    assert "UTF-8" in reasons["latin1.txt"] and "image.png" not in reasons
    assert len(report.added) == 1


def test_identical_text_in_two_sources_stays_two_documents(rag):
    rag.ingest_text("The same paragraph about graphs.", "a.md")
    rag.ingest_text("The same paragraph about graphs.", "b.md")
    sources = {e["source"] for _, e in rag.index.excerpts.items()}
    assert sources == {"a.md", "b.md"}
    assert rag.delete("a.md") and not rag.delete("a.md")
    assert {e["source"] for _, e in rag.index.excerpts.items()} == {"b.md"}


def test_a_failing_document_leaves_nothing_and_others_land(openai_server, tmp_path):
    openai_server.fail_if = lambda body: 400 if "POISON" in json.dumps(body) else None
    openai_server.responder = lambda body: (
        COMPLETE_TAG if "-Goal-" in json.dumps(body) else "A summary."
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        openai_api_key="sk-test",
        openai_base_url=openai_server.base_url,
        completion_model="test-chat",
        retry_base_delay_s=0.01,
        call_unit="excerpt",
    )
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "ok.md": "# Fine\n\nThe GraphStore works.",
            "bad.md": "# Bad\n\nThis one is POISON for the model.",
        },
    )
    with SmolRag(settings) as engine:
        report = engine.ingest(corpus, progress=False)
        assert [f["stage"] for f in report.failed] == ["summaries"]
        assert (
            report.failed[0]["source"].endswith("bad.md")
            and "rejected" in report.failed[0]["error"]
        )
        assert len(report.added) == 1
        assert all(e["source"].endswith("ok.md") for _, e in engine.index.excerpts.items())
        assert len(engine.index.excerpt_vectors) == len(engine.index.excerpts)


def run_cli(*args, data_dir):
    return subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
    )


def test_command_line_round_trip(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    data = tmp_path / "cli-data"
    ingest = run_cli("ingest", str(corpus), "--json", data_dir=data)
    assert ingest.returncode == 0, ingest.stderr
    counts = json.loads(ingest.stdout)  # the progress bars went to stderr, not into the JSON
    assert "overall" in ingest.stderr and "graph_vectors" in ingest.stderr
    assert (
        counts["documents"]["added"] == 3
        and counts["provider_calls"]["summary"] == counts["excerpts"]
    )
    quiet = run_cli("ingest", str(corpus), "--json", "--quiet", data_dir=data)
    assert "overall" not in quiet.stderr
    again = json.loads(quiet.stdout)
    assert again["documents"]["unchanged"] == 3 and sum(again["provider_calls"].values()) == 0
    query = json.loads(
        run_cli("query", "What merges entities?", "--mode", "mix", "--json", data_dir=data).stdout
    )
    assert query["mode"] == "mix" and query["sources"][0]["document"].endswith(".md")
    assert run_cli("delete", str(corpus / "graph.md"), data_dir=data).returncode == 0
    stats = json.loads(run_cli("stats", "--json", data_dir=data).stdout)
    assert stats["documents"] == 2
    missing = run_cli("delete", "nope.md", data_dir=data)
    assert missing.returncode == 1 and "not in the index" in missing.stderr


def test_a_graph_that_lost_rows_is_restored_from_stored_extractions(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=0)
    with SmolRag(settings) as engine:
        engine.ingest(write_corpus(tmp_path / "corpus"), progress=False)
        before = {n: dict(a) for n, a in engine.graph().nodes(data=True)}
        edges = {tuple(sorted((u, v))): a["weight"] for u, v, a in engine.graph().edges(data=True)}
        with engine.index.db.transaction():  # every graph row lost, the records kept
            engine.index.bump_version()
            engine.index.graph.clear(engine.index.version)
    with SmolRag(settings) as engine:
        found = engine.check()
        assert "recorded entities missing from the graph" in found.counts
        assert engine.repair()["graph documents re-merged"] == len(DOCS) and engine.check().ok
        graph = engine.graph()
        assert {n: dict(a) for n, a in graph.nodes(data=True)} == before
        assert {tuple(sorted((u, v))): a["weight"] for u, v, a in graph.edges(data=True)} == edges


def test_hybrid_interleaves_and_keeps_first_occurrences():
    from smolrag_lab.query.retrieval import ExcerptHit, Retrieved, hybrid_kg

    def hit(i):
        return ExcerptHit(i, "d", "s", i, "", 1.0, "entity")

    local = Retrieved("local_kg", graph_excerpts=[hit("a"), hit("c")])
    global_ = Retrieved("global_kg", graph_excerpts=[hit("b"), hit("a"), hit("d")])
    assert [h.excerpt_id for h in hybrid_kg(local, global_).graph_excerpts] == ["a", "b", "c", "d"]


def test_query_cache_is_capped_and_evicts_the_oldest(rag, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    rag.ingest(corpus, progress=False)
    cap = 20
    for i in range(60):
        rag.retrieve(
            f"What does the VectorStore rank, question {i}?",
            "standard",
            query_cache_max_entries=cap,
        )
    assert len(rag.index.query_cache) <= cap + cap // 10
    assert rag.retrieve(
        "What does the VectorStore rank, question 59?",
        "standard",
        query_cache_max_entries=cap,
    ).cached
    assert not rag.retrieve(
        "What does the VectorStore rank, question 0?",
        "standard",
        query_cache_max_entries=cap,
    ).cached
