"""The HNSW vector index (usearch): recall against exact search, persistence, incremental updates,
deletions, compaction, and a graph file that lags behind the matrix."""

import json

import numpy as np
import pytest

from smolrag_lab.stores import MmapVectorStore
from smolrag_lab.stores.ann import AnnConfig

DIM = 32
CONFIG = AnnConfig(min_rows=100, expansion_search=128)


def clustered(n: int, seed: int) -> np.ndarray:
    """Vectors around 40 centres, like embeddings of a corpus on a few topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, DIM))
    return (centres[rng.integers(0, 40, n)] + 0.35 * rng.standard_normal((n, DIM))).astype(
        np.float32
    )


def ids(n: int, start: int = 0) -> list[str]:
    return [f"v{i}" for i in range(start, start + n)]


def recall(store_ann, store_exact, queries, k=10) -> float:
    hits = 0
    for q in queries:
        truth = {h.id for h in store_exact.query(q, k)}
        hits += len(truth & {h.id for h in store_ann.query(q, k)})
    return hits / (k * len(queries))


@pytest.fixture
def stores(tmp_path):
    data = clustered(3000, 0)
    ann = MmapVectorStore(tmp_path / "ann", DIM, ann=CONFIG)
    exact = MmapVectorStore(tmp_path / "exact", DIM)
    for store in (ann, exact):
        store.upsert(ids(3000), data)
    yield ann, exact
    ann.close()
    exact.close()


def test_recall_and_exact_scores(stores):
    ann, exact = stores
    queries = clustered(50, 1)
    assert recall(ann, exact, queries) >= 0.95
    hit, truth = ann.query(queries[0], 1)[0], exact.query(queries[0], 1)[0]
    assert hit.id == truth.id and hit.score == pytest.approx(truth.score, abs=1e-5)


def test_graph_persists_and_readers_map_it(stores, tmp_path):
    ann, exact = stores
    ann.query(clustered(1, 2)[0], 5)
    ann.close()
    files = sorted(p.name for p in (tmp_path / "ann").glob("ann.*"))
    assert files == ["ann.0.json", "ann.0.usearch"]
    assert json.loads((tmp_path / "ann" / "ann.0.json").read_text())["rows"] == 3000
    reader = MmapVectorStore(tmp_path / "ann", DIM, readonly=True, ann=CONFIG)
    assert recall(reader, exact, clustered(30, 3)) >= 0.95
    reader.close()


def test_rows_added_after_the_save_are_found_and_deleted_ones_never_are(stores, tmp_path):
    ann, exact = stores
    ann.query(clustered(1, 2)[0], 5)
    ann.flush()
    extra = clustered(500, 4)
    ann.upsert(ids(500, 3000), extra)
    exact.upsert(ids(500, 3000), extra)
    reader = MmapVectorStore(
        tmp_path / "ann", DIM, readonly=True, ann=CONFIG
    )  # its graph covers 3,000 rows
    assert reader.query(extra[7], 1)[0].id == "v3007"
    reader.close()
    assert ann.query(extra[7], 1)[0].id == "v3007"
    gone = ids(200)
    ann.delete(gone)
    exact.delete(gone)
    queries = clustered(30, 5)
    assert not {h.id for q in queries for h in ann.query(q, 10)} & set(gone)
    assert recall(ann, exact, queries) >= 0.95


def test_compaction_starts_a_new_graph(stores, tmp_path):
    ann, _ = stores
    ann.query(clustered(1, 2)[0], 5)
    ann.flush()
    ann.delete(ids(2000))  # more than half dead: compacts into generation 1
    assert ann.query(clustered(1, 6)[0], 3)
    ann.flush()
    names = sorted(p.name for p in (tmp_path / "ann").glob("ann.*"))
    assert names == ["ann.1.json", "ann.1.usearch"]


def test_a_graph_saved_without_its_meta_is_caught_up_without_duplicates(stores, tmp_path):
    ann, exact = stores
    ann.query(clustered(1, 2)[0], 5)
    ann.flush()
    meta = tmp_path / "ann" / "ann.0.json"
    meta.write_text(
        json.dumps({**json.loads(meta.read_text()), "rows": 1000})
    )  # as if the meta lagged
    ann.close()
    again = MmapVectorStore(tmp_path / "ann", DIM, ann=CONFIG)
    assert recall(again, exact, clustered(20, 7)) >= 0.95
    again.close()


def test_engine_with_the_hnsw_index(tmp_path):
    from test_engine import write_corpus

    from smolrag_lab import Settings, SmolRag

    settings = Settings(
        data_dir=tmp_path / "data",
        vector_index="hnsw",
        hnsw_min_rows=0,
        chunk_size=40,
        chunk_overlap=0,
    )
    with SmolRag(settings) as rag:
        rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
        answer = rag.retrieve("Which store keeps entities?", "mix")
        assert answer.sources and rag.check().ok
    assert (tmp_path / "data" / "vectors" / "excerpts" / "ann.0.usearch").exists()
