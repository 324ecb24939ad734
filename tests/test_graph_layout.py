"""The graph as rows: an index written with the GraphML layout of earlier versions is converted once
on opening; text the XML of that layout could not hold (U+FFFE, U+FFFF, C0 controls) goes through
ingest, query, export and reopen; lone surrogates are refused with a clear error.
"""

import dataclasses
import json
import subprocess
import sys

import networkx as nx
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from smolrag_lab import Settings, SmolRag
from smolrag_lab.query.retrieval import MODES
from smolrag_lab.settings import reveal
from smolrag_lab.stores.graph import GraphView, read_graphml, to_graphml
from smolrag_lab.stores.graph_rows import RowGraphStore

GRAPH_TABLES = (
    "smolrag_entities",
    "smolrag_edges",
    "smolrag_graph_removed",
    "smolrag_contributions",
    "smolrag_contributions_removed",
)

TEXTS = {
    "a.md": "Acme Corp builds the Zephyr Engine in Paris. The Zephyr Engine powers the Shared Hub.",
    "b.md": "Initech builds the Quasar Router in Austin. The Quasar Router links the Shared Hub.",
}


def state(rag: SmolRag) -> dict:
    graph = rag.graph()
    return {
        "nodes": {k: dict(a) for k, a in graph.nodes(data=True)},
        "edges": {tuple(sorted((u, v))): dict(a) for u, v, a in graph.edges(data=True)},
    }


def as_previous_layout(rag: SmolRag, saved_version: int) -> None:
    """Turn the index into what the GraphML layout left: the graph in ``graph.graphml`` tagged with
    the index version it reflected, no graph tables, no layout mark.
    """
    graph = rag.graph().copy()
    graph.graph["index_version"] = saved_version
    (rag.settings.data_dir / "graph.graphml").write_bytes(to_graphml(graph))
    db = rag.index.db
    for table in GRAPH_TABLES:
        db.execute(f"DROP TABLE {table}")
    rag.index.meta.delete(["layout"])


QUESTION = "What links the Shared Hub?"


def built_index(tmp_path) -> tuple[Settings, dict, dict, int]:
    """An index of TEXTS in the current layout: its settings, graph state, each mode's answer
    sources and version, for an older layout to be converted back to.
    """
    settings = Settings(data_dir=tmp_path / "data", log_to_file=False, query_cache=False)
    with SmolRag(settings) as rag:
        for source, text in TEXTS.items():
            rag.ingest_text(text, source)
        answers = {mode: rag.retrieve(QUESTION, mode).sources for mode in MODES}
        return settings, state(rag), answers, rag.index.version


@pytest.mark.parametrize("lagging", [False, True], ids=["saved", "behind-the-records"])
def test_an_index_of_the_graphml_layout_is_converted_once(tmp_path, lagging):
    settings, expected, answers, version = built_index(tmp_path)
    with SmolRag(settings, recover=False) as rag:
        as_previous_layout(rag, version - 1 if lagging else version)
        if lagging:  # the last commit's graph changes never reached the file
            graph = read_graphml(settings.data_dir / "graph.graphml")
            graph.remove_node("quasar router")
            graph.graph["index_version"] = version - 1
            (settings.data_dir / "graph.graphml").write_bytes(to_graphml(graph))
    with SmolRag(settings) as rag:  # converts, and (lagging) repairs from the stored extractions
        assert not (settings.data_dir / "graph.graphml").exists()
        assert (settings.data_dir / "graph.graphml.converted").exists()
        assert state(rag) == expected and rag.check().ok
        assert {m: rag.retrieve(QUESTION, m).sources for m in MODES} == answers
    with SmolRag(settings) as rag:  # once: a second open finds rows and nothing to convert
        assert state(rag) == expected and rag.index.meta.get("layout")


