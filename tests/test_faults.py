"""Ingestion against a faulty model endpoint (the loopback OpenAI-compatible server): transient
faults are survived, lasting ones fail only their document, by name and stage, with nothing in the
stores, and a later run completes them without re-doing what landed."""

import json

from fake_openai import openai_settings
from test_engine import write_corpus

from smolrag_lab import SmolRag
from smolrag_lab.prompts import COMPLETE_TAG, RECORD_SEP, TUPLE_SEP

GOOD_EXTRACTION = (
    f'("entity"{TUPLE_SEP}"GraphStore"{TUPLE_SEP}"component"{TUPLE_SEP}"Keeps entities.")'
    f'{RECORD_SEP}("entity"{TUPLE_SEP}"QueryCache"{TUPLE_SEP}"component"{TUPLE_SEP}'
    f'"Caches answers.")'
    f'{RECORD_SEP}("relationship"{TUPLE_SEP}"GraphStore"{TUPLE_SEP}"QueryCache"{TUPLE_SEP}'
    f'"They work together."{TUPLE_SEP}"storage"{TUPLE_SEP}2){COMPLETE_TAG}'
)
DOCS = {
    f"doc{i}.md": f"# Part {i}\n\nThe GraphStore and the QueryCache of part {i} work together. "
    f"Section {i} explains how."
    for i in range(6)
}


def _responder(body: dict) -> str:
    prompt = json.dumps(body)
    if "-Goal-" not in prompt:
        return "A short summary."
    if "GARBLED" in prompt:
        return "Sure! Here are the entities: GraphStore, QueryCache. Hope that helps."
    if "TRUNCATED" in prompt:
        return GOOD_EXTRACTION[: -len(COMPLETE_TAG) - 40]
    return GOOD_EXTRACTION


def _settings(server, tmp_path, **kw):
    # the upstream pipeline (call_unit=excerpt): a failure is pinned to one stage
    values = dict(
        request_timeout_s=0.5,
        max_retries=6,
        ingest_concurrency=2,
        call_unit="excerpt",
        structured_output="off",  # the storm is for the task calls; the probe has its own test
    )
    return openai_settings(server.base_url, tmp_path / "data", **{**values, **kw})


def _names(items):
    return sorted(i["source"].rsplit("/", 1)[-1] for i in items)


def test_transient_faults_are_survived(openai_server, tmp_path):
    openai_server.responder = _responder
    storm = [{"status": 429, "retry_after": "0"}] * 5 + [
        {"status": 500},
        {"reset": True},
        {"stall": 1.0},
        {"status": 503},
        {"body": "{not json"},
        {"reset": True},
    ]
    for (
        fault
    ) in storm:  # interleaved with good answers ({}); concurrent calls may still draw several
        openai_server.faults.extend(
            [fault, {}]
        )  # faults in a row, so retries cover the whole storm
    injected = len(storm)
    corpus = write_corpus(tmp_path / "corpus", DOCS)
    with SmolRag(_settings(openai_server, tmp_path, max_retries=injected)) as rag:
        report = rag.ingest(corpus, progress=False)
        assert report.failed == [] and len(report.added) == len(DOCS)
        assert not openai_server.faults, "every injected fault was consumed"
        stats = rag.providers.stats()
        assert sum(s.get("retries", 0) for s in stats.values()) >= injected
        assert rag.check().ok
        assert rag.retrieve("What works with the QueryCache?", "mix").sources


def test_lasting_faults_fail_only_their_document_and_a_rerun_completes_them(
    openai_server, tmp_path
):
    openai_server.responder = _responder
    docs = {
        **DOCS,
        "poison.md": "# P\n\nThis one is POISON for the summariser.",
        "garbled.md": "# G\n\nThe model answers GARBLED text for this one.",
        "truncated.md": "# T\n\nThe model output is TRUNCATED for this one.",
        "wrongdim.md": "# W\n\nThe embedder returns WRONGDIM vectors for this one.",
    }
    openai_server.fail_if = lambda body: 500 if "POISON" in json.dumps(body) else None
    real_embeddings = openai_server._embeddings
    openai_server._embeddings = lambda body, fault: real_embeddings(
        body, {"dim": 8} if "WRONGDIM" in json.dumps(body) else fault
    )
    corpus = write_corpus(tmp_path / "corpus", docs)
    with SmolRag(_settings(openai_server, tmp_path, max_retries=2)) as rag:
        report = rag.ingest(corpus, progress=False)
        failed = {f["source"].rsplit("/", 1)[-1]: (f["stage"], f["error"]) for f in report.failed}
        assert failed.keys() == {"poison.md", "wrongdim.md"}
        assert failed["poison.md"][0] == "summaries" and failed["wrongdim.md"][0] == "embeddings"
        # Unusable or cut-off extraction output is re-asked once, then the local extractor runs
        # (issue 23): the document is ingested and the report says so.
        for name in ("garbled.md", "truncated.md"):
            quality = next(q for s, q in report.extraction_quality.items() if s.endswith(name))
            assert quality["reasked"] == 1 and quality["fallback_local"] == 1, quality
        added = sorted([*DOCS, "garbled.md", "truncated.md"])
        assert _names([{"source": s} for s in report.added]) == added
        stored_sources = {e["source"].rsplit("/", 1)[-1] for _, e in rag.index.excerpts.items()}
        assert stored_sources == set(added)
        assert rag.check().ok, rag.check().summary()

        openai_server.fail_if = lambda body: None
        openai_server.responder = lambda body: (
            "A short summary." if "-Goal-" not in json.dumps(body) else GOOD_EXTRACTION
        )
        openai_server._embeddings = real_embeddings
        before = len(openai_server.requests)
        again = rag.ingest(corpus, progress=False)
        assert again.failed == [] and _names([{"source": s} for s in again.added]) == sorted(failed)
        assert len(again.unchanged) == len(added)
        chat_bodies = [
            json.dumps(b)
            for p, b in openai_server.requests[before:]
            if p.endswith("/chat/completions")
        ]
        assert chat_bodies and not any(
            f"part {i}" in b.lower() for b in chat_bodies for i in range(6)
        )
        assert rag.check().ok
