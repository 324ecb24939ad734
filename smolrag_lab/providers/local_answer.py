"""The extractive answer of the local backend: source sentences quoted, each with its [n].

How sentences are chosen, in order:

1. *Candidates*: the sentences of every source (markdown removed), of at least
   :data:`MIN_WORDS` words, minus those that address the reader with instructions about secrets or
   about the assistant itself (:func:`is_injected_instruction`) — a document may carry text written
   to hijack an answer, and an extractive answer must not repeat it.
2. *Relevance* to the question: the mean of a lexical score (IDF-weighted overlap of content
   words, scaled by the best candidate's) and the cosine of the sentence and the question with the
   local embedder. Either alone fails in a known way: overlap misses paraphrases, embeddings
   favour sentences on the topic that do not answer.
3. *Selection* by maximal marginal relevance (Carbonell and Goldstein, 1998) with the usual
   λ = :data:`MMR_LAMBDA`: each step takes the sentence with the best ``λ·relevance - (1-λ)·max
   similarity to those taken``, so a second sentence adds something new; near-duplicates
   (cosine ≥ :data:`DUPLICATE_COSINE`) are never taken.
4. *Length*: sentences are added until the answer holds :data:`WORD_BUDGET` words (at least one
   sentence, at most :data:`MAX_SENTENCES`): a fixed budget, the length of a short paragraph.
   (Dividing relevance by sentence length, to prefer the shorter of two relevant sentences, was
   measured and made answers worse: it is not done.)

Sentences are listed best first, each with the number of the source it quotes.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..text import QUERY_FILLER, clean_markdown, content_words, split_sentences
from .base import Embedder

EXTRACTIVE_NOTE = (
    "Extractive answer (no language model configured): the passages below are quoted from the "
    "sources."
)
NO_ANSWER = (
    "The indexed sources do not appear to answer this question. "
    "(Extractive mode: no language model is configured.)"
)
MIN_WORDS = 4
WORD_BUDGET = 45
MAX_SENTENCES = 3
MMR_LAMBDA = 0.7
DUPLICATE_COSINE = 0.9
_CITATION_MARK = re.compile(r"\[\d+\]")
_SECRET = re.compile(
    r"\b(?:api[ _-]?keys?|passwords?|passphrases?|secret keys?|access tokens?|credentials?|"
    r"private keys?|credit card)\b",
    re.IGNORECASE,
)
_HANDOVER = re.compile(
    r"\b(?:paste|send|submit|share|post|upload|email|forward|reveal|disclose)\b|https?://",
    re.IGNORECASE,
)
_HIJACK = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}\b(?:instructions?|rules|prompts?|above)\b"
    r"|\b(?:system prompt|you are now|as the assistant|assistant must|---\s*role\s*---)",
    re.IGNORECASE,
)


def is_injected_instruction(sentence: str) -> bool:
    """True for text that tells the reader to hand over a secret, or tells the assistant what to do
    (the two shapes of prompt injection found in uploaded documents).
    """
    return bool(_HIJACK.search(sentence)) or bool(
        _SECRET.search(sentence) and _HANDOVER.search(sentence)
    )


@dataclass
class _Candidate:
    number: int
    text: str
    lexical: float = 0.0
    relevance: float = 0.0


class SentenceVectors:
    """Unit vectors of sentences, each embedded alone (so a sentence's vector, and the answer, do
    not depend on which other sentences were in the batch), kept in a bounded LRU.
    """

    def __init__(self, embedder: Embedder | None = None, capacity: int = 8192) -> None:
        self._embedder, self.capacity = embedder, capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from .local_embedder import LocalEmbedder

            self._embedder = LocalEmbedder()
        return self._embedder

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            with self._lock:
                vector = self._cache.get(text)
                if vector is not None:
                    self._cache.move_to_end(text)
            if vector is None:
                vector = np.asarray(self.embedder.embed([text])[0], dtype=np.float64)
                vector /= max(float(np.linalg.norm(vector)), 1e-12)
                with self._lock:
                    self._cache[text] = vector
                    while len(self._cache) > self.capacity:
                        self._cache.popitem(last=False)
            rows.append(vector)
        return np.stack(rows) if rows else np.zeros((0, 1))


_shared_vectors = SentenceVectors()


def _candidates(sources: Sequence[str]) -> list[_Candidate]:
    found, seen = [], set()
    for number, source in enumerate(sources, 1):
        for sentence in split_sentences(source):
            text = " ".join(_CITATION_MARK.sub(" ", clean_markdown(sentence)).split())
            key = text.lower()
            if len(text.split()) < MIN_WORDS or key in seen or is_injected_instruction(text):
                continue
            seen.add(key)
            found.append(_Candidate(number, text))
    return found


def _score_lexical(question: str, candidates: list[_Candidate]) -> None:
    """IDF-weighted overlap with the question's content words, scaled to [0, 1]."""
    terms = set(content_words(question)) - QUERY_FILLER
    bags = [set(content_words(c.text)) for c in candidates]
    frequency = Counter(t for bag in bags for t in bag)
    for candidate, bag in zip(candidates, bags, strict=True):
        candidate.lexical = sum(math.log(1 + len(bags) / frequency[t]) for t in sorted(terms & bag))
    best = max((c.lexical for c in candidates), default=0.0)
    for candidate in candidates:
        candidate.lexical = candidate.lexical / best if best else 0.0


def _select(candidates: list[_Candidate], vectors: np.ndarray) -> list[int]:
    """Indices picked by MMR within the word budget (see the module docstring)."""
    picked: list[int] = []
    words = 0
    while len(picked) < MAX_SENTENCES and (not picked or words < WORD_BUDGET):
        best, best_value = None, -math.inf
        for i, candidate in enumerate(candidates):
            if i in picked:
                continue
            overlap = float((vectors[picked] @ vectors[i]).max()) if picked else 0.0
            if overlap >= DUPLICATE_COSINE:
                continue
            value = MMR_LAMBDA * candidate.relevance - (1 - MMR_LAMBDA) * overlap
            if value > best_value:
                best, best_value = i, value
        if best is None:
            break
        picked.append(best)
        words += len(candidates[best].text.split())
    return picked


def extractive_answer(
    question: str, sources: Sequence[str], vectors: SentenceVectors | None = None
) -> str:
    """The extractive reply (see the module docstring); :data:`NO_ANSWER` when no sentence shares a
    content word with the question.
    """
    candidates = _candidates(sources)
    _score_lexical(question, candidates)
    if not any(c.lexical > 0 for c in candidates):
        return NO_ANSWER
    # Only a sentence sharing a content word with the question can be chosen (see _select), so only
    # those are embedded: a third of a mix query's candidates, and the answer is the same.
    candidates = [c for c in candidates if c.lexical > 0]
    embed = vectors or _shared_vectors
    matrix = embed([c.text for c in candidates])
    cosines = matrix @ embed([question])[0]
    for candidate, cosine in zip(candidates, cosines, strict=True):
        candidate.relevance = (candidate.lexical + max(float(cosine), 0.0)) / 2
    picked = _select(candidates, matrix)
    lines = [f"- {candidates[i].text} [{candidates[i].number}]" for i in picked]
    return EXTRACTIVE_NOTE + "\n\n" + "\n".join(lines)
