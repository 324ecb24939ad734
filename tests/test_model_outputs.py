"""Extraction that copes with what small models write (issue 23), on hand-written imitations of
their output in tests/data/model_outputs/ (not real transcripts), served over real HTTP."""

import asyncio
import collections
from pathlib import Path

import pytest

from smolrag_lab.providers import OpenAIClient
from smolrag_lab.providers.openai_tasks import OpenAITasks
from smolrag_lab.providers.record_checks import UNDECLARED_TYPE
from smolrag_lab.settings_fields import DEFAULT_ENTITY_TYPES
from smolrag_lab.simulator import simulated_reply

OUTPUTS = Path(__file__).parent / "data" / "model_outputs"
EXCERPT = "The Indexer writes vectors to the VectorStore after the Chunker splits each file."


def output(name):
    return (OUTPUTS / f"{name}.txt").read_text(encoding="utf-8")


@pytest.fixture
def tasks(server_settings):
    # The replies imitate unconstrained output to the delimiter prompts: no JSON mode, no probe.
    settings = server_settings.replace(completion_cache=False, max_retries=0)
    client = OpenAIClient(settings.replace(structured_output="off"))
    return OpenAITasks(client, DEFAULT_ENTITY_TYPES)


def serve(server, *replies):
    queue = list(replies)
    server.responder = lambda body: queue.pop(0) if queue else simulated_reply(body["messages"])


def names(extraction):
    return {e.name for e in extraction.entities}


def test_markdown_list_is_read_and_prompt_types_read_back_are_dropped(openai_server, tasks):
    serve(openai_server, output("markdown_list"))
    found = asyncio.run(tasks.extract(EXCERPT))
    assert names(found) == {"Indexer", "VectorStore"}
    assert found.quality["dropped_template_word"] == 2 and found.quality["kept"] == 2
    assert "reasked" not in found.quality and openai_server.count("/chat/completions") == 1


def test_entity_lines_repaired_validated_and_endpoints_flagged(openai_server, tasks):
    serve(openai_server, output("entity_lines"))
    found = asyncio.run(tasks.extract(EXCERPT))
    assert "Title" not in names(found) and "VectorStore" in names(found)  # full stop stripped
    assert all(not n.endswith(".") for n in names(found))
    chunker = next(e for e in found.entities if e.name == "Chunker")
    assert chunker.type == UNDECLARED_TYPE and found.quality["endpoint_created"] == 1
    assert {(r.source, r.target) for r in found.relationships} == {
        ("Indexer", "VectorStore"),
        ("Indexer", "Chunker"),
    }


def test_fenced_json_drops_duplicates_inventions_and_out_of_range_fields(openai_server, tasks):
    serve(openai_server, output("fenced_json"))
    found = asyncio.run(tasks.extract(EXCERPT))
    assert [e.name for e in found.entities] == ["Indexer"]
    q = found.quality
    assert q["dropped_duplicate"] == 1 and q["dropped_not_in_text"] == 1  # "OpenAI" is invented
    assert q["dropped_relationship_weight_out_of_range"] == 1 and found.relationships == []


def test_shifted_delimiter_fields_and_template_names_are_dropped(openai_server, tasks):
    serve(openai_server, output("shifted_delimiters"))
    found = asyncio.run(tasks.extract(EXCERPT))
    assert names(found) == {"Indexer", "Chunker"}
    assert found.quality["dropped_template_word"] == 2
    assert found.quality["dropped_relationship_shifted_fields"] == 1
    assert [(r.source, r.target) for r in found.relationships] == [("Indexer", "Chunker")]


def test_nothing_usable_is_reasked_once_with_the_problem_then_local(openai_server, tasks):
    serve(openai_server, output("refusal"), output("refusal"))
    found = asyncio.run(tasks.extract(EXCERPT))
    assert found.quality["reasked"] == 1 and found.quality["fallback_local"] == 1
    assert found.entities and openai_server.count("/chat/completions") == 2
    reask = openai_server.requests[-1][1]["messages"]
    assert len(reask) == 3 and "could not be used" in reask[-1]["content"]


