"""The incremental BM25 index against bm25s as an oracle (scores of a fresh bm25s index over the
live texts, after any sequence of additions, replacements and removals), its tokenizer against
bm25s's, and a reader engine's BM25 following another process's commits and deletions.
"""

import random

import bm25s
import pytest
import Stemmer
from hypothesis import given, settings
from hypothesis import strategies as st
from test_shared_index import worker

from smolrag_lab import SmolRag
from smolrag_lab.query.bm25 import LexicalIndex, Tokenizer
from smolrag_lab.text import excerpt_search_text

# fmt: off
WORDS = [
    "cache", "graph", "vector", "store", "query", "index", "chunk", "excerpt", "summary", "entity",
    "relation", "keyword", "token", "budget", "embedding", "model", "caching", "cached", "queries",
    "graphs", "the", "of", "and", "is",
]
# fmt: on


def oracle(texts: dict[str, str], query: str) -> dict[str, float]:
    """bm25s's positive scores for ``query`` over ``texts``, built afresh."""
    ids, stemmer = list(texts), Stemmer.Stemmer("english")
    model = bm25s.BM25(k1=0.9, b=0.4)
    model.index(
        bm25s.tokenize(list(texts.values()), stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    query_tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False)
    if not query_tokens.vocab:
        return {}
    docs, scores = model.retrieve(query_tokens, k=len(ids), show_progress=False, n_threads=1)
    return {ids[int(d)]: float(s) for d, s in zip(docs[0], scores[0], strict=True) if s > 0}


def assert_same_as_oracle(index: LexicalIndex, live: dict[str, str], query: str) -> None:
    mine = dict(index.search(query, len(live) + 5))
    expected = oracle(live, query)
    assert mine.keys() == expected.keys()
    for key, score in expected.items():
        assert mine[key] == pytest.approx(score, rel=1e-5, abs=1e-6)


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(1, 30)))


@pytest.mark.parametrize("seed", range(4))
def test_updates_score_as_a_fresh_bm25s_index_over_the_live_texts(seed):
    rng = random.Random(seed)
    live = {f"d{i}": random_text(rng) for i in range(60)}
    index = LexicalIndex(list(live), list(live.values()))
    for step in range(40):  # additions, replacements and removals, compaction included
        action = rng.random()
        if action < 0.4 or len(live) < 5:
            new = {f"n{seed}-{step}-{i}": random_text(rng) for i in range(rng.randint(1, 8))}
            index.add(list(new), list(new.values()))
            live.update(new)
        elif action < 0.6:
            key = rng.choice(sorted(live))
            live[key] = random_text(rng)
            index.add([key], [live[key]])
        else:
            gone = rng.sample(sorted(live), rng.randint(1, max(1, len(live) // 3)))
            index.remove(gone)
            for key in gone:
                del live[key]
        assert len(index) == len(live) and sorted(index.ids) == sorted(live)
    for query in ("graph cache", "cached queries of the store", "token token budget", "the of"):
        assert_same_as_oracle(index, live, query)


def test_ranks_exact_terms_first_and_ties_in_indexing_order():
    index = LexicalIndex(["a", "b", "c"], ["graph store", "graph store", "store"])
    assert [i for i, _ in index.search("graph", 5)] == ["a", "b"]
    assert index.search("graph", 1)[0][0] == "a"
    assert index.search("unknownword", 5) == [] and index.search("", 5) == []
    assert LexicalIndex().search("graph", 5) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=5))
def test_tokenizer_gives_bm25s_terms_for_any_text(texts):
    stemmer = Stemmer.Stemmer("english")
    expected = bm25s.tokenize(
        texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
    )
    tokenizer = Tokenizer()
    got = tokenizer.index_terms(texts)
    words = {i: w for w, i in tokenizer.vocab.items()}
    assert [[words[t] for t in row] for row in got] == [[w for w in row if w] for row in expected]


def test_queries_never_grow_the_vocabulary():
    index = LexicalIndex(["a"], ["graph stores"])
    before = len(index._tokenizer.vocab)
    for i in range(500):
        index.search(f"unseen{i} words{i} store", 3)
    assert len(index._tokenizer.vocab) == before
    assert index.search("storing", 3)[0][0] == "a"  # a new form of a known stem still matches


def test_a_readers_bm25_follows_another_processes_commits_and_deletions(backend):
    settings = backend()
    worker(settings, "ingest", "a.md", "Zephyr engines cache graph vectors in Paris.")
    with SmolRag(settings) as reader:
        first = reader.derived.lexical()
        assert [i for i, _ in first.search("zephyr", 5)]
        worker(settings, "ingest", "b.md", "Quasar routers shard the query store in Oslo.")
        assert reader.derived.lexical() is first  # updated in place, not rebuilt
        assert first.search("quasar", 5)
        worker(settings, "delete", "a.md")
        updated = reader.derived.lexical()
        assert updated is first and first.search("zephyr", 5) == []
        excerpts = dict(reader.index.excerpts.items())
        fresh = LexicalIndex(
            list(excerpts),
            [excerpt_search_text(v["text"], v["summary"], True) for v in excerpts.values()],
        )
        for query in ("quasar store", "zephyr", "routers in oslo"):
            assert updated.search(query, 10) == fresh.search(query, 10)