def as_whole_rows(rag: SmolRag) -> None:
    """Turn the index into what the first row layout left: each item's whole history (every
    document's part) in its one row, no contribution rows, the layout marked ``graph-rows-1``.
    """
    graph, db = rag.graph(), rag.index.db
    whole = {k: _logical(a) for k, a in graph.nodes(data=True)}
    pairs = {tuple(sorted((u, v))): _logical(a) for u, v, a in graph.edges(data=True)}
    for table in GRAPH_TABLES[3:]:
        db.execute(f"DELETE FROM {table}")
    with db.transaction():
        db.executemany(
            "UPDATE smolrag_entities SET attrs=? WHERE key=?",
            [(json.dumps(a), k) for k, a in whole.items()],
        )
        db.executemany(
            "UPDATE smolrag_edges SET attrs=? WHERE source=? AND target=?",
            [(json.dumps(a), *p) for p, a in pairs.items()],
        )
        rag.index.meta.set("layout", "graph-rows-1")


def _logical(attrs: dict) -> dict:
    out = {k: v for k, v in attrs.items() if k != "excerpts_by_doc"}
    out["excerpt_ids"] = list(attrs["excerpt_ids"])
    return out


def test_an_index_of_the_first_row_layout_is_split_into_contributions(tmp_path):
    settings, expected, answers, _ = built_index(tmp_path)
    with SmolRag(settings, recover=False) as rag:
        as_whole_rows(rag)
    with SmolRag(settings) as rag:
        assert rag.index.meta.get("layout") == "graph-rows-2"
        assert state(rag) == expected and rag.check().ok
        assert {m: rag.retrieve(QUESTION, m).sources for m in MODES} == answers
        assert RowGraphStore(rag.index.db).contribution(("n", "shared hub", ""), "nope") is None
        rag.delete("a.md")
        assert "zephyr engine" not in rag.graph() and "shared hub" in rag.graph()


HARD = "Zed\ufffeCorp\uffff builds \x01the\x1f Nil\x00Box \u200fمرحبا\u200e 🚀 Rocket Works."


def test_text_xml_cannot_hold_round_trips_and_exports(backend, tmp_path):
    # U+0000 is refused on both backends alike (PostgreSQL cannot store it): a clear error, nothing
    # written; every other character XML 1.0 forbids round-trips.
    text = HARD.replace("\x00", "")
    with SmolRag(backend(query_cache=True)) as rag:
        with pytest.raises(ValueError, match="NUL"):
            rag.ingest_text(HARD, "nul.md")
        assert rag.index.sources.get("nul.md") is None
        report = rag.ingest_text(text + " The Rocket Works ship to Mars.", "hard\ufffe.md")
        assert report.added == ["hard\ufffe.md"] and not report.failed
        results = {mode: rag.retrieve(text, mode) for mode in MODES}
        assert results["standard"].sources and results["local_kg"].entities
        stats = rag.stats()
    export = tmp_path / "kg.graphml"
    out = subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", "export", "--graphml", str(export)]
        + ["--data-dir", str(backend().data_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(backend()),
    )
    assert out.returncode == 0, out.stderr
    exported = nx.read_graphml(export)  # valid XML 1.0
    assert exported.number_of_nodes() == stats["entities"]
    with SmolRag(backend()) as reopened:
        assert reopened.stats()["entities"] == stats["entities"] and reopened.check().ok
        assert reopened.index.excerpts.get(
            reopened.index.documents.get(reopened.index.sources.get("hard\ufffe.md"))[
                "excerpt_ids"
            ][0]
        )["text"].startswith(text[:10])
        assert reopened.delete("hard\ufffe.md") and reopened.check().ok


def _env(settings: Settings) -> dict:
    import os

    env = {**os.environ, "SMOLRAG_LOG_TO_FILE": "false"}
    if settings.database_url:
        env |= {"SMOLRAG_DATABASE_URL": reveal(settings.database_url)}
        env |= {"SMOLRAG_WORKSPACE": settings.index_workspace}
    return env


def test_lone_surrogates_are_refused_with_a_clear_error(tmp_path):
    with SmolRag(Settings(data_dir=tmp_path / "data", log_to_file=False)) as rag:
        with pytest.raises(ValueError, match="lone surrogate U\\+D800"):
            rag.ingest_text("Acme \ud800 Corp builds engines.", "bad.md")
        with pytest.raises(ValueError, match="lone surrogate"):
            rag.retrieve("Who is \udfff?", "local_kg")
        assert rag.stats()["documents"] == 0 and not rag.index.meta.get("writing")


@hsettings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(min_size=1, max_size=200))
@example(text="\x00")
@example(text="Acme\ufffe\uffff\u200f Corp 🚀 builds engines.")
def test_any_unicode_text_goes_through_ingest_query_export_reopen(tmp_path_factory, text):
    data_dir = tmp_path_factory.mktemp("any")
    settings = Settings(data_dir=data_dir, log_to_file=False)
    with SmolRag(settings) as rag:
        if not text.strip() or "\x00" in text:  # refused: empty, or binary content
            with pytest.raises(ValueError, match="empty|NUL"):
                rag.ingest_text(text, "any.md")
            return
        report = rag.ingest_text(text, "any.md")
        assert report.added == ["any.md"], report.failed
        for mode in ("standard", "local_kg", "mix"):
            rag.retrieve(text, mode)
        exported = nx.read_graphml(_export(rag, data_dir / "kg.graphml"))
        assert exported.number_of_nodes() == rag.stats()["entities"]
    with SmolRag(settings) as reopened:
        assert reopened.check().ok and reopened.stats()["documents"] == 1