def test_a_reask_that_works_needs_no_fallback(openai_server, tasks):
    serve(openai_server, output("refusal"), output("entity_lines"))
    found = asyncio.run(tasks.extract(EXCERPT))
    assert found.quality["reasked"] == 1 and "fallback_local" not in found.quality
    assert "Indexer" in names(found)


def test_group_keeps_the_summary_it_wrote_and_falls_back_per_excerpt(openai_server, tasks):
    group = output("group_markdown")
    serve(openai_server, group, group, output("entity_lines"), output("refusal"), output("refusal"))
    second = "The Chunker splits each file into excerpts."
    pairs = asyncio.run(tasks.process_group("# Doc\n\n" + EXCERPT, "Title: Doc", [EXCERPT, second]))
    (summary1, first), (summary2, other) = pairs
    assert summary1 == "How the Indexer stores vectors in the VectorStore."
    assert summary2  # the local extractive summary fills the one the model left out
    assert first.quality["reasked"] == 1 and first.quality["fallback_excerpts"] == 1
    assert first.quality["dropped_template_word"] >= 3  # the prompt's types read back, twice
    assert "Indexer" in names(first)
    assert other.quality["reasked"] == 1 and other.quality["fallback_local"] == 1 and other.entities
    assert openai_server.count("/chat/completions") == 5


ANSWER_CONTEXT = (
    "-----Sources-----\n[1] a.md\nThe Indexer writes vectors.\n\n[2] b.md\nThe Chunker splits."
)


def test_citation_check_flags_missing_and_invented_sources():
    from smolrag_lab.query.citations import check_citations

    good = check_citations("The Indexer writes vectors [1]. The Chunker splits files [2].", 2)
    assert good.ok and not good.uncited
    bad = check_citations("The Indexer writes vectors [3]. It was developed by OpenAI.", 2)
    assert not bad.ok and bad.invalid == [3] and bad.uncited == ["It was developed by OpenAI."]
    assert check_citations("The context does not say who wrote it.", 2).ok
    after_stop = check_citations("Widgets are made by Acme Corp in Paris. [1] So it goes [2].", 2)
    assert after_stop.ok, after_stop.uncited  # a citation after the full stop counts
    note = check_citations("Widgets are made by Acme Corp [1]. [Note] Nothing cites this here.", 2)
    assert note.uncited == ["[Note] Nothing cites this here."]  # a bracketed word still starts one
    bare = check_citations("[1] 01-project-overview.md", 2)  # a real 0.5B model's whole answer
    assert not bare.ok and bare.states_nothing and "states nothing" in bare.problem()


def test_an_uncited_answer_is_reasked_once_with_the_problem(openai_server, tasks):
    cited = "The Indexer writes vectors [1]. The Chunker splits each file [2]."
    serve(openai_server, output("uncited_answer"), cited)
    reply = asyncio.run(tasks.answer("What writes vectors?", ANSWER_CONTEXT, ["a", "b"], "mix"))
    assert reply == cited and openai_server.count("/chat/completions") == 2
    follow_up = openai_server.requests[-1][1]["messages"][-1]["content"]
    assert "do not exist: [3]" in follow_up and "carry no [n] citation" in follow_up


def test_an_answer_still_uncited_is_marked_in_the_result(openai_server, server_settings, tmp_path):
    from test_engine import write_corpus

    from smolrag_lab import SmolRag

    def reply(body):
        system = body["messages"][0]["content"]
        return (
            output("uncited_answer")
            if system.startswith("---Role---")
            else (simulated_reply(body["messages"]))
        )

    openai_server.responder = reply
    settings = server_settings.replace(chunk_size=40, chunk_overlap=0, completion_cache=False)
    with SmolRag(settings) as rag:
        rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
        result = rag.query("Which store keeps entities?", "mix")
        assert result.citations_ok is False and result.uncited_sentences
        assert "developed by OpenAI" in " ".join(result.uncited_sentences)
        assert rag.retrieve("Which store keeps entities?", "mix").citations_ok is None


