import asyncio

from smolrag_lab.providers import LocalTasks
from smolrag_lab.providers.local_tasks import EXTRACTIVE_NOTE, summarize
from smolrag_lab.providers.records import normalise_name, parse_extraction, parse_keywords
from smolrag_lab.text import document_title, headings

DOC = """# Caching in SmolRAG

## Query cache

SmolRAG keeps a `query_cache` in SQLite. The QueryCache stores every answer under a \
hash of the question.

## Embedding cache

The EMBEDDING_CACHE_DIR setting moves the embedding cache. Vector Search reads embeddings from it.
"""
EXCERPT = (
    "The EMBEDDING_CACHE_DIR setting moves the embedding cache. "
    "Vector Search reads embeddings from it."
)

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
    doc = (
        "**Title: Usage Guide**\n\n---\n\n### 1. Setup\n\n"
        "```python\n# Import the client\nimport x\n```\n\n## Other\n"
    )
    assert [h[2] for h in headings(doc)] == ["1. Setup", "Other"]
    assert document_title(doc) == "Title: Usage Guide"
    assert summarize(doc, "import x").startswith('From "Title: Usage Guide"')


def test_document_title_prefers_level_one_heading_then_standalone_first_line():
    assert document_title("intro line\n\n# Real Title\n\ntext") == "Real Title"
    assert document_title("Wing flutter at Mach 2\n\nabstract text ...") == "Wing flutter at Mach 2"
    assert document_title("a long paragraph\nthat wraps\n\n## Section\n") == "Section"
    assert document_title("", fallback="file.txt") == "file.txt"


def _long_document(sections: int) -> str:
    parts = [f"# Handbook {sections}"]
    for i in range(sections):
        parts.append(f"## Part {i}")
        parts.append(
            f"Part {i} explains the setting number {i} of the Widget Loader. "
            f"The loader reads block {i} and writes the cache file part_{i}.json for later reads."
        )
    return "\n\n".join(parts)


def _excerpts(document: str) -> list[str]:
    from smolrag_lab.ingest.chunking import Chunker
    from smolrag_lab.tokens import TokenCounter

    return Chunker(TokenCounter("cl100k_base"), 60, 10).split(document)


def test_profiled_summaries_equal_the_whole_document_ones():
    from smolrag_lab.providers.document_profile import DocumentProfile
    from smolrag_lab.providers.local_tasks import summarize_excerpts

    document = _long_document(40)
    excerpts = _excerpts(document)
    assert len(excerpts) > 20
    expected = [summarize(document, e) for e in excerpts]
    assert summarize_excerpts(DocumentProfile.of(document), excerpts) == expected
    assert any('section "Part 30"' in s for s in expected)


def test_a_profile_locates_document_order_excerpts_without_scanning_the_document():
    """Each excerpt is found in the window after the previous one: the search never restarts."""
    from smolrag_lab.providers.document_profile import DocumentProfile

    document = _long_document(300)
    profile = DocumentProfile.of(document)
    scans = []

    class Watched(str):
        def find(self, sub, *bounds):
            scans.append(bool(bounds))
            return str.find(self, sub, *bounds)

    profile.text = Watched(document)
    positions = [profile.locate(e) for e in _excerpts(document)]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert scans and all(scans)


def test_what_a_worker_receives_grows_with_the_excerpts_not_the_document():
    import pickle

    from smolrag_lab.providers.document_profile import DocumentProfile

    small, large = _long_document(20), _long_document(2000)
    sizes = []
    for document in (small, large):
        excerpt = _excerpts(document)[3]
        sizes.append(len(pickle.dumps(DocumentProfile.of(document).for_excerpts([excerpt]))))
    assert sizes[1] < 1.5 * sizes[0]


def test_grouped_local_tasks_match_in_a_process_pool():
    from smolrag_lab.ingest.executors import ProcessPool

    document = _long_document(30)
    excerpts = _excerpts(document)
    inline = asyncio.run(LocalTasks().process_group(document, "", excerpts))
    pooled_tasks = LocalTasks()
    pooled_tasks.executor = pool = ProcessPool(2)
    try:
        pooled = asyncio.run(pooled_tasks.process_group(document, "", excerpts))
    finally:
        pool.shutdown()
    assert pooled == inline
    assert [s for s, _ in inline] == [summarize(document, e) for e in excerpts]
    assert pooled_tasks.stats.get("summary").calls == len(excerpts)
