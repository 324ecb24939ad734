"""Interrupted, concurrent and corrupted runs: SIGKILL at random points, a second writer, readers
during ingestion, and ``check --repair``. Sizes: SMOLRAG_KILL_POINTS (default 6; 30 with
--runslow)."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smolrag_lab import Settings, SmolRag
from smolrag_lab.cli import main as cli_main
from smolrag_lab.ingest.graph_merge import entity_id
from smolrag_lab.stores.graph import GraphWrite
from smolrag_lab.stores.lock import IndexLockedError, WriterLock

HERE = Path(__file__).parent


def corpus_docs(version: int, n: int = 10) -> dict[str, str]:
    """``n`` documents; version 2 edits every third one and drops the last."""
    docs = {}
    for i in range(n - (version == 2)):
        edited = version == 2 and i % 3 == 0
        detail = f"edited text about Scheduler{i}" if edited else "the Gateway routes calls"
        docs[f"doc{i:02d}.md"] = (
            f"# Topic {i}\n\nThe Component{i} service talks to the Registry{i % 4} "
            f"through the Gateway. "
            f"Component{i} caches answers in the Store{i % 3}.\n\n"
            f"## Details\n\nThe Registry{i % 4} keeps versions; {detail}. "
            f"Every Store{i % 3} is replicated by the Replicator.\n"
        )
    return docs


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.md"):
        if old.name not in docs:
            old.unlink()
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def settings(data_dir: Path, **kw) -> Settings:
    return Settings(data_dir=data_dir, chunk_size=40, chunk_overlap=0, ingest_concurrency=2, **kw)


def final_state(rag: SmolRag) -> dict:
    """Everything a re-run must reproduce (graph descriptions may differ in order, not in
    content)."""
    graph = rag.graph()
    return {
        "documents": sorted((d["source"], d["hash"]) for _, d in rag.index.documents.items()),
        "excerpts": sorted(rag.index.excerpts.keys()),
        "excerpt_vectors": sorted(rag.index.excerpt_vectors.ids()),
        "entity_vectors": sorted(rag.index.entity_vectors.ids()),
        "relationship_vectors": sorted(rag.index.relationship_vectors.ids()),
        "nodes": {k: sorted(a["excerpt_ids"]) for k, a in graph.nodes(data=True)},
        "edges": {tuple(sorted(p)): sorted(graph.edges[p]["excerpt_ids"]) for p in graph.edges},
    }


@pytest.fixture
def corpus(tmp_path):
    return write_docs(tmp_path / "corpus", corpus_docs(2))


@pytest.fixture
def reference(tmp_path, corpus):
    with SmolRag(settings(tmp_path / "reference")) as rag:
        rag.ingest(corpus, progress=False)
        return final_state(rag)


def test_an_edit_reaches_the_same_state_as_a_fresh_ingest(tmp_path, corpus, reference):
    write_docs(corpus, corpus_docs(1))
    with SmolRag(settings(tmp_path / "edited")) as rag:
        rag.ingest(corpus, progress=False)
        write_docs(corpus, corpus_docs(2))
        rag.ingest(corpus, progress=False)
        assert final_state(rag) == reference
        assert rag.check().ok


def _run_child(data_dir: Path, corpus: Path, kill_after: float | None) -> tuple[bool, float]:
    """Run the ingesting child; SIGKILL it ``kill_after`` seconds after it is ready (None: let it
    finish). Returns (killed, seconds from ready to exit)."""
    child = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "kill_ingest.py"),
            str(data_dir),
            str(corpus),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    ready = time.perf_counter()
    if kill_after is None:
        assert child.stdout.readline().startswith("done")
        took = time.perf_counter() - ready
    else:
        time.sleep(kill_after)
        child.send_signal(signal.SIGKILL)
        took = kill_after
    child.wait(timeout=120)
    return child.returncode == -signal.SIGKILL, took


def test_sigkill_at_random_points_then_recovery_reaches_the_uninterrupted_state(
    tmp_path, corpus, reference, request
):
    points = int(
        os.environ.get("SMOLRAG_KILL_POINTS", 30 if request.config.getoption("--runslow") else 6)
    )
    rng = random.Random(1234)
    window = _run_child(tmp_path / "timing", corpus, None)[1]  # how long an uninterrupted run takes
    outcomes = {"killed": 0, "finished first": 0, "needed repair": 0}
    for point in range(points):
        data_dir = tmp_path / f"run{point}"
        edit = (
            point % 2 == 1
        )  # every other run is killed while applying edits to an ingested corpus
        if edit:
            write_docs(corpus, corpus_docs(1))
            with SmolRag(settings(data_dir)) as rag:
                rag.ingest(corpus, progress=False)
            write_docs(corpus, corpus_docs(2))
        killed, _ = _run_child(data_dir, corpus, rng.uniform(0, window))
        outcomes["killed" if killed else "finished first"] += 1
        with SmolRag(settings(data_dir), recover=False) as raw:
            found = raw.check()  # loads; may show what the kill left half-done
        outcomes["needed repair"] += not found.ok
        with SmolRag(settings(data_dir)) as rag:  # opening repairs
            assert rag.check().ok, rag.check().summary()
            for mode in ("standard", "mix"):
                for source in rag.retrieve("Which service talks to the Gateway?", mode).sources:
                    assert rag.index.excerpts.get(source.excerpt_id) is not None
            rag.ingest(corpus, progress=False)
            assert final_state(rag) == reference, f"kill point {point} (edit={edit})"
            assert rag.check().ok
    print(f"kill loop: {points} points over a {window:.2f} s ingestion, {outcomes}")
    assert outcomes["killed"] >= points // 2


def test_second_writer_fails_clearly_and_the_lock_dies_with_its_holder(tmp_path, corpus):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from smolrag_lab.stores.lock import WriterLock\n"
                f"lock = WriterLock({str(data_dir)!r}); lock.acquire(); "
                "print('held', flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with SmolRag(settings(data_dir, write_lock_timeout_s=0.3)) as rag:
            with pytest.raises(IndexLockedError, match=rf"pid {holder.pid}"):
                rag.ingest(corpus, progress=False)
            assert len(rag.index.documents) == 0
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
            assert rag.ingest(corpus, progress=False).counts()["documents"]["added"] == 9
    finally:
        holder.kill()


def test_two_engines_in_one_process_do_not_interleave(tmp_path, corpus):
    with (
        SmolRag(settings(tmp_path / "d")) as first,
        SmolRag(settings(tmp_path / "d", write_lock_timeout_s=0)) as second,
    ):
        with first.writer_lock, pytest.raises(IndexLockedError):
            second.delete("nothing.md")
        assert WriterLock(tmp_path / "d").try_acquire()


def test_readers_during_ingestion_see_a_consistent_state(tmp_path, corpus):
    data_dir = tmp_path / "data"
    first = write_docs(tmp_path / "first", corpus_docs(1, n=4))
    with SmolRag(settings(data_dir)) as rag:
        rag.ingest(first, progress=False)
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "kill_ingest.py"), str(data_dir), str(corpus)],
        stdout=subprocess.PIPE,
        text=True,
    )
    queries = 0
    try:
        assert writer.stdout.readline().strip() == "ready"
        with SmolRag(
            settings(data_dir, query_cache=False)
        ) as reader:  # opened mid-ingestion: no repair
            while writer.poll() is None and queries < 400:
                for mode in ("standard", "local_kg", "mix"):
                    result = reader.retrieve("Which registry keeps versions?", mode)
                    records = reader.index.excerpts.get_many([s.excerpt_id for s in result.sources])
                    assert len(records) == len(result.sources)
                    assert all(records[s.excerpt_id]["text"] == s.text for s in result.sources)
                    queries += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0 and queries > 0


def test_check_finds_and_repair_fixes_damage(tmp_path, corpus, capsys, monkeypatch):
    # the CLI opens the index with the settings it was built with (a mismatch is refused)
    monkeypatch.setenv("SMOLRAG_CHUNK_SIZE", "40")
    monkeypatch.setenv("SMOLRAG_CHUNK_OVERLAP", "0")
    data_dir = tmp_path / "data"
    with SmolRag(settings(data_dir)) as rag:
        rag.ingest(corpus, progress=False)
        some_excerpt = sorted(rag.index.excerpts.keys())[0]
        rag.index.excerpt_vectors.delete([some_excerpt])
        rag.index.excerpt_vectors.upsert(
            ["ghost:0000"], rag.providers.embedder.embed(["ghost"]), [{}]
        )
        key = next(iter(rag.graph().nodes))
        rag.index.entity_vectors.delete([entity_id(key)])
        with rag.index.db.transaction():  # an entity lost from the graph, its records kept
            rag.index.bump_version()
            pairs = rag.index.graph.incident(key)
            lost = {("n", key, ""), *(("e", *p) for p in pairs)}
            rag.index.write_graph(GraphWrite(removed=lost))
        found = rag.check()
    assert not found.ok
    assert {"excerpts without vector", "excerpt vectors without excerpt"} <= set(found.counts)
    assert "recorded entities missing from the graph" in found.counts
    assert cli_main(["check", "--data-dir", str(data_dir)]) == 1
    assert "check --repair" in capsys.readouterr().out
    assert cli_main(["check", "--data-dir", str(data_dir), "--repair"]) == 0
    assert "after repair: consistent" in capsys.readouterr().out
    with SmolRag(settings(data_dir)) as rag:
        assert rag.check().ok and key in rag.graph()
        assert (
            some_excerpt in rag.index.excerpt_vectors
            and "ghost:0000" not in rag.index.excerpt_vectors
        )