def test_records_copied_from_the_worked_example_are_dropped():
    """A small model read the example back (seen with the 0.5B model on llama.cpp): names the text
    happens to contain, descriptions only the example has. A short phrase that merely overlaps the
    example is kept."""
    from smolrag_lab import prompts
    from smolrag_lab.providers.base import EntityRecord, Extraction
    from smolrag_lab.providers.record_checks import RecordChecker

    text = "SmolRAG keeps excerpt vectors in a VectorStore and its graph in NetworkX."
    example = prompts.entity_extraction(text, DEFAULT_ENTITY_TYPES)[0]["content"]
    checker = RecordChecker(text, DEFAULT_ENTITY_TYPES, example=example)
    echoed = EntityRecord("VectorStore", "interface", "Holds the vectors the Indexer writes.")
    own = EntityRecord("SmolRAG", "concept", "Holds the vectors.")
    kept = checker.check(Extraction(entities=[echoed, own]))
    assert [e.name for e in kept.entities] == ["SmolRAG"]
    assert checker.dropped == {"copied_example": 1}
    assert not checker.copied("keeps excerpt vectors in a VectorStore")  # the text says it


def test_a_summary_given_to_several_excerpts_is_replaced_by_local_ones(
    openai_server, server_settings, tmp_path
):
    """A real 0.5B model summarised the document, not the excerpt: nine excerpts, one sentence."""
    from test_engine import write_corpus

    from smolrag_lab import SmolRag

    same = "SmolRAG is a lightweight retrieval-augmented generation system."

    def reply(body):
        asked = body["messages"][-1]["content"]
        return same if "<excerpt>" in asked else simulated_reply(body["messages"])

    openai_server.responder = reply
    settings = server_settings.replace(
        chunk_size=40,
        chunk_overlap=0,
        completion_cache=False,
        structured_output="off",
        call_unit="excerpt",
    )
    with SmolRag(settings) as rag:
        report = rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
        excerpts = [x for _, x in rag.index.excerpts.items()]
        per_document = collections.Counter(x["source"] for x in excerpts)
        shared = [x["summary"] for x in excerpts if per_document[x["source"]] > 1]
        assert len(shared) >= 2 and same not in shared and len(set(shared)) == len(shared)
        alone = [x["summary"] for x in excerpts if per_document[x["source"]] == 1]
        assert all(summary == same for summary in alone)  # nothing to tell apart: kept
        repeated = sum(q.get("repeated_summary", 0) for q in report.extraction_quality.values())
        assert repeated == len(shared)


def test_a_path_with_a_trailing_slash_is_the_same_entity():
    """Seen in a real 0.5B run: ``app/input_docs`` and ``app/input_docs/`` became two nodes."""
    from smolrag_lab.providers.base import EntityRecord, Extraction, RelationshipRecord
    from smolrag_lab.providers.record_checks import RecordChecker

    text = "Put files in app/input_docs/ and the File watcher picks them up from app/input_docs."
    found = RecordChecker(text).check(
        Extraction(
            entities=[
                EntityRecord("app/input_docs/", "folder", "Where files go."),
                EntityRecord("app/input_docs", "folder", "Where files go."),
                EntityRecord("File", "concept", "An input."),
            ],
            relationships=[
                RelationshipRecord("app/input_docs/", "File", "holds", ["input"]),
                RelationshipRecord("app/input_docs", "File", "holds", ["input"]),
            ],
        )
    )
    assert sorted(e.name for e in found.entities) == ["File", "app/input_docs"]
    assert [(r.source, r.target) for r in found.relationships] == [("app/input_docs", "File")]
