"""Ingestion's CPU-bound work on other executors (a process pool; a two-worker Dask cluster on
127.0.0.1) reaches the same final state as inline: excerpts, summaries, extractions, graph, vectors.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import numpy as np
import pytest
from conftest import SHARED, required_in_ci

from smolrag_lab import Settings, SmolRag
from smolrag_lab.lab.workspace import QUICK_DEMO_DOCUMENTS
from smolrag_lab.progress import IngestProgress
from smolrag_lab.providers import LocalEmbedder

CORPUS = SHARED / "corpus" / "smolrag_docs"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared")


def final_state(rag: SmolRag) -> dict:
    index = rag.index
    ids = index.excerpt_vectors.ids()
    return {
        "excerpts": dict(index.excerpts.items()),
        "extractions": dict(index.extractions.items()),
        "graph": nx.to_dict_of_dicts(rag.graph()),
        "nodes": dict(rag.graph().nodes(data=True)),
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


SCRIPT = """
import sys
from smolrag_lab import Settings, SmolRag

settings = Settings(data_dir=sys.argv[1], log_to_file=False, embedding_cache=False,
                    ingest_executor="auto", ingest_workers=2, process_pool_min_texts=1)
{body}
"""
INGEST = """rag = SmolRag(settings)
report = rag.ingest(sys.argv[2:], progress=False)
print("added", len(report.added), "failed", len(report.failed),
      "pool", getattr(rag._executor, "started", None))
rag.close()"""


def run_script(tmp_path, body: str):
    import subprocess
    import sys

    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT.format(body=body))
    import os
    from pathlib import Path

    import smolrag_lab

    docs = [str(CORPUS / n) for n in QUICK_DEMO_DOCUMENTS[:1]]
    package_root = str(Path(smolrag_lab.__file__).parents[1])  # this checkout, not an installed one
    env = {**os.environ, "PYTHONPATH": package_root}
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "data"), *docs],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=env,
    )


def test_a_script_without_a_main_guard_ingests_inline_and_says_why(tmp_path):
    done = run_script(tmp_path, INGEST)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "added 1 failed 0 pool None" in done.stdout
    assert "BrokenProcessPool" not in done.stderr
    assert (
        'outside `if __name__ == "__main__":`' in done.stderr and "user_script.py:" in done.stderr
    )


def test_a_guarded_script_still_uses_the_process_pool(tmp_path):
    guarded = 'if __name__ == "__main__":\n' + "\n".join("    " + x for x in INGEST.split("\n"))
    done = run_script(tmp_path, guarded)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "added 1 failed 0 pool True" in done.stdout
    assert "outside `if __name__" not in done.stderr


class CountingPool(ThreadPoolExecutor):
    """A real executor that counts what it is given."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_graph_vectors_reach_the_pool_whatever_the_progress_bars_slices():
    """The graph stage's progress slices its texts; a slice must still be large enough for
    ``auto``'s pool (it was 1/20 of the texts, under the 1,024 threshold: never pooled)."""
    embedder, pool = LocalEmbedder(), CountingPool()
    embedder.executor, embedder.executor_min_texts = pool, 300
    # lengths in no order, so sorting them for the workers and putting them back is exercised
    texts = [f"entity {i}: a component" + " of the system" * (i * 7 % 11) for i in range(1_000)]
    with pool:
        bars = IngestProgress(("embeddings",), 0, enabled=False)
        vectors = asyncio.run(bars.graph_embedder(embedder).aembed(texts))
    assert vectors.shape == (1_000, 384) and pool.submitted > 0
    cosines = (vectors * LocalEmbedder().embed(texts)).sum(axis=1)
    assert cosines.min() > 0.99, cosines.min()
