import json
from pathlib import Path

import numpy as np

from smolrag_lab.providers import CachedEmbedder, LocalEmbedder
from smolrag_lab.stores import SqliteDatabase
from smolrag_lab.tokens import TokenCounter

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text())


def test_cl100k_counts_offline_with_the_real_ids():
    counter = TokenCounter("cl100k_base")  # TIKTOKEN_CACHE_DIR points at an empty folder here
    assert counter.encode("hello world") == [15339, 1917]
    assert counter.count("<|endoftext|> is plain text here") > 1
    assert counter.truncate("one two three four five", 2) == "one two"
    assert counter.take_within_budget(["aa bb", "cc dd", "ee ff"], budget=4) == 2


def test_local_embedder_matches_the_original_fp32_model():
    vectors = LocalEmbedder().embed(REFERENCE["sentences"])
    reference = np.asarray(REFERENCE["vectors"], dtype=np.float32)
    cosines = (vectors * reference).sum(axis=1)
    assert vectors.shape == (len(REFERENCE["sentences"]), 384) and vectors.dtype == np.float32
    assert cosines.min() >= 0.99, cosines


def test_batching_by_length_does_not_change_vectors():
    embedder = LocalEmbedder(batch_size=2)
    texts = [
        "short",
        "a much longer sentence about knowledge graphs and vector search " * 3,
        "mid length text",
    ]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)


def test_text_beyond_256_word_pieces_is_truncated_not_fatal():
    embedder = LocalEmbedder()
    long_text = "retrieval " * 2000
    assert embedder.count_word_pieces([long_text]) == [256]
    assert np.isclose(np.linalg.norm(embedder.embed([long_text])[0]), 1.0)


def test_embedding_cache_serves_repeats_without_the_model(tmp_path):
    db = SqliteDatabase(tmp_path / "cache.sqlite")
    cached = CachedEmbedder(LocalEmbedder(), db.namespace("embedding_cache"))
    first = cached.embed(["alpha", "beta"])
    second = cached.embed(["beta", "alpha", "gamma"])
    assert np.array_equal(first[[1, 0]], second[:2])
    stats = cached.stats.get("embeddings")
    assert (stats.cache_hits, stats.cache_misses) == (2, 3)
    assert stats.items == 3  # the model saw alpha, beta, then only gamma
