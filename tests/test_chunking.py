from smolrag_lab.ingest.chunking import Chunker, heading_allowance
from smolrag_lab.tokens import TokenCounter

COUNTER = TokenCounter()
DOC = (
    """# Title

First paragraph about vector search. It has two sentences.

## Section

"""
    + "\n\n".join(
        f"Paragraph {i} explains one more detail of the knowledge graph builder." for i in range(12)
    )
    + """

```python
def chunk(text, size=2000, overlap=200):
    return [text[i:i + size] for i in range(0, len(text), size - overlap)]
```

Closing words after the code.
"""
)


def test_markdown_chunks_fit_keep_code_whole_and_never_end_on_a_heading():
    chunker = Chunker(COUNTER, size=60, overlap=10, strategy="markdown")
    excerpts = chunker.split(DOC)
    assert len(excerpts) > 3
    assert max(COUNTER.count(e) for e in excerpts) <= 75
    code = [e for e in excerpts if "```python" in e]
    assert len(code) == 1 and code[0].count("```") == 2 and "return [text" in code[0]
    assert not any(e.rstrip().splitlines()[-1].startswith("#") for e in excerpts)
    assert excerpts[0].startswith("# Title")


def test_overlap_is_whole_sentences_joined_by_a_paragraph_break():
    chunker = Chunker(COUNTER, size=40, overlap=20, strategy="markdown")
    excerpts = chunker.split(DOC)
    carried = [
        e for e in excerpts[1:] if "\n\n" in e and e.split("\n\n")[0].startswith("Paragraph")
    ]
    assert carried, "no excerpt starts with overlap"
    for e in excerpts:
        assert "builder.Paragraph" not in e and "builder.##" not in e


def test_long_code_block_is_split_into_fenced_pieces():
    code = "```sql\n" + "\n".join(f"SELECT {i} FROM table_{i};" for i in range(60)) + "\n```"
    pieces = Chunker(COUNTER, size=50, overlap=0).split(code)
    assert len(pieces) > 1
    assert all(p.startswith("```sql") and p.endswith("```") for p in pieces)


def test_token_and_sentence_strategies():
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    windows = Chunker(COUNTER, size=50, overlap=10, strategy="tokens").split(text)
    assert all(COUNTER.count(w) <= 50 for w in windows)
    tail = COUNTER.decode(COUNTER.encode(windows[0])[-10:]).strip()
    assert windows[1].startswith(tail)
    sentences = Chunker(COUNTER, size=50, overlap=0, strategy="sentences").split(text)
    assert all(s.endswith(".") for s in sentences) and all(
        COUNTER.count(s) <= 50 for s in sentences
    )


def test_a_paragraph_without_breaks_is_still_split():
    text = "word " * 5000
    pieces = Chunker(COUNTER, size=100, overlap=0).split(text)
    assert len(pieces) >= 40 and all(COUNTER.count(p) <= 100 for p in pieces)


def test_a_file_of_bare_headings_becomes_bounded_excerpts():
    text = "\n\n".join(f"# Heading {i}" for i in range(3000))
    excerpts = Chunker(COUNTER, size=60, overlap=10).split(text)
    assert len(excerpts) > 100
    assert max(COUNTER.count(e) for e in excerpts) <= 60 + heading_allowance(60)
    assert "".join(excerpts).count("# Heading") == 3000


def test_headings_are_still_carried_with_the_paragraph_they_introduce():
    text = "# Guide\n\n## Setup\n\nInstall the package first. Then run it."
    assert Chunker(COUNTER, size=60, overlap=0).split(text) == [text]


def test_a_single_megabyte_word_is_cut_into_bounded_excerpts():
    word = "x7" * 500_000  # tokenised whole, one run of BPE merges took minutes
    excerpts = Chunker(COUNTER, size=160, overlap=20).split(word)
    assert max(COUNTER.count(e) for e in excerpts) <= 160 + heading_allowance(160)
    assert "".join("".join(e.split()) for e in excerpts) == word