def _export(rag: SmolRag, path):
    from smolrag_lab.stores.graph import export_graphml

    return export_graphml(rag.graph(), path)


def test_a_first_load_builds_the_view_that_applying_each_row_builds(tmp_path):
    """The bulk path of a first load (GraphView._load) and the per-row path of a refresh
    (GraphView.apply on changes that are not full) give the same graph, in the same order."""
    with SmolRag(Settings(data_dir=tmp_path / "data", log_to_file=False)) as rag:
        for source, text in {**TEXTS, "c.md": TEXTS["a.md"] + " Acme Corp ships to Oslo."}.items():
            rag.ingest_text(text, source)
        rag.delete("b.md")
        index = rag.index
        with index.db.snapshot():
            full = index.graph.changes_since(-1, index.version)
    loaded, applied = GraphView(), GraphView()
    loaded.apply(full)
    applied.apply(dataclasses.replace(full, full=False))
    assert full.contributions and loaded.version == applied.version == full.version
    assert list(loaded.graph.nodes(data=True)) == list(applied.graph.nodes(data=True))
    assert list(loaded.graph.edges(data=True)) == list(applied.graph.edges(data=True))
    assert loaded.mentions == applied.mentions
    assert list(loaded.mentions.items()) == list(applied.mentions.items())


def test_a_view_refreshed_commit_by_commit_is_the_view_a_first_load_builds(tmp_path):
    """Refreshing after each ingest, re-ingest and delete (additions kept as running totals,
    replacements and removals summed afresh) ends at the graph a first load builds, weights
    equal to the last bit."""
    edits = [
        ("a.md", TEXTS["a.md"]),
        ("c.md", TEXTS["a.md"] + " Acme Corp ships to Oslo. Acme Corp ships to Oslo."),
        ("b.md", TEXTS["b.md"]),
        ("a.md", TEXTS["a.md"] + " Acme Corp ships to Oslo."),
        ("b.md", None),
    ]
    with SmolRag(Settings(data_dir=tmp_path / "data", log_to_file=False)) as rag:
        index = rag.index
        for source, text in edits:
            rag.ingest_text(text, source) if text is not None else rag.delete(source)
            refreshed = index.graph_view()
        with index.db.snapshot():
            loaded = GraphView()
            loaded.apply(index.graph.changes_since(-1, index.version))
    weights = {(a, b): attrs["weight"] for a, b, attrs in refreshed.graph.edges(data=True)}
    assert weights and any(len(a["weights"]) > 1 for *_, a in loaded.graph.edges(data=True))
    assert weights == {(a, b): attrs["weight"] for a, b, attrs in loaded.graph.edges(data=True)}
    assert dict(refreshed.graph.nodes(data=True)) == dict(loaded.graph.nodes(data=True))
    assert {tuple(sorted(p)) for p in refreshed.graph.edges} == {
        tuple(sorted(p)) for p in loaded.graph.edges
    }
    assert refreshed.mentions == loaded.mentions
