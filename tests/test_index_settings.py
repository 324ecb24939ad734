"""The index records the settings that shaped it: a reopen with other ones is a clear error, a
rebuild gives exactly the index a fresh ingestion gives, and the lab and sweeps name their data
directories from the same record.
"""

import json
import logging
import subprocess
import sys

import pytest
from pydantic import ValidationError

from smolrag_lab import Settings, SmolRag
from smolrag_lab.api.schemas import QueryRequest, RetrieveRequest
from smolrag_lab.index_settings import (
    REBUILD_KEY,
    RECORD_KEY,
    IndexSettingsMismatch,
    folder_name,
)
from smolrag_lab.ingest.pipeline import Ingestor
from smolrag_lab.ingest.rebuild import RebuildError
from smolrag_lab.lab import workspace
from smolrag_lab.settings import QUERY_SETTINGS, SettingsError
from smolrag_lab.simulator import simulated_reply

PARAGRAPHS = [
    "The QueryCache stores every answer under a hash of the question and the settings in force.",
    "The EmbeddingCache keeps vectors so that unchanged text is never embedded twice.",
    "The GraphStore keeps entities and relationships extracted from every excerpt of a document.",
    "Entities with the same name are merged by the GraphStore, their descriptions kept in order.",
    "The VectorStore ranks excerpts by cosine similarity; a threshold drops the weak matches.",
    "Reciprocal rank fusion merges the BM25 ranking with the dense ranking of the VectorStore.",
]


