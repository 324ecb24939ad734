"""Grouped model calls: packing, bounded document context, per-excerpt attribution, the group output
parser, and the engine with ``call_unit="group"`` against the simulated endpoint."""

import json

import pytest

from smolrag_lab import Settings, SmolRag
from smolrag_lab.ingest.grouping import attribute, document_context, group_excerpts
from smolrag_lab.prompts import COMPLETE_TAG, RECORD_SEP, TUPLE_SEP
from smolrag_lab.providers.base import EntityRecord, Extraction, ProviderError, RelationshipRecord
from smolrag_lab.providers.records import check_group_output, parse_group_output
from smolrag_lab.simulator import simulated_reply
from smolrag_lab.tokens import TokenCounter

LONG_DOC = "# Storage Guide\n\nIntro about the stores.\n\n" + "\n\n".join(
    f"## Part {i}\n\nThe Store{i} keeps data for the Service{i}. "
    f"The Service{i} reads from the Store{i} "
    f"every minute and reports to the Monitor."
    for i in range(12)
)


def test_groups_pack_consecutive_excerpts_up_to_the_budget():
    assert group_excerpts([50, 50, 50, 120, 10], 110) == [[0, 1], [2], [3], [4]]
    assert group_excerpts([500], 100) == [[0]]
    assert group_excerpts([], 100) == []


def test_document_context_is_bounded_and_outlines_the_document():
    counter = TokenCounter()
    context = document_context(LONG_DOC, 60, counter)
    assert context.startswith("Title: Storage Guide") and "- Part 0" in context
    assert counter.count(context) <= 60
    assert "Opening: " in document_context(LONG_DOC, 2000, counter)


def test_attribution_follows_mentions():
    excerpts = ["The Store1 keeps data.", "The Service1 reads the Store1.", "Nothing here."]
    extraction = Extraction(
        [
            EntityRecord("Store1", "component", "keeps data"),
            EntityRecord("Service1", "component", "reads"),
            EntityRecord("Ghost Thing", "concept", "never named"),
        ],
        [RelationshipRecord("Service1", "Store1", "reads from", ["io"], 2.0)],
        ["data"],
    )
    per = attribute(extraction, excerpts)
    assert [e.name for e in per[0].entities] == ["Store1"]
    assert sorted(e.name for e in per[1].entities) == ["Service1", "Store1"]
    assert [r.source for r in per[1].relationships] == ["Service1"] and not per[0].relationships
    assert (
        sum(len(p.entities) for p in per) == 4
    )  # the unplaced entity still lands in exactly one excerpt
    assert per[0].content_keywords == ["data"]


def test_group_output_parser_and_refusals():
    text = (
        f'("summary"{TUPLE_SEP}E1{TUPLE_SEP}First part of the guide.){RECORD_SEP}'
        f'("summary"{TUPLE_SEP}E2{TUPLE_SEP}Second part.){RECORD_SEP}'
        f'("entity"{TUPLE_SEP}Store1{TUPLE_SEP}component{TUPLE_SEP}Keeps data.){COMPLETE_TAG}'
    )
    summaries, extraction, report = parse_group_output(text, 2)
    assert summaries == {1: "First part of the guide.", 2: "Second part."}
    assert [e.name for e in extraction.entities] == ["Store1"] and report.skipped == 0
    check_group_output(text, 2)
    with pytest.raises(ProviderError, match="no readable record"):
        check_group_output("I cannot help with that.", 2)
    with pytest.raises(ProviderError, match="cut off"):
        check_group_output(text.replace(COMPLETE_TAG, "")[:-20], 2)


def _grouped_settings(server, tmp_path, **kw):
    return Settings(
        data_dir=tmp_path / "data",
        openai_api_key="sk-test",
        openai_base_url=server.base_url,
        completion_backend="openai",
        embedding_backend="openai",
        embedding_model="test-embed",
        completion_model="test-chat",
        call_unit="group",
        group_tokens=120,
        chunk_size=40,
        chunk_overlap=0,
        retry_base_delay_s=0.01,
        **kw,
    )


def test_engine_groups_calls_and_an_edit_costs_only_its_group(openai_server, tmp_path):
    openai_server.responder = lambda body: simulated_reply(body["messages"])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "guide.md").write_text(LONG_DOC, encoding="utf-8")
    with SmolRag(_grouped_settings(openai_server, tmp_path)) as rag:
        report = rag.ingest(corpus, progress=False)
        chats = openai_server.count("/chat/completions")
        assert report.failed == [] and 1 < chats < report.excerpts
        assert all(e["summary"] for _, e in rag.index.excerpts.items())
        assert rag.index.graph.number_of_nodes() > 10 and rag.check().ok
        edited = LONG_DOC.replace("The Service7 reads", "The Service7 quickly reads")
        (corpus / "guide.md").write_text(edited, encoding="utf-8")
        again = rag.ingest(corpus, progress=False)
        new_calls = openai_server.count("/chat/completions") - chats
        assert len(again.updated) == 1 and 1 <= new_calls <= 2
        texts = [e["text"] for _, e in rag.index.excerpts.items()]
        assert any("quickly reads" in t for t in texts) and not any(
            "Service7 reads" in t for t in texts
        )
        assert rag.check().ok


def test_a_summary_the_model_left_out_is_filled_locally(openai_server, tmp_path):
    def reply(body):
        text = simulated_reply(body["messages"])
        return (
            text.split(RECORD_SEP, 1)[1] if "<excerpts>" in json.dumps(body) else text
        )  # drop E1's summary

    openai_server.responder = reply
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "guide.md").write_text(LONG_DOC, encoding="utf-8")
    with SmolRag(_grouped_settings(openai_server, tmp_path)) as rag:
        assert rag.ingest(corpus, progress=False).failed == []
        assert all(e["summary"] for _, e in rag.index.excerpts.items())
        assert rag.providers.stats()["group_parse"]["errors"] >= 1


def test_a_group_with_unusable_output_is_reasked_then_falls_back(openai_server, tmp_path):
    """Issue 23: unusable group output no longer fails the document: one re-ask with the
    problem, then per-excerpt calls (each re-asked once), then the local extractor."""

    def reply(body):
        text = json.dumps(body)
        return (
            "Sorry, I cannot do that." if "GARBLED" in text else simulated_reply(body["messages"])
        )

    openai_server.responder = reply
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "guide.md").write_text(LONG_DOC, encoding="utf-8")
    (corpus / "bad.md").write_text(
        "# Bad\n\nThe Indexer answers GARBLED text for this document.", encoding="utf-8"
    )
    with SmolRag(_grouped_settings(openai_server, tmp_path, max_retries=1)) as rag:
        report = rag.ingest(corpus, progress=False)
        assert report.failed == [] and len(report.added) == 2
        bad = next(q for s, q in report.extraction_quality.items() if s.endswith("bad.md"))
        assert bad["reasked"] == 2 and bad["fallback_excerpts"] == 1
        assert bad["fallback_local"] == 1
        good = next(q for s, q in report.extraction_quality.items() if s.endswith("guide.md"))
        assert good["kept"] > 0 and "fallback_local" not in good and "reasked" not in good
        assert rag.check().ok
