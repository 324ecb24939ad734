import json

import networkx as nx
import numpy as np
import pytest

from smolrag_lab.stores import GraphView, MmapVectorStore, RowGraphStore, SqliteDatabase
from smolrag_lab.stores.atomic import atomic_writer
from smolrag_lab.stores.graph import GraphWrite, as_write, export_graphml, read_graphml


def random_vectors(n, dim, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def brute_force(matrix, ids, query, k):
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order], scores[order]


# Vector store ---------------------------------------------------------------------------------
def test_top_k_matches_brute_force_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr("smolrag_lab.stores.scan.BLOCK_ROWS", 700)  # force several blocks
    vectors = random_vectors(3000, 24)
    ids = [f"v{i}" for i in range(3000)]
    store = MmapVectorStore(tmp_path / "vec", dim=24)
    store.upsert(ids, vectors, [{"n": i} for i in range(3000)])
    store.delete(ids[::3])
    live = [i for i in range(3000) if i % 3]
    queries = random_vectors(5, 24, seed=1)
    batched = store.query_many(queries, top_k=10)
    for query, hits in zip(queries, batched, strict=True):
        expected_ids, expected_scores = brute_force(
            vectors[live], [ids[i] for i in live], query, 10
        )
        assert [h.id for h in hits] == expected_ids
        assert np.allclose([h.score for h in hits], expected_scores, atol=1e-5)
        assert hits[0].metadata == {"n": int(hits[0].id[1:])}
        assert [h.id for h in store.query(query, 10)] == expected_ids


# Threshold, upsert, delete and persistence: test_vector_contract (tests/test_backends.py), on both
# backends.
def test_reopening_with_another_dimension_is_refused(tmp_path):
    store = MmapVectorStore(tmp_path / "vec", dim=3)
    store.upsert(["a"], np.array([[1, 0, 0]], dtype=np.float32))
    store.close()
    with pytest.raises(ValueError, match="3-d"):
        MmapVectorStore(tmp_path / "vec", dim=4)


def test_compaction_keeps_results_and_drops_dead_rows(tmp_path):
    store = MmapVectorStore(tmp_path / "vec", dim=8)
    vectors = random_vectors(2000, 8)
    ids = [f"x{i}" for i in range(2000)]
    store.upsert(ids, vectors)
    query = random_vectors(1, 8, seed=5)[0]
    store.delete(ids[:1500])  # more than half dead: compacts by itself
    assert len(list((tmp_path / "vec").glob("matrix.*.f32"))) == 1
    assert (tmp_path / "vec" / "matrix.1.f32").stat().st_size == 500 * 8 * 4
    expected, _ = brute_force(vectors[1500:], ids[1500:], query, 5)
    assert [h.id for h in store.query(query, 5)] == expected


def test_reader_sees_only_committed_writes(tmp_path):
    writer = MmapVectorStore(tmp_path / "vec", dim=4)
    writer.upsert(["a"], random_vectors(1, 4))
    reader = MmapVectorStore(tmp_path / "vec", dim=4, readonly=True)
    assert reader.ids() == ["a"]
    writer.upsert(["b"], random_vectors(1, 4, seed=2))
    assert {h.id for h in reader.query(random_vectors(1, 4)[0], 5)} == {"a", "b"}
    with pytest.raises(PermissionError):
        reader.delete(["a"])


