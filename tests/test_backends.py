"""The same engine behaviour on both storage backends (files, PostgreSQL + pgvector): ingestion,
updates, deletion, queries, consistency, workspaces, atomic commits; plus the PostgreSQL stores'
own contracts and the file-to-PostgreSQL migration."""

import json
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
from conftest import SHARED

from smolrag_lab import Settings, SmolRag
from smolrag_lab.index import Index
from smolrag_lab.lab.workspace import QUICK_DEMO_DOCUMENTS
from smolrag_lab.query.retrieval import MODES
from smolrag_lab.stores.graph import as_write

CORPUS = SHARED / "corpus" / "smolrag_docs"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared")


def sources(result) -> list[str]:
    return [s.excerpt_id for s in result.sources]


def test_ingest_update_delete_and_query(backend, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in QUICK_DEMO_DOCUMENTS[:2]:
        (docs / name).write_text((CORPUS / name).read_text())
    with SmolRag(backend()) as rag:
        first = rag.ingest(docs, progress=False)
        assert len(first.added) == 2 and rag.check().ok
        for mode in MODES:
            assert rag.retrieve("What is SmolRAG?", mode).sources
        again = rag.ingest(docs, progress=False)
        assert len(again.unchanged) == 2 and sum(again.provider_calls.values()) == 0
        edited = docs / QUICK_DEMO_DOCUMENTS[0]
        edited.write_text(edited.read_text() + "\n\nZanzibar gateways relay every graph query.\n")
        assert rag.ingest(docs, progress=False).updated == [str(edited.resolve())]
        assert any(
            "Zanzibar" in s.text for s in rag.retrieve("Zanzibar gateways", "standard").sources
        )
        entities = rag.index.graph.number_of_nodes()
        (docs / QUICK_DEMO_DOCUMENTS[1]).unlink()
        assert len(rag.ingest(docs, progress=False).removed) == 1
        assert rag.index.graph.number_of_nodes() < entities and rag.check().ok
        stats = rag.stats()
        assert stats["documents"] == 1 and stats["vectors"]["entities"] == stats["entities"]


def test_a_reopened_index_answers_the_same(backend):
    with SmolRag(backend()) as rag:
        rag.ingest(CORPUS / QUICK_DEMO_DOCUMENTS[2], progress=False)
        before = {mode: sources(rag.retrieve("How does hybrid_kg work?", mode)) for mode in MODES}
        graph = nx.to_dict_of_dicts(rag.graph())
    with SmolRag(backend(query_cache=False)) as reopened:
        assert nx.to_dict_of_dicts(reopened.graph()) == graph
        assert {
            mode: sources(reopened.retrieve("How does hybrid_kg work?", mode)) for mode in MODES
        } == before


def test_workspaces_are_isolated(backend):
    if backend.name == "files":
        pytest.skip("a file index's workspace is its data directory")
    with SmolRag(backend(workspace="alpha")) as alpha, SmolRag(backend(workspace="beta")) as beta:
        alpha.ingest_text("Alpha teams build rockets in Lisbon.", "alpha.md")
        beta.ingest_text("Beta teams bake bread in Oslo.", "beta.md")
        assert [s.document for s in alpha.retrieve("Who bakes bread?", "standard").sources] == [
            "alpha.md"
        ]
        assert alpha.stats()["documents"] == beta.stats()["documents"] == 1
        assert beta.delete("alpha.md") is False and alpha.stats()["documents"] == 1


def test_document_commits_are_atomic(backend):
    """A failure after a document's graph rows are written, before its commit, leaves the previous
    records and graph (the transaction rolls back) and a consistent index."""
    with SmolRag(backend()) as rag:
        rag.ingest_text("Widgets are made by Acme Corp in Paris.", "a.md")
        state = (rag.stats()["entities"], rag.stats()["vectors"], len(rag.index.excerpts))
        original = rag.index.graph.write

        def fail(*args):
            original(*args)
            raise RuntimeError("connection lost mid-commit")

        rag.index.graph.write = fail
        report = rag.ingest_text("Gadgets are made by Initech in Austin.", "b.md")
        rag.index.graph.write = original
        assert report.failed and report.failed[0]["stage"] == "commit"
    with SmolRag(backend()) as reopened:
        assert (
            reopened.stats()["entities"],
            reopened.stats()["vectors"],
            len(reopened.index.excerpts),
        ) == state
        assert reopened.check().ok and not reopened.index.meta.get("writing")


def test_migrate_copies_a_file_index_into_postgres(tmp_path, postgres_dsn):
    files = Settings(data_dir=tmp_path / "files", log_to_file=False)
    with SmolRag(files) as rag:
        rag.ingest(CORPUS / QUICK_DEMO_DOCUMENTS[0], progress=False)
        expected = {mode: sources(rag.retrieve("What is SmolRAG?", mode)) for mode in MODES}
        counts = {
            k: v
            for k, v in rag.stats().items()
            if k in ("documents", "excerpts", "entities", "relationships", "vectors")
        }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "migrate",
            "--from",
            str(tmp_path / "files"),
            "--to",
            postgres_dsn,
            "--workspace",
            "migrated",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["check"]["ok"] is True
    with SmolRag(
        files.replace(database_url=postgres_dsn, workspace="migrated", query_cache=False)
    ) as pg:
        assert {k: v for k, v in pg.stats().items() if k in counts} == counts
        assert {mode: sources(pg.retrieve("What is SmolRAG?", mode)) for mode in MODES} == expected


def test_postgres_stores_contracts(postgres_dsn, tmp_path):
    from smolrag_lab.index import PostgresOptions

    index = Index(tmp_path, 8, postgres=PostgresOptions(postgres_dsn, "contracts"))
    try:
        kv = index.sources
        kv.set_many({"a": {"x": [1, 2]}, "b": 2})
        assert kv.get_many(["a", "b", "c"]) == {"a": {"x": [1, 2]}, "b": 2} and len(kv) == 2
        assert kv.delete(["a", "zz"]) == 1 and kv.keys() == ["b"]
        rng = np.random.default_rng(0)
        data = rng.standard_normal((300, 8)).astype(np.float32)
        store = index.excerpt_vectors
        store.upsert([f"v{i}" for i in range(300)], data, [{"i": i} for i in range(300)])
        truth = data @ data[5] / np.linalg.norm(data, axis=1) / np.linalg.norm(data[5])
        best = [f"v{i}" for i in np.argsort(-truth)[:5]]
        assert [h.id for h in store.exact_query(data[5], 5)] == best
        assert [h.id for h in store.query(data[5], 5)][0] == "v5" and store.get_metadata(
            ["v7"]
        ) == {"v7": {"i": 7}}
        assert store.delete(["v5", "nope"]) == 1 and "v5" not in {
            h.id for h in store.query(data[5], 5)
        }
        np.testing.assert_allclose(
            store.get_vectors(["v9"])[0], data[9] / np.linalg.norm(data[9]), rtol=1e-5
        )
        graph = index.graph
        whole = nx.Graph()
        whole.add_nodes_from((n, {"name": n.upper(), "excerpt_ids": [f"d:{n}"]}) for n in "abcd")
        whole.add_edges_from(
            (a, b, {"weights": {"d": 1.0}, "excerpt_ids": ["d:a"]}) for a, b in ("ab", "cb", "cd")
        )
        graph.write(as_write(whole), 1)
        view = index.graph_view().graph
        assert sorted(tuple(sorted(e)) for e in view.edges) == [("a", "b"), ("b", "c"), ("c", "d")]
        assert graph.nodes(["a"])["a"]["name"] == "A" and graph.incident("b") == [
            ("a", "b"),
            ("b", "c"),
        ]
        assert graph.neighbourhood("a", 2) == {"a", "b", "c"} == set(nx.ego_graph(view, "a", 2))
        assert graph.neighbourhood("zz", 3) == set()
    finally:
        index.close()


# Store contracts, the same on both backends ------------------------------------------------------
@pytest.fixture(params=["files", "postgres"])
def stores(request, tmp_path):
    """(open a key-value database, open a vector store) on each backend; reopening sees what was
    committed.
    """
    from smolrag_lab.stores import MmapVectorStore, SqliteDatabase

    if request.param == "files":
        yield (
            lambda: SqliteDatabase(tmp_path / "kv.sqlite"),
            lambda name, dim: MmapVectorStore(tmp_path / name, dim),
        )
        return
    from smolrag_lab.stores.postgres import PostgresDatabase
    from smolrag_lab.stores.postgres_vectors import PostgresVectorStore

    dsn, workspace = request.getfixturevalue("postgres_dsn"), f"stores-{tmp_path.name}"
    opened = []

    def database():
        opened.append(PostgresDatabase(dsn, workspace))
        return opened[-1]

    yield database, lambda name, dim: PostgresVectorStore(database(), name, dim)
    for db in opened:
        db.close()


def test_kv_contract(stores):
    open_db, _ = stores
    db = open_db()
    docs, excerpts = db.namespace("documents"), db.namespace("excerpts")
    docs.set("d1", {"source": "a.md", "hash": "x"})
    excerpts.set_many({f"e{i}": {"text": f"t{i}"} for i in range(1200)})
    assert docs.get("d1")["source"] == "a.md" and docs.get("nope", 5) == 5
    assert len(excerpts) == 1200 and excerpts.get_many(["e1", "e999", "zz"]) == {
        "e1": {"text": "t1"},
        "e999": {"text": "t999"},
    }
    assert excerpts.delete(["e1", "e2", "zz"]) == 2 and "e1" not in excerpts
    with pytest.raises(RuntimeError), db.transaction():
        docs.set("d2", 1)
        excerpts.set("e5000", 2)
        raise RuntimeError("stage failed")
    assert docs.get("d2") is None and excerpts.get("e5000") is None
    db.close()
    again = open_db()
    assert again.namespace("documents").get("d1") == {"source": "a.md", "hash": "x"}
    assert len(again.namespace("excerpts")) == 1198 and again.namespace("documents").keys() == [
        "d1"
    ]


def test_vector_contract(stores):
    _, open_vectors = stores
    store = open_vectors("vec", 3)
    store.upsert(["a", "b", "c"], np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=np.float32))
    assert [h.id for h in store.query(np.array([1, 0, 0]), top_k=5, threshold=0.5)] == ["a", "c"]
    store.upsert(["a"], np.array([[0, 0, 1]], dtype=np.float32), [{"version": 2}])
    assert len(store) == 3 and store.query(np.array([0, 0, 1]), 1)[0].id == "a"
    assert store.delete(["b", "missing"]) == 1
    with pytest.raises(ValueError, match="3-d"):
        store.upsert(["x"], np.ones((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        store.upsert(["x"], np.array([[np.nan, 0, 0]], dtype=np.float32))
    store.close()
    reopened = open_vectors("vec", 3)
    assert sorted(reopened.ids()) == ["a", "c"] and reopened.get_metadata(["a"]) == {
        "a": {"version": 2}
    }
    assert np.allclose(reopened.get_vectors(["a"]), [[0, 0, 1]])
    with pytest.raises(KeyError):
        reopened.get_vectors(["b"])


def test_graph_contract(stores):
    """Rows on both backends: items and per-document contributions, read where touched, written
    stamped with a version, followed by views; a removal and a re-made item in one commit.
    """
    from smolrag_lab.stores import GraphView, GraphWrite, RowGraphStore

    open_db, _ = stores
    db = open_db()
    graph = RowGraphStore(db)
    hub_d1 = {"descriptions": ["a hub \ufffe\x01"], "types": {"place": 2}, "excerpt_ids": ["d1:0"]}
    hub_d2 = {"descriptions": ["the hub"], "types": {"place": 1}, "excerpt_ids": ["d2:0"]}
    edge = {"descriptions": [], "keywords": ["k"], "weight": 1.5, "excerpt_ids": ["d1:0"]}
    first = GraphWrite(
        created={
            ("n", "hub", ""): {"name": "Hub"},
            ("n", "a", ""): {"name": "A"},
            ("n", "b", ""): {"name": "B"},
            ("e", "a", "hub"): {},
            ("e", "b", "hub"): {},
        },
        contributions={
            ("n", "hub", "", "d1"): hub_d1,
            ("n", "hub", "", "d2"): hub_d2,
            ("e", "a", "hub", "d1"): edge,
            ("e", "b", "hub", "d2"): {**edge, "weight": 2.0},
        },
    )
    with db.transaction():
        graph.write(first, 1)
    with pytest.raises(RuntimeError), db.transaction():
        graph.write(GraphWrite(created={("n", "c", ""): {"name": "C"}}), 2)
        raise RuntimeError("the commit failed")
    assert graph.nodes(["hub", "c"]) == {"hub": {"name": "Hub"}} and graph.number_of_edges() == 2
    assert graph.edges([("hub", "a")]) == {("a", "hub"): {}}
    assert graph.incident("hub") == [("a", "hub"), ("b", "hub")]
    assert graph.contribution(("n", "hub", ""), "d2") == hub_d2
    assert graph.contribution(("n", "hub", ""), "d9") is None
    assert graph.contributors(("n", "hub", ""), "d1", 5) == ["d2"]
    view = GraphView()
    with db.snapshot():
        view.apply(graph.changes_since(view.version, 1))
    hub = view.graph.nodes["hub"]
    assert view.version == 1 and view.graph.degree("hub") == 2
    assert hub["types"] == {"place": 3} and list(hub["excerpt_ids"]) == ["d1:0", "d2:0"]
    assert dict(view.mentions) == {"d1:0": {"hub": None}, "d2:0": {"hub": None}}
    assert view.graph.edges["b", "hub"]["weight"] == 2.0
    second = GraphWrite(  # d1 goes from the hub; "a" is removed and made again, bare
        created={("n", "a", ""): {"name": "A2"}},
        removed={("n", "a", ""), ("e", "a", "hub")},
        contributions={("n", "hub", "", "d1"): None},
    )
    with db.transaction():
        graph.write(second, 2)
    db.close()
    again = RowGraphStore(open_db())
    changes = again.changes_since(1, 2)
    assert sorted(changes.removed_items) == [("e", "a", "hub"), ("n", "a", "")]
    assert changes.removed_contributions == [("n", "hub", "", "d1")]
    view.apply(changes)
    hub = view.graph.nodes["hub"]
    assert sorted(view.graph.nodes) == ["a", "b", "hub"] and view.graph.degree("a") == 0
    assert hub["types"] == {"place": 1} and list(hub["excerpt_ids"]) == ["d2:0"]
    assert dict(view.mentions) == {"d2:0": {"hub": None}}
    fresh = GraphView()
    fresh.apply(again.changes_since(-1, 2))
    assert nx.utils.graphs_equal(fresh.graph, view.graph)
    assert dict(fresh.graph.nodes(data=True)) == dict(view.graph.nodes(data=True))


def test_one_writer_at_a_time_across_threads(backend):
    """Another thread of the same engine waits like another process (the lock is per thread)."""
    import threading

    from smolrag_lab.stores.lock import IndexLockedError

    with SmolRag(backend(write_lock_timeout_s=0.2)) as rag:
        errors = []
        with rag.writer_lock:
            thread = threading.Thread(
                target=lambda: errors.append(
                    pytest.raises(IndexLockedError, rag.ingest_text, "Blocked text.", "t.md")
                )
            )
            thread.start()
            thread.join(60)
            assert errors and rag.index.sources.get("t.md") is None
            with rag.writer_lock:  # re-entrant in the holding thread
                assert rag.writer_lock.held()
        assert rag.ingest_text("Now the lock is free.", "t.md").added == ["t.md"]
        assert not rag.index.meta.get("writing")


def test_one_writer_at_a_time_per_index(backend):
    from smolrag_lab.stores.lock import IndexLockedError

    with (
        SmolRag(backend(write_lock_timeout_s=0.2)) as first,
        SmolRag(backend(write_lock_timeout_s=0.2)) as second,
    ):
        with (
            first.writer_lock,
            pytest.raises(IndexLockedError, match="being written by another ingestion"),
        ):
            second.ingest_text("Blocked while the first writer works.", "blocked.md")
        assert second.ingest_text("Now the lock is free.", "free.md").added == ["free.md"]


def test_each_data_directory_is_its_own_postgres_workspace(postgres_dsn, tmp_path):
    """Without a workspace setting, separate data directories stay separate indexes, as with
    files."""

    def open_at(folder, **extra):
        return SmolRag(
            Settings(
                data_dir=tmp_path / folder, database_url=postgres_dsn, log_to_file=False, **extra
            )
        )

    with open_at("a") as first:
        first.ingest_text("Widgets are made by Acme Corp in Paris.", "w.md")
    with open_at("b") as second:
        assert second.stats()["documents"] == 0 and second.settings.index_workspace.startswith("b-")
    with open_at("a") as again, open_at("b", workspace=again.settings.index_workspace) as named:
        assert again.stats()["documents"] == named.stats()["documents"] == 1
