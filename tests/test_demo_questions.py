"""The demo QA set on part of the demo corpus: every mode answers with sources, and standard
retrieval puts the relevant document in its top 5 (the whole corpus is in benchmarks/demo_qa.py)."""

import json

import pytest
from conftest import SHARED

from smolrag_lab import Settings, SmolRag
from smolrag_lab.query.retrieval import MODES

SUBSET = ["01-project-overview.md", "04-similarity-search.md", "07-implementation-details.md"]

pytestmark = pytest.mark.skipif(
    not (SHARED / "eval" / "smolrag_docs_qa.jsonl").exists(),
    reason="../shared/eval is not beside this checkout",
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    corpus = SHARED / "corpus" / "smolrag_docs"
    rag = SmolRag(Settings(data_dir=tmp_path_factory.mktemp("demo"), query_cache=False))
    report = rag.ingest([corpus / name for name in SUBSET], progress=False)
    assert len(report.added) == len(SUBSET) and not report.failed
    yield rag
    rag.close()


@pytest.fixture(scope="module")
def questions():
    items = [json.loads(line) for line in (SHARED / "eval" / "smolrag_docs_qa.jsonl").open()]
    return [q for q in items if set(q["relevant"]) <= set(SUBSET)]


def test_every_mode_answers_every_question_with_a_source(engine, questions):
    assert len(questions) >= 15
    for mode in MODES:
        empty = [q["id"] for q in questions if not engine.retrieve(q["query"], mode).sources]
        assert not empty, f"{mode}: no sources for {empty}"


def test_standard_top5_holds_the_relevant_document(engine, questions):
    hits = sum(
        any(
            s.document in q["relevant"] for s in engine.retrieve(q["query"], "standard").sources[:5]
        )
        for q in questions
    )
    assert hits / len(questions) >= 0.85