def test_rejects_bad_vectors(tmp_path):
    store = MmapVectorStore(tmp_path / "vec", dim=4)
    with pytest.raises(ValueError, match="4-d"):
        store.upsert(["a"], np.ones((1, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        store.upsert(["a"], np.array([[np.nan, 0, 0, 0]], dtype=np.float32))
    assert len(store) == 0


# Key-value store ------------------------------------------------------------------------------
# Round trip, namespaces and reopening: test_kv_contract (tests/test_backends.py), on both backends.
def test_namespace_names_are_checked(tmp_path):
    with pytest.raises(ValueError):
        SqliteDatabase(tmp_path / "kv.sqlite").namespace("bad name; drop table")


def test_kv_transaction_commits_all_or_nothing(tmp_path):
    db = SqliteDatabase(tmp_path / "kv.sqlite")
    a, b = db.namespace("a"), db.namespace("b")
    with pytest.raises(RuntimeError), db.transaction():
        a.set("k", 1)
        b.set("k", 2)
        raise RuntimeError("stage failed")
    assert a.get("k") is None and b.get("k") is None
    with db.transaction():
        a.set("k", 1)
        b.set("k", 2)
    reader = SqliteDatabase(tmp_path / "kv.sqlite", readonly=True)
    assert reader.namespace("a").get("k") == 1 and reader.namespace("missing").get("k") is None


# Graph store ----------------------------------------------------------------------------------
def test_graph_rows_round_trip_and_the_view_follows_changes(tmp_path):
    """A graph of the attribute layout before contributions (GraphML, the first rows) splits into
    per-document rows and reads back as the same view; a commit touching one document's rows is
    all a reader applies.
    """
    db = SqliteDatabase(tmp_path / "kv.sqlite")
    store = RowGraphStore(db)
    old = nx.Graph()
    old.add_node(
        "smolrag",
        name="SmolRAG",
        descriptions={"d1": ["small"], "d2": ["fast"]},
        types={"tool": 2},
        types_by_doc={"d1": {"tool": 1}, "d2": {"tool": 1}},
        excerpt_ids=["d1:0000", "d2:0003"],
    )
    old.add_node(
        "lightrag",
        name="LightRAG",
        descriptions={"d1": ["[bracketed] text"]},
        types={"tool": 1},
        excerpt_ids=["d1:0000"],
    )
    old.add_edge(
        "smolrag",
        "lightrag",
        weights={"d1": 2.5},
        keywords={"d1": ["lineage"]},
        descriptions={"d1": ["derived"]},
        excerpt_ids=["d1:0000"],
        weight=2.5,
    )
    store.write(as_write(old), 1)
    view = GraphView()
    view.apply(store.changes_since(view.version, 1))
    assert store.nodes(["smolrag", "zz"]) == {"smolrag": {"name": "SmolRAG"}}
    assert store.contribution(("n", "smolrag", ""), "d2") == {
        "descriptions": ["fast"],
        "types": {"tool": 1},
        "excerpt_ids": ["d2:0003"],
    }
    assert store.incident("smolrag") == [("lightrag", "smolrag")]
    node = view.graph.nodes["smolrag"]
    assert node["descriptions"] == old.nodes["smolrag"]["descriptions"]
    assert node["types"] == {"tool": 2} and list(node["excerpt_ids"]) == ["d1:0000", "d2:0003"]
    assert view.graph.nodes["lightrag"]["types_by_doc"] == {"d1": {"tool": 1}}
    assert view.graph.edges["smolrag", "lightrag"]["weight"] == 2.5
    store.write(
        GraphWrite(
            removed={("n", "lightrag", ""), ("e", "lightrag", "smolrag")},
            created={("n", "new", ""): {"name": "New"}},
            contributions={("n", "smolrag", "", "d2"): None},
        ),
        2,
    )
    changes = store.changes_since(1, 2)
    assert len(changes) == 4 and ("n", "lightrag", "") in changes.removed_items
    view.apply(changes)
    assert sorted(view.graph.nodes) == ["new", "smolrag"] and view.graph.number_of_edges() == 0
    assert view.graph.nodes["smolrag"]["types"] == {"tool": 1}
    db.close()


def test_graphml_export_replaces_what_xml_forbids(tmp_path):
    graph = nx.Graph()
    graph.add_node("a\ufffeb\x01", name="bad\uffff\x1f", excerpt_ids=["x\x00\ufffe"])
    graph.add_edge("a\ufffeb\x01", "c", weight=1.5)
    path = export_graphml(graph, tmp_path / "out.graphml")
    loaded = read_graphml(path)
    assert sorted(loaded.nodes) == ["a\ufffdb\ufffd", "c"]
    assert loaded.nodes["a\ufffdb\ufffd"]["excerpt_ids"] == ["x\x00\ufffd"]  # JSON escapes controls
    assert isinstance(nx.read_graphml(path), nx.Graph)  # plain GraphML for other tools


def test_failed_atomic_write_keeps_previous_file(tmp_path):
    target = tmp_path / "file.json"
    target.write_text(json.dumps({"v": 1}))
    with pytest.raises(RuntimeError), atomic_writer(target, "w") as handle:
        handle.write('{"v": 2, "trunc')
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"v": 1}
    assert list(tmp_path.iterdir()) == [target]