def write_corpus(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(("caches.md", "graph.md", "search.md")):
        body = "\n\n".join(PARAGRAPHS[2 * i : 2 * i + 2] + PARAGRAPHS[: i + 1])
        (folder / name).write_text(f"# {name[:-3].title()}\n\n{body}\n", encoding="utf-8")
    return folder


def snapshot(rag):
    """What must be equal between a rebuilt index and a fresh one."""
    index = rag.index
    return {
        "documents": sorted(d["source"] for _, d in index.documents.items()),
        "excerpts": sorted(
            (k, v["text"], v["summary"], v["tokens"]) for k, v in index.excerpts.items()
        ),
        "extractions": sorted(
            json.dumps([k, v], sort_keys=True) for k, v in index.extractions.items()
        ),
        "nodes": sorted(index.graph_view().graph.nodes),
        "edges": index.graph.number_of_edges(),
        "vectors": (
            sorted(index.excerpt_vectors.ids()),
            len(index.entity_vectors),
            len(index.relationship_vectors),
        ),
    }


def test_a_chunk_size_change_is_refused_then_rebuilt_to_the_fresh_index(backend, tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    with SmolRag(backend(chunk_size=40, chunk_overlap=0)) as rag:
        rag.ingest(corpus, progress=False)
        small = len(rag.index.excerpts)
        assert rag.index.meta.get(RECORD_KEY)["chunk_size"] == 40
    with pytest.raises(IndexSettingsMismatch) as info:
        SmolRag(backend(chunk_size=160, chunk_overlap=0))
    message = str(info.value)
    assert "chunk_size: index has 40, settings say 160" in message
    assert "rebuild" in message and "another data directory" in message
    assert list(info.value.differences) == ["chunk_size"]
    with SmolRag(backend(chunk_size=40, chunk_overlap=0)) as rag:
        assert len(rag.index.excerpts) == small  # refused, nothing was changed
    with SmolRag(backend(chunk_size=160, chunk_overlap=0), rebuild=True) as rag:
        assert rag.rebuilt is not None and len(rag.rebuilt.added) == 3
        rebuilt = snapshot(rag)
        assert rag.index.meta.get(RECORD_KEY)["chunk_size"] == 160
        assert rag.index.meta.get(REBUILD_KEY) is None and rag.check().ok
    fresh_settings = backend(chunk_size=160, chunk_overlap=0, data_dir=tmp_path / "fresh")
    if fresh_settings.database_url:
        fresh_settings = fresh_settings.replace(workspace=fresh_settings.workspace + "fresh")
    with SmolRag(fresh_settings) as fresh:
        fresh.ingest(corpus, progress=False)
        assert snapshot(fresh) == rebuilt
    assert len(rebuilt["excerpts"]) < small


def test_a_rebuild_reuses_the_provider_caches(server_settings, openai_server, tmp_path):
    openai_server.responder = lambda body: simulated_reply(body["messages"])
    corpus = write_corpus(tmp_path / "corpus")
    settings = server_settings.replace(chunk_size=40, chunk_overlap=0, log_to_file=False)
    with SmolRag(settings) as rag:
        assert not rag.ingest(corpus, progress=False).failed
        before = snapshot(rag)
    assert openai_server.count("/chat/completions") > 0
    with SmolRag(settings, rebuild=True) as rag:
        assert rag.rebuilt is None  # the settings match: nothing to do on open
        sent = openai_server.count()
        report = rag.rebuild()
        assert len(report.added) == 3 and snapshot(rag) == before
        assert openai_server.count() == sent  # every completion and embedding from the caches


def test_a_fresh_index_records_on_its_first_write_and_a_racing_writer_is_refused(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    base = Settings(data_dir=tmp_path / "data", chunk_overlap=0, log_to_file=False)
    late = SmolRag(base.replace(chunk_size=160))
    try:
        assert late.index.meta.get(RECORD_KEY) is None  # opening writes nothing
        with SmolRag(base.replace(chunk_size=40)) as first:
            first.ingest(corpus, progress=False)
        with pytest.raises(IndexSettingsMismatch, match="chunk_size"):
            late.ingest(corpus, progress=False)
        assert late.index.meta.get(RECORD_KEY)["chunk_size"] == 40
    finally:
        late.close()


def test_an_index_recorded_before_relationship_embed_words_existed_was_built_with_32(tmp_path):
    """A setting added later is recorded only when it differs from what older indexes were built
    with, so those open as they are, and the new default asks for a rebuild."""
    corpus = write_corpus(tmp_path / "corpus")
    base = Settings(data_dir=tmp_path / "data", chunk_overlap=0, log_to_file=False)
    with SmolRag(base.replace(relationship_embed_words=32)) as old:
        old.ingest(corpus, progress=False)
        assert "relationship_embed_words" not in old.index.meta.get(RECORD_KEY)
    with pytest.raises(IndexSettingsMismatch) as refused:
        SmolRag(base)
    assert "relationship_embed_words: index has 32, settings say 12" in str(refused.value)
    with SmolRag(base, rebuild=True) as rebuilt:
        assert rebuilt.index.meta.get(RECORD_KEY)["relationship_embed_words"] == 12


def test_an_index_without_a_record_adopts_the_current_settings_once(tmp_path, caplog):
    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(
        data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=0, log_to_file=False
    )
    with SmolRag(settings) as rag:
        rag.ingest(corpus, progress=False)
        rag.index.meta.delete([RECORD_KEY])  # the layout before settings were recorded
    with caplog.at_level(logging.WARNING, logger="smolrag_lab"), SmolRag(settings) as rag:
        assert rag.index.meta.get(RECORD_KEY) == rag.record
    assert [r for r in caplog.records if "recorded no settings" in r.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="smolrag_lab"), SmolRag(settings):
        pass
    assert not [r for r in caplog.records if "recorded no settings" in r.getMessage()]


def test_an_interrupted_rebuild_is_refused_until_resumed(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(
        data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=0, log_to_file=False
    )
    with SmolRag(settings) as rag:
        rag.ingest(corpus, progress=False)
    wider = settings.replace(chunk_size=120)

    async def crash(self, *args, **kwargs):
        raise RuntimeError("killed mid-rebuild")

    with monkeypatch.context() as patch:
        patch.setattr(Ingestor, "ingest_paths", crash)
        with pytest.raises(RuntimeError, match="killed"):
            SmolRag(wider, rebuild=True)
    with pytest.raises(IndexSettingsMismatch, match="interrupted"):
        SmolRag(wider)
    with SmolRag(wider, rebuild=True) as rag:
        assert len(rag.rebuilt.added) == 3 and len(rag.index.documents) == 3
        resumed = snapshot(rag)
    with SmolRag(wider.replace(data_dir=tmp_path / "fresh")) as fresh:
        fresh.ingest(corpus, progress=False)
        assert snapshot(fresh) == resumed


def test_a_rebuild_needs_every_source_file_and_changes_nothing_without_them(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = Settings(
        data_dir=tmp_path / "data", chunk_size=40, chunk_overlap=0, log_to_file=False
    )
    with SmolRag(settings) as rag:
        rag.ingest(corpus, progress=False)
        rag.ingest_text("Uploaded notes about the QueryCache.", "notes/upload.md")
        before = snapshot(rag)
    with pytest.raises(RebuildError, match="notes/upload.md"):
        SmolRag(settings.replace(chunk_size=120), rebuild=True)
    with SmolRag(settings) as rag:
        assert snapshot(rag) == before


def run_cli(*args, data_dir, **env):
    import os

    return subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_command_line_mismatch_and_rebuild(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    data = tmp_path / "cli-data"
    small = {"SMOLRAG_CHUNK_SIZE": "40", "SMOLRAG_CHUNK_OVERLAP": "0", "SMOLRAG_LOG_TO_FILE": "0"}
    wide = {**small, "SMOLRAG_CHUNK_SIZE": "160"}
    assert run_cli("ingest", str(corpus), "--json", data_dir=data, **small).returncode == 0
    refused = run_cli("ingest", str(corpus), data_dir=data, **wide)
    assert (
        refused.returncode == 2 and "chunk_size: index has 40, settings say 160" in refused.stderr
    )
    assert "--rebuild" in refused.stderr
    rebuilt = run_cli("ingest", str(corpus), "--rebuild", "--json", data_dir=data, **wide)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["documents"]["unchanged"] == 3
    again = run_cli("rebuild", "--json", data_dir=data, **wide)
    assert again.returncode == 0 and json.loads(again.stdout)["documents"]["added"] == 3
    stats = json.loads(run_cli("stats", "--json", data_dir=data, **wide).stdout)
    assert stats["documents"] == 3


def test_queries_accept_only_query_settings(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    with SmolRag(Settings(data_dir=tmp_path / "data", log_to_file=False)) as rag:
        rag.ingest(corpus, progress=False)
        assert len(rag.retrieve("What merges entities?", excerpt_top_k=1).sources) == 1
        for refused in ({"chunk_size": 100}, {"data_dir": "/tmp"}, {"no_such": 1}):
            with pytest.raises(SettingsError) as info:
                rag.retrieve("What merges entities?", **refused)
            assert next(iter(refused)) in str(info.value) and "excerpt_top_k" in str(info.value)


def test_api_bodies_refuse_other_keys_naming_the_allowed_ones():
    assert RetrieveRequest.model_validate({"text": "q", "top_k": 3}).top_k == 3
    for model, allowed in ((QueryRequest, "include_sources"), (RetrieveRequest, "top_k")):
        with pytest.raises(ValidationError) as info:
            model.model_validate({"text": "q", "chunk_size": 10})
        assert "chunk_size" in str(info.value) and allowed in str(info.value)


def test_lab_and_sweeps_name_directories_from_the_recorded_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLRAG_LAB_DATA", str(tmp_path / "lab"))
    a = workspace.lab_settings(quick=True, chunk_size=80)
    assert a.data_dir == workspace.lab_settings(quick=True, chunk_size=80).data_dir
    assert a.data_dir != workspace.lab_settings(quick=True, chunk_size=120).data_dir
    assert (
        a.data_dir != workspace.lab_settings(quick=True, chunk_size=80, group_tokens=600).data_dir
    )
    assert a.data_dir == workspace.lab_settings(quick=True, chunk_size=80, excerpt_top_k=9).data_dir
    assert a.data_dir.name == folder_name(a) + "-quick"
    assert "excerpt_top_k" in QUERY_SETTINGS
