"""Property-based tests (hypothesis): any input gives valid excerpts or records, or a clear
error."""

import re

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smolrag_lab.ingest.chunking import Chunker, heading_allowance
from smolrag_lab.ingest.graph_merge import (
    _earliest_words,
    _latest,
    _words,
    entity_text,
    relationship_text,
)
from smolrag_lab.prompts import COMPLETE_TAG, RECORD_SEP, TUPLE_SEP
from smolrag_lab.providers.base import ProviderError
from smolrag_lab.providers.records import check_extraction, parse_extraction, parse_keywords
from smolrag_lab.tokens import TokenCounter

COUNTER = TokenCounter()
MARKDOWN_BITS = st.sampled_from(
    [
        "\n",
        "\n\n",
        "# ",
        "## ",
        "```",
        "```python\n",
        "- ",
        "1. ",
        ". ",
        "? ",
        "|",
        "*",
        "`",
        "    ",
        "\t",
        "é",
        "日本",
        "🙂",
        "\r\n",
        "http://x.y/z",
    ]
)
WORDS = st.from_regex(r"[A-Za-z][a-z]{0,12}", fullmatch=True)
DOCUMENTS = st.lists(st.one_of(WORDS, MARKDOWN_BITS, st.text(max_size=20)), max_size=300).map(
    " ".join
)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _squashed(text: str) -> str:
    return "".join(text.split())


@FAST
@given(
    text=DOCUMENTS,
    size=st.integers(16, 120),
    overlap_share=st.floats(0, 0.5),
    strategy=st.sampled_from(["markdown", "tokens", "sentences"]),
)
def test_any_text_chunks_into_bounded_non_empty_excerpts_that_lose_no_word(
    text, size, overlap_share, strategy
):
    overlap = int(size * overlap_share)
    excerpts = Chunker(COUNTER, size=size, overlap=overlap, strategy=strategy).split(text)
    assert all(isinstance(e, str) and e.strip() for e in excerpts)
    if not text.strip():
        assert excerpts == []
        return
    assert excerpts
    limit = size + overlap + 8  # a piece may carry its overlap and a heading or fence line
    if strategy != "markdown":  # code blocks are kept whole in markdown mode, whatever their size
        assert max(COUNTER.count(e) for e in excerpts) <= limit
    if (
        strategy == "tokens"
    ):  # overlapping token windows can each hold only part of a word: check the
        excerpts = Chunker(COUNTER, size=size, overlap=0, strategy=strategy).split(
            text
        )  # plain split
    joined = "".join(_squashed(e) for e in excerpts)
    for word in re.findall(r"[A-Za-z]{3,}", text):
        assert word in joined


RECORD_FIELDS = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)
RECORDS = st.lists(
    st.tuples(
        st.sampled_from(["entity", "relationship", "content_keywords", "junk", ""]),
        st.lists(RECORD_FIELDS, max_size=6),
    ),
    max_size=8,
)


def _render(records) -> str:
    return RECORD_SEP.join(
        f'("{kind}"{TUPLE_SEP}' + TUPLE_SEP.join(fields) + ")" for kind, fields in records
    )


@FAST
@given(
    body=st.one_of(RECORDS.map(_render), st.text(max_size=400)),
    tag=st.booleans(),
    cut=st.integers(0, 50),
)
def test_any_model_output_parses_into_valid_records_or_is_refused_clearly(body, tag, cut):
    text = body[: len(body) - cut] if cut and len(body) > cut else body
    text = text + (COMPLETE_TAG if tag else "")
    extraction, report = parse_extraction(text)
    assert report.records >= len(extraction.entities) + len(extraction.relationships)
    for entity in extraction.entities:
        assert entity.name.strip() and entity.name == entity.name.strip()
        assert not re.search(r"[\x00-\x1f\x7f]", entity.name)
        assert entity.type == entity.type.lower()
    for relation in extraction.relationships:
        assert relation.source.strip() and relation.target.strip()
        assert all(k == k.strip() and k for k in relation.keywords)
        assert isinstance(relation.weight, float)
    try:
        check_extraction(text, report)
    except ProviderError as exc:
        assert "extraction output" in str(exc)
        assert (report.skipped and not report.records) or (
            report.last_skipped and not report.complete
        )


