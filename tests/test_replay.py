"""Ingestion and answers on what a real small model wrote (issue 23): transcripts recorded with
``--log-model-io`` from llama.cpp's server and Qwen2.5-Coder-0.5B-Instruct Q4_K_M (see
``benchmarks/real_model.py``), replayed through the simulator over real HTTP.

The files: ``01-project-overview.md`` ingested with each call unit, asked for JSON (``json-*``,
what ``structured_output=auto`` chose on that server) and for delimiter records, then one question
in three modes on the JSON excerpt-unit index (``answers``). A miss means the engine now sends a
request that was never recorded (a prompt or the chunking changed): record the transcripts again
(``python -m benchmarks.real_model --record DIR`` writes them per phase).
"""

from pathlib import Path

import pytest

from smolrag_lab import SmolRag
from smolrag_lab.providers.record_checks import stored_graph_problems
from smolrag_lab.query.citations import check_citations
from smolrag_lab.replay import Transcript, messages_key
from smolrag_lab.simulator import SimulatedEndpoint

REPLAY = Path(__file__).parent / "data" / "replay"
SHARED = Path(__file__).resolve().parents[2] / "shared"
DOCUMENT = SHARED / "corpus" / "smolrag_docs" / "01-project-overview.md"
QUESTION = "What is SmolRAG and what does it combine?"


def test_a_transcript_answers_the_recorded_request_and_counts_others():
    exchange = {"messages": [{"role": "user", "content": "hi"}], "reply": "hello", "cached": False}
    transcript = Transcript([exchange, {**exchange, "reply": "cached", "cached": True}])
    assert len(transcript) == 1 and transcript.reply(exchange["messages"]) == "hello"
    other = [{"role": "user", "content": "something else"}]
    assert transcript.reply(other) == "This endpoint simulates the smolrag_lab prompts only."
    assert transcript.hits == 1 and transcript.misses == ["something else"]
    assert messages_key(exchange["messages"]) != messages_key(other)


@pytest.fixture
def replayed(tmp_path):
    """A SmolRag whose completions come from the recorded transcripts, on the local embedder
    (as recorded: the answers' contexts then match the recording too).
    """
    if not DOCUMENT.exists():
        pytest.skip("the demo corpus is in ../shared")
    transcript = Transcript.load(*sorted(REPLAY.glob("*.jsonl")))
    endpoint = SimulatedEndpoint().start()
    endpoint.responder = transcript.responder

    def open_rag(call_unit: str, structured_output: str = "json_object") -> SmolRag:
        """``structured_output`` as recorded: ``json_object`` (what ``auto`` found on llama.cpp's
        server) or ``off`` (the delimiter records).
        """
        return SmolRag(
            data_dir=tmp_path / f"{call_unit}-{structured_output}",
            openai_api_key="sk-replay",
            openai_base_url=endpoint.base_url,
            completion_backend="openai",
            completion_model="qwen0.5b",
            completion_temperature=0.0,
            completion_cache=False,
            model_context_tokens=8192,
            max_output_tokens_extraction=600,
            max_concurrent_requests=1,
            call_unit=call_unit,
            structured_output=structured_output,
        )

    yield open_rag, transcript
    endpoint.stop()


@pytest.mark.parametrize("structured_output", ["json_object", "off"])
@pytest.mark.parametrize("call_unit", ["excerpt", "group"])
def test_real_model_output_ingests_without_a_failed_document(
    replayed, call_unit, structured_output
):
    open_rag, transcript = replayed
    rag = open_rag(call_unit, structured_output)
    report = rag.ingest(DOCUMENT, progress=False)
    assert transcript.misses == [], "re-record the transcripts (see the module docstring)"
    assert transcript.hits > 0 and report.failed == [] and len(report.added) == 1
    assert rag.graph().number_of_nodes() > 0
    assert stored_graph_problems(rag.graph(), DOCUMENT.read_text(encoding="utf-8")) == {}
    quality = next(iter(report.extraction_quality.values()))
    assert quality["kept"] > 0
    rag.close()


def test_a_summary_the_real_model_gave_several_excerpts_is_replaced(replayed):
    open_rag, transcript = replayed
    rag = open_rag("excerpt")
    report = rag.ingest(DOCUMENT, progress=False)
    assert next(iter(report.extraction_quality.values()))["repeated_summary"] >= 2
    stored = [(x["text"], x["summary"]) for _, x in rag.index.excerpts.items()]
    assert len({summary for _, summary in stored}) == len({text for text, _ in stored})
    assert transcript.misses == []
    rag.close()


def test_real_model_answers_cite_existing_sources_or_are_marked_uncited(replayed):
    open_rag, transcript = replayed
    rag = open_rag("excerpt")
    rag.ingest(DOCUMENT, progress=False)
    for mode in ("standard", "local_kg", "mix"):
        result = rag.query(QUESTION, mode)
        check = check_citations(result.answer, len(result.sources))
        assert result.answer.strip() and result.citations_ok is check.ok
        assert check.ok or result.uncited_sentences or check.invalid or check.states_nothing
    assert transcript.misses == [], "re-record the transcripts (see the module docstring)"
    rag.close()
