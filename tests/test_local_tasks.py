import asyncio

from smolrag_lab.providers import LocalTasks
from smolrag_lab.providers.local_tasks import EXTRACTIVE_NOTE, summarize
from smolrag_lab.providers.records import normalise_name, parse_extraction, parse_keywords
from smolrag_lab.text import document_title, headings

DOC = """# Caching in SmolRAG

## Query cache

SmolRAG keeps a `query_cache` in SQLite. The QueryCache stores every answer under a hash of the question.

## Embedding cache

The EMBEDDING_CACHE_DIR setting moves the embedding cache. Vector Search reads embeddings from it.
"""
EXCERPT = "The EMBEDDING_CACHE_DIR setting moves the embedding cache. Vector Search reads embeddings from it."

tasks = LocalTasks()


def test_summary_places_the_excerpt_in_its_document():
    summary = asyncio.run(tasks.summarize(DOC, EXCERPT))
    assert summary.startswith('From "Caching in SmolRAG", section "Embedding cache":')
    assert "EMBEDDING_CACHE_DIR" in summary


def test_extraction_finds_identifiers_names_and_co_occurrence():
    extraction = asyncio.run(tasks.extract(DOC))
    kinds = {e.name: e.type for e in extraction.entities}
    assert kinds["query_cache"] in ("identifier", "variable")
    assert kinds["QueryCache"] == "interface"
    assert kinds["EMBEDDING_CACHE_DIR"] == "configuration"
    assert kinds["Vector Search"] == "name"
    pairs = {(r.source, r.target): r for r in extraction.relationships}
    rel = pairs[tuple(sorted(["Embedding Cache", "EMBEDDING_CACHE_DIR"]))]
    assert rel.description.startswith("The EMBEDDING_CACHE_DIR setting") and rel.weight == 1.0


def test_query_keywords_split_specific_and_general():
    keywords = asyncio.run(
        tasks.keywords("How does the QueryCache store answers for top_k queries?")
    )
    assert "QueryCache" in keywords.low_level and "top_k" in keywords.low_level
    assert "answers" in keywords.high_level


def test_extractive_answer_cites_and_says_so():
    sources = [
        "Cats are not covered here.",
        "The QueryCache stores every answer under a hash of the question.",
    ]
    answer = asyncio.run(
        tasks.answer("Where does the QueryCache store an answer?", "", sources, "standard")
    )
    assert answer.startswith(EXTRACTIVE_NOTE) and "[2]" in answer and "[1]" not in answer
    nothing = asyncio.run(tasks.answer("What do penguins eat?", "", sources, "standard"))
    assert "do not appear to answer" in nothing


def test_names_are_normalised_before_merging():
    assert normalise_name('  "smolrag"  ') == normalise_name("Smolrag") == "Smolrag"
    assert normalise_name("knowledge   graph") == "Knowledge Graph"
    assert normalise_name("top_k") == "top_k" and normalise_name("SmolRAG") == "SmolRAG"


def test_extraction_parser_is_lenient_and_counts_skips():
    text = (
        '("entity"<|>"Graph Store"<|>interface<|>Holds nodes.)\n'
        '("relationship"<|>graph store<|>NetworkX<|>Built on it<|>storage<|>high)+|+'
        '(garbage without fields)+|+("entity"<|>only two)'
    )
    extraction, report = parse_extraction(text)
    assert [e.name for e in extraction.entities] == ["Graph Store"]
    assert (
        extraction.relationships[0].source == "Graph Store"
        and extraction.relationships[0].weight == 1.0
    )
    assert (report.records, report.skipped) == (2, 2)


def test_keyword_parser_handles_junk():
    assert parse_keywords("no json here").low_level == []
    assert parse_keywords(
        '{"high_level_keywords": "one", "low_level_keywords": [1, "x"]}'
    ).low_level == ["1", "x"]
    assert parse_keywords("{broken").high_level == []


def test_hash_lines_inside_code_fences_are_not_headings():
    doc = "**Title: Usage Guide**\n\n---\n\n### 1. Setup\n\n```python\n# Import the client\nimport x\n```\n\n## Other\n"
    assert [h[2] for h in headings(doc)] == ["1. Setup", "Other"]
    assert document_title(doc) == "Title: Usage Guide"
    assert summarize(doc, "import x").startswith('From "Title: Usage Guide"')


def test_document_title_prefers_level_one_heading_then_standalone_first_line():
    assert document_title("intro line\n\n# Real Title\n\ntext") == "Real Title"
    assert document_title("Wing flutter at Mach 2\n\nabstract text ...") == "Wing flutter at Mach 2"
    assert document_title("a long paragraph\nthat wraps\n\n## Section\n") == "Section"
    assert document_title("", fallback="file.txt") == "file.txt"