@FAST
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.builds(
            lambda h, low: f'{{"high_level_keywords": {h}, "low_level_keywords": {low}}}',
            st.sampled_from(['["a", "b"]', '"one"', "3", "null", "[1, null]", "{}"]),
            st.sampled_from(['["x"]', "[]", '"y"', "false"]),
        ),
    )
)
def test_any_keyword_output_gives_two_lists_of_strings(text):
    keywords = parse_keywords(text)
    for values in (keywords.high_level, keywords.low_level):
        assert isinstance(values, list) and all(
            isinstance(v, str) and v == v.strip() and v for v in values
        )


SHAPES = st.one_of(
    st.integers(1, 400).map(lambda n: "\n\n".join(f"# Heading {i}" for i in range(n))),
    st.integers(1, 400).map(
        lambda n: "\n".join(f"{'## ' * (i % 3 > 0)}Title {i}" for i in range(n))
    ),
    st.integers(1, 3000).map(lambda n: " ".join(f"word{i}" for i in range(n))),  # one long line
    st.integers(1, 40_000).map(lambda n: "".join(chr(97 + i % 26) for i in range(n))),  # no spaces
    st.integers(1, 200).map(
        lambda n: "\n".join(f"{'  ' * (i % 12)}- item {i} of the list" for i in range(n))
    ),  # nested lists
    st.integers(1, 200).map(
        lambda n: "| a | b |\n|---|---|\n" + "\n".join(f"| {i} | cell {i} |" for i in range(n))
    ),  # a table
    st.integers(1, 60).map(lambda n: "```" + "x" * (n * 100) + "\n" + "y = 1\n" * n + "```"),
    DOCUMENTS,
)


@FAST
@given(
    parts=st.lists(SHAPES, min_size=1, max_size=3),
    size=st.integers(16, 200),
    overlap_share=st.floats(0, 0.5),
    strategy=st.sampled_from(["markdown", "tokens", "sentences"]),
)
def test_every_excerpt_fits_the_size_plus_the_heading_allowance(
    parts, size, overlap_share, strategy
):
    text = "\n\n".join(parts)
    chunker = Chunker(COUNTER, size=size, overlap=int(size * overlap_share), strategy=strategy)
    excerpts = chunker.split(text)
    assert bool(excerpts) == bool(text.strip())
    assert all(COUNTER.count(e) <= size + heading_allowance(size) for e in excerpts)


def test_a_megabyte_word_and_a_megabyte_of_headings_fit():
    for text in ("q" * 1_000_000, "\n\n".join(f"# Heading {i}" for i in range(60_000))):
        for strategy in ("markdown", "tokens", "sentences"):
            excerpts = Chunker(COUNTER, size=160, overlap=20, strategy=strategy).split(text)
            assert max(COUNTER.count(e) for e in excerpts) <= 160 + heading_allowance(160)


BY_DOC = st.dictionaries(
    st.text(min_size=1, max_size=4), st.lists(st.text(max_size=12), max_size=4), max_size=6
)


@given(BY_DOC, st.integers(1, 6), st.integers(1, 15), st.lists(st.text(max_size=6), max_size=5))
def test_item_views_read_only_the_contributions_they_need(by_doc, cap, limit, keywords):
    """The description and gist of an item read the newest and the earliest contributions only;
    oracle: the same fields computed from every contribution flattened."""
    flat = [d for values in by_doc.values() for d in values]
    assert _latest(by_doc, cap) == flat[-cap:]
    assert _earliest_words([], by_doc, limit) == _words(" ".join(flat), limit)
    head = (", ".join(keywords) + ".").split()
    expected = _words(", ".join(keywords) + ". " + " ".join(flat), limit)
    assert _earliest_words(head, by_doc, limit) == expected


@given(st.text(max_size=30), BY_DOC, st.integers(1, 40))
def test_graph_texts_are_the_names_then_the_earliest_words_cut_at_the_setting(name, by_doc, words):
    """What is embedded for a graph item: at most the setting's words, names first; oracle:
    the same text built from every contribution flattened."""
    graph = nx.Graph()
    graph.add_node("a", name=name, descriptions=by_doc)
    graph.add_node("b", name="B")
    graph.add_edge("a", "b", descriptions=by_doc, keywords={"d": ["k1", "k2", "k1"]})
    flat = " ".join(d for values in by_doc.values() for d in values)
    assert entity_text(graph, "a", words) == _words(f"{name}: {flat}", words)
    relationship = relationship_text(graph, ("a", "b"), words)
    assert relationship == _words(f"{name} - B: k1, k2. {flat}", words)
    assert len(relationship.split()) <= words
