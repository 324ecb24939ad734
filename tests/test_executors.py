"""Ingestion's CPU-bound work on other executors (a process pool; a two-worker Dask cluster on
127.0.0.1) reaches the same final state as inline: excerpts, summaries, extractions, graph, vectors."""

import networkx as nx
import numpy as np
import pytest
from conftest import SHARED, required_in_ci

from smolrag_lab import Settings, SmolRag
from smolrag_lab.lab.workspace import QUICK_DEMO_DOCUMENTS

CORPUS = SHARED / "corpus" / "smolrag_docs"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared")


def final_state(rag: SmolRag) -> dict:
    index = rag.index
    ids = index.excerpt_vectors.ids()
    return {
        "excerpts": dict(index.excerpts.items()),
        "extractions": dict(index.extractions.items()),
        "graph": nx.to_dict_of_dicts(index.graph.graph),
        "nodes": dict(index.graph.graph.nodes(data=True)),
        "vector_ids": ids,
        "vectors": index.excerpt_vectors.get_vectors(ids),
    }


def ingest_with(tmp_path, name: str, executor=None, **settings) -> dict:
    docs = [CORPUS / n for n in QUICK_DEMO_DOCUMENTS[:2]]
    with SmolRag(
        Settings(data_dir=tmp_path / name, log_to_file=False, embedding_cache=False, **settings),
        executor=executor,
    ) as rag:
        report = rag.ingest(docs, progress=False)
        assert len(report.added) == 2 and not report.failed
        return {**final_state(rag), "pool_started": getattr(rag._executor, "started", None)}


def assert_same(a: dict, b: dict) -> None:
    for key in ("excerpts", "extractions", "graph", "nodes", "vector_ids"):
        assert a[key] == b[key], key
    np.testing.assert_allclose(a["vectors"], b["vectors"], atol=1e-5)


@pytest.fixture(scope="module")
def inline(tmp_path_factory):
    return ingest_with(tmp_path_factory.mktemp("inline"), "inline")


def test_process_pool_reaches_the_inline_state(inline, tmp_path):
    assert_same(
        ingest_with(tmp_path, "process", ingest_executor="process", ingest_workers=2), inline
    )


def test_auto_sends_only_large_embedding_requests_to_its_pool(inline, tmp_path):
    state = ingest_with(
        tmp_path, "auto", ingest_executor="auto", ingest_workers=2, process_pool_min_texts=64
    )
    assert_same(state, inline)
    assert state["pool_started"] in (True, None)  # None: a one-core machine stays inline
    with SmolRag(
        Settings(data_dir=tmp_path / "note", log_to_file=False, ingest_executor="auto")
    ) as rag:
        rag.ingest_text(
            "A short note: SmolRAG keeps a knowledge graph beside its vectors.", "note.md"
        )
        assert rag.ingestor.executor is None and not getattr(rag._executor, "started", False)


def test_two_worker_dask_cluster_reaches_the_inline_state(inline, tmp_path):
    distributed = required_in_ci("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            processes=True,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        state = ingest_with(tmp_path, "dask", executor=client.get_executor())
        worked = client.run(_work_done_here)
    assert len(worked) == 2  # both workers were up, and between them chunked and embedded
    assert any(chunked for chunked, _ in worked.values()) and any(
        embedded for _, embedded in worked.values()
    )
    assert_same(state, inline)


def _work_done_here() -> tuple[bool, bool]:
    """In a worker: did it chunk documents and load the embedding model?"""
    from smolrag_lab.ingest import executors
    from smolrag_lab.providers.local_embedder import _Model

    return bool(executors._CHUNKERS), bool(_Model._instances)
