"""Vector compression options: float16 storage, int8 and PCA shortlists re-scored against the stored
vectors (or not), persisted per matrix generation, caught up incrementally, never returning deleted
rows; and the guards against opening a store with the wrong storage type."""

import threading

import numpy as np
import pytest

from smolrag_lab.stores import MmapVectorStore
from smolrag_lab.stores.ann import AnnConfig
from tests.test_ann import DIM, clustered, ids, recall

INT8 = AnnConfig(min_rows=0, kind="int8", oversample=4)
PCA = AnnConfig(min_rows=0, kind="pca", pca_dims=24, oversample=10)


@pytest.fixture
def exact(tmp_path):
    store = MmapVectorStore(tmp_path / "exact", DIM)
    store.upsert(ids(3000), clustered(3000, 0))
    yield store
    store.close()


def test_float16_storage_halves_the_matrix_and_keeps_the_ranking(tmp_path, exact):
    half = MmapVectorStore(tmp_path / "half", DIM, dtype="float16")
    half.upsert(ids(3000), clustered(3000, 0))
    assert (tmp_path / "half" / "matrix.0.f16").stat().st_size == 3000 * DIM * 2
    assert recall(half, exact, clustered(40, 1)) >= 0.98
    half.delete(ids(100))
    assert not {h.id for h in half.query(clustered(1, 0)[0], 50)} & set(ids(100))
    assert half.get_vectors(["v200"]).dtype == np.float32
    half.close()
    with pytest.raises(ValueError, match="float16 vectors, not float32"):
        MmapVectorStore(tmp_path / "half", DIM)


@pytest.mark.parametrize("config", [INT8, PCA], ids=["int8", "pca"])
def test_shortlists_keep_recall_and_exact_scores(tmp_path, exact, config):
    store = MmapVectorStore(tmp_path / config.kind, DIM, ann=config)
    store.upsert(ids(3000), clustered(3000, 0))
    queries = clustered(40, 1)
    assert recall(store, exact, queries) >= 0.9
    hit, truth = store.query(queries[0], 1)[0], exact.query(queries[0], 1)[0]
    assert hit.id == truth.id and hit.score == pytest.approx(truth.score, abs=1e-5)
    store.close()
    kind = "pca24" if config.kind == "pca" else config.kind
    assert (tmp_path / config.kind / f"ann.0.{kind}.json").exists()
    reader = MmapVectorStore(tmp_path / config.kind, DIM, readonly=True, ann=config)
    assert recall(reader, exact, queries) >= 0.9
    reader.close()


@pytest.mark.parametrize("config", [INT8, PCA], ids=["int8", "pca"])
def test_shortlists_follow_appends_deletes_and_compaction(tmp_path, exact, config):
    store = MmapVectorStore(tmp_path / "s", DIM, ann=config)
    store.upsert(ids(3000), clustered(3000, 0))
    store.query(clustered(1, 2)[0], 5)
    extra = clustered(300, 4)
    store.upsert(ids(300, 3000), extra)
    assert store.query(extra[7], 1)[0].id == "v3007"
    store.delete(ids(2500))
    assert not {h.id for h in store.query(clustered(1, 0)[0], 20)} & set(ids(2500))
    assert (
        len(list((tmp_path / "s").glob("matrix.*"))) == 1
        and store.query(extra[9], 1)[0].id == "v3009"
    )
    store.close()


def test_scores_without_rescoring_are_approximate_but_close(tmp_path, exact):
    config = AnnConfig(min_rows=0, kind="int8", oversample=4, rescore=False)
    store = MmapVectorStore(tmp_path / "s", DIM, ann=config)
    store.upsert(ids(3000), clustered(3000, 0))
    query = clustered(1, 1)[0]
    got, truth = store.query(query, 5), exact.query(query, 5)
    assert [h.id for h in got][:3] == [h.id for h in truth][:3]
    assert all(abs(g.score - t.score) < 0.05 for g, t in zip(got, truth, strict=True))
    store.close()


def test_pca_waits_for_enough_rows_and_searches_exactly_until_then(tmp_path):
    store = MmapVectorStore(tmp_path / "s", DIM, ann=PCA)
    few = clustered(20, 5)
    store.upsert(ids(20), few)
    assert store.query(few[3], 1)[0].id == "v3"
    assert not list((tmp_path / "s").glob("ann.0.pca*.npz"))
    store.close()


def test_threads_search_while_the_store_is_written(tmp_path):
    store = MmapVectorStore(tmp_path / "s", DIM, ann=INT8)
    store.upsert(ids(1000), clustered(1000, 0))
    errors: list[BaseException] = []
    queries = clustered(20, 6)

    def search() -> None:
        try:
            for q in queries:
                assert len(store.query(q, 5)) == 5
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for t in threads:
        t.start()
    for start in range(1000, 2000, 100):
        store.upsert(ids(100, start), clustered(100, start))
    for t in threads:
        t.join()
    assert not errors
    store.close()


def test_an_index_is_copied_with_its_vectors_in_another_precision(tmp_path):
    from smolrag_lab import Settings, SmolRag

    with SmolRag(Settings(data_dir=tmp_path / "a", log_to_file=False)) as rag:
        rag.ingest_text(
            "Vector stores map ids to embeddings. Int8 codes shrink them fourfold.", "notes.md"
        )
        before = rag.retrieve("how do int8 codes shrink vectors?", "mix")
        rag.index.copy_to(tmp_path / "b", "float16")
        with pytest.raises(FileExistsError):
            rag.index.copy_to(tmp_path / "b")
    with SmolRag(
        Settings(data_dir=tmp_path / "b", vector_storage="float16", log_to_file=False)
    ) as copy:
        after = copy.retrieve("how do int8 codes shrink vectors?", "mix")
        assert copy.check().ok and [s.excerpt_id for s in after.sources] == [
            s.excerpt_id for s in before.sources
        ]
        assert next((tmp_path / "b" / "vectors" / "excerpts").glob("matrix.*")).suffix == ".f16"


def test_footprint_counts_only_the_configuration_in_use(tmp_path):
    plain = MmapVectorStore(tmp_path / "s", DIM)
    plain.upsert(ids(3000), clustered(3000, 0))
    plain.close()
    base = MmapVectorStore(tmp_path / "s", DIM).footprint_bytes()
    with_int8 = MmapVectorStore(tmp_path / "s", DIM, ann=INT8)
    with_int8.query(clustered(1, 1)[0], 5)
    with_int8.close()  # its codes stay beside the matrix
    assert MmapVectorStore(tmp_path / "s", DIM).footprint_bytes() == base
    reopened = MmapVectorStore(tmp_path / "s", DIM, ann=INT8)
    reopened.query(clustered(1, 1)[0], 5)
    assert (
        reopened.footprint_bytes() >= base + 3000 * DIM
        and reopened.size_bytes() >= reopened.footprint_bytes()
    )
    assert reopened.scan_bytes() == 3000 * DIM
    reopened.close()
