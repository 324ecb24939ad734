"""Answer quality without a language model: the same figures on every run.

Each metric takes the answer as the user sees it. Before scoring, the answer's *claims* are
found: the answer is cut into lines and each line into sentences (:func:`claims`); a run of
citation marks (``[1][2]``) belongs to the sentence it ends; the extractive backend's fixed
disclaimer line and units of fewer than :data:`MIN_CLAIM_WORDS` words (headings, "Sources:") are
not claims. Citation marks are removed from the text that is compared with references.

Reference metrics (need a reference answer or a gold passage):

- **exact match** — 1 when the answer and the reference are equal after SQuAD normalisation (lower
  case, punctuation and the articles a/an/the removed, whitespace collapsed), else 0;
- **token precision / recall / F1** — SQuAD's bag-of-tokens overlap after the same normalisation,
  with the project's stop words also removed (an extractive answer is long: counting "of" and "is"
  would reward length, not content);
- **ROUGE-L** — F-measure of the longest common subsequence of words (the ``rouge-score`` package);
- **semantic precision / recall / F1** — BERTScore in spirit, at sentence level: each claim is
  matched to its most similar reference sentence (cosine of the local embedder's vectors) and the
  similarities averaged (precision); each reference sentence to its best claim (recall);
- **span recall** — the token recall of the gold passage (the fact the question was written from).

Reference-free metrics:

- **groundedness** — the share of claims supported by the sources they cite. A claim is
  supported when its support score reaches ``threshold`` (the ``groundedness_threshold``
  setting); the score is the larger of its *lexical coverage* (the share of its content words
  found in the cited sources) and its *semantic match* (the best cosine between the claim and a
  sentence of a cited source). A claim with no citation, or citing only numbers that are not
  sources, is unsupported;
- **citation precision** — of all (claim, cited number) pairs, the share where that one source
  supports the claim; **citation recall** — the share of claims that carry a citation at all;
- **uncited** — 1 when the answer fails the engine's citation check (a citation naming no
  source, or a sentence that states something without one; ``query.citations``), so the share
  of answers a user would see marked uncited is an answer metric like the others;
- **question similarity** — cosine of the question and the whole answer (a crude relevance);
- **answer tokens / words**, and **no answer** — 1 when the reply says the sources do not answer.

Metrics that cannot be defined for a reply (no claims, no reference) are ``None``, never 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..providers.base import Embedder
from ..query.citations import check_citations
from ..text import STOPWORDS, split_sentences
from ..tokens import TokenCounter

MIN_CLAIM_WORDS = 3
DEFAULT_THRESHOLD = 0.7
_CITATION = re.compile(r"\[(\d+)\]")
_CITATIONS_ONLY = re.compile(r"^(?:\s*\[\d+\])+[\s.,;:]*$")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation})
_DISCLAIMER = re.compile(r"^\s*Extractive answer \(no language model configured\).*$", re.M)
_NO_ANSWER = re.compile(
    r"\b(?:do(?:es)? not (?:appear to )?(?:answer|contain|mention|say|know)|"
    r"(?:don't|doesn't|cannot|can't|could not|couldn't|unable to) "
    r"(?:answer|find|know|tell|determine)|"
    r"no (?:relevant )?information (?:about|on|in)|not (?:mentioned|covered|stated) in|"
    r"insufficient (?:context|information))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer, its text without citation marks and the numbers it cites."""

    text: str
    cited: tuple[int, ...] = field(default_factory=tuple)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, punctuation and articles removed, whitespace collapsed."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def answer_tokens(text: str, drop_stopwords: bool = True) -> list[str]:
    """The normalised words of ``text`` without citation marks (and, by default, stop words)."""
    words = normalize_answer(_CITATION.sub(" ", text)).split()
    return [w for w in words if w not in STOPWORDS] if drop_stopwords else words


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(_strip(prediction)) == normalize_answer(reference))


def token_prf(prediction: str, reference: str) -> tuple[float, float, float]:
    """SQuAD token overlap (precision, recall, F1) of the two bags of content words."""
    pred, ref = answer_tokens(_strip(prediction)), answer_tokens(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / len(pred), common / len(ref)
    return precision, recall, 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence of words) from ``rouge-score``."""
    return float(_rouge().score(reference, _strip(prediction))["rougeL"].fmeasure)


def claims(answer: str) -> list[Claim]:
    """The answer's sentences with the citations each ends with (see the module docstring)."""
    units: list[str] = []
    for line in _DISCLAIMER.sub("", answer).splitlines():
        for sentence in split_sentences(line.strip().lstrip("-*+ ").strip()):
            if _CITATIONS_ONLY.match(sentence) and units:
                units[-1] += " " + sentence
            else:
                units.append(sentence)
    out = []
    for unit in units:
        text = " ".join(_CITATION.sub(" ", unit).split())
        if len(text.split()) >= MIN_CLAIM_WORDS:
            cited = tuple(dict.fromkeys(int(n) for n in _CITATION.findall(unit)))
            out.append(Claim(text, cited))
    return out


def _strip(answer: str) -> str:
    """The answer's text as compared with references: claims only, without citation marks."""
    found = claims(answer)
    return " ".join(c.text for c in found) if found else _CITATION.sub(" ", answer)


def is_no_answer(answer: str) -> bool:
    """True for replies that say the sources do not answer (or an empty reply)."""
    return not answer.strip() or bool(_NO_ANSWER.search(answer))


def lexical_coverage(claim: str, sources: Sequence[str]) -> float:
    """The share of the claim's distinct content words that occur in ``sources``."""
    words = set(answer_tokens(claim))
    if not words:
        return 0.0
    found = set(answer_tokens(" ".join(sources)))
    return len(words & found) / len(words)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def greedy_similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """BERTScore-style greedy matching of two sets of sentence vectors: (precision, recall, F1),
    with precision the mean over rows of ``a`` of their best cosine in ``b``, recall the converse.
    """
    if not len(a) or not len(b):
        return 0.0, 0.0, 0.0
    sims = _unit(np.asarray(a, dtype=np.float64)) @ _unit(np.asarray(b, dtype=np.float64)).T
    precision, recall = float(sims.max(axis=1).mean()), float(sims.max(axis=0).mean())
    if precision + recall <= 0:
        return precision, recall, 0.0
    return precision, recall, 2 * precision * recall / (precision + recall)


class AnswerScorer:
    """Every metric of one answer. Holds the embedder, the groundedness threshold and the vectors of
    texts already embedded (the same sources recur across modes), so a benchmark embeds each once.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        counter: TokenCounter | None = None,
    ) -> None:
        if embedder is None:
            from ..providers.local_embedder import LocalEmbedder

            embedder = LocalEmbedder()
        self.embedder, self.threshold = embedder, threshold
        self.counter = counter or TokenCounter()
        self._vectors: dict[str, np.ndarray] = {}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, each embedded once and alone (batching cannot change it)."""
        for text in dict.fromkeys(t for t in texts if t not in self._vectors):
            self._vectors[text] = np.asarray(self.embedder.embed([text])[0], dtype=np.float64)
        if not texts:
            return np.zeros((0, self.embedder.dim))
        return _unit(np.stack([self._vectors[t] for t in texts]))

    def support(self, claim: Claim, sources: Sequence[str], numbers: Sequence[int]) -> float:
        """max(lexical coverage, best cosine with a sentence) of ``claim`` against the sources
        ``numbers`` (1-based); 0 when none of them exists.
        """
        cited = [sources[n - 1] for n in numbers if 1 <= n <= len(sources)]
        if not cited:
            return 0.0
        sentences = [s for text in cited for s in split_sentences(text)] or cited
        semantic = float((self.vectors(sentences) @ self.vectors([claim.text])[0]).max())
        return max(lexical_coverage(claim.text, cited), semantic)

    def grounding(self, answer: str, sources: Sequence[str]) -> dict[str, float | None]:
        """Groundedness, citation precision and citation recall (see the module docstring)."""
        found = claims(answer)
        if not found or is_no_answer(answer):
            return {"claims": len(found), **dict.fromkeys(_GROUNDING)}
        supported = [self.support(c, sources, c.cited) >= self.threshold for c in found]
        pairs = [self.support(c, sources, [n]) >= self.threshold for c in found for n in c.cited]
        return {
            "claims": len(found),
            "groundedness": sum(supported) / len(found),
            "citation_precision": sum(pairs) / len(pairs) if pairs else 0.0,
            "citation_recall": sum(bool(c.cited) for c in found) / len(found),
        }

    def semantic(self, answer: str, reference: str) -> tuple[float, float, float]:
        found = [c.text for c in claims(answer)]
        ref = split_sentences(reference) or [reference]
        return greedy_similarity(self.vectors(found), self.vectors(ref)) if found else (0, 0, 0)

    def score(
        self,
        question: str,
        answer: str,
        sources: Sequence[str],
        reference: str | None = None,
        gold_span: str | None = None,
    ) -> dict[str, float | None]:
        """Every metric defined for this answer, rounded to 6 places (stable across runs)."""
        text = _strip(answer)
        out: dict[str, float | None] = {
            "answer_words": float(len(text.split())),
            "answer_tokens": float(self.counter.count(answer)),
            "source_tokens": float(sum(self.counter.count_many(list(sources)))),
            "no_answer": float(is_no_answer(answer)),
            "uncited": float(not check_citations(answer, len(sources)).ok),
            "question_similarity": float(self.vectors([question])[0] @ self.vectors([text])[0])
            if text.strip()
            else 0.0,
            **self.grounding(answer, sources),
        }
        if reference:
            precision, recall, f1 = token_prf(answer, reference)
            sem_p, sem_r, sem_f = self.semantic(answer, reference)
            out.update(
                exact_match=exact_match(answer, reference),
                answer_precision=precision,
                answer_recall=recall,
                answer_f1=f1,
                rouge_l=rouge_l(answer, reference),
                semantic_precision=sem_p,
                semantic_recall=sem_r,
                semantic_f1=sem_f,
            )
        if gold_span:
            out["span_recall"] = token_prf(answer, gold_span)[1]
        return {k: None if v is None else round(float(v), 6) for k, v in out.items()}


_GROUNDING = ("groundedness", "citation_precision", "citation_recall")
REFERENCE_METRICS = (
    "exact_match",
    "answer_precision",
    "answer_recall",
    "answer_f1",
    "rouge_l",
    "semantic_precision",
    "semantic_recall",
    "semantic_f1",
    "span_recall",
)
REFERENCE_FREE_METRICS = (
    "groundedness",
    "citation_precision",
    "citation_recall",
    "uncited",
    "question_similarity",
    "no_answer",
    "answer_words",
    "answer_tokens",
    "source_tokens",
)
ANSWER_METRICS = REFERENCE_METRICS + REFERENCE_FREE_METRICS


@lru_cache(maxsize=4)
def default_scorer(threshold: float = DEFAULT_THRESHOLD) -> AnswerScorer:
    return AnswerScorer(threshold=threshold)


def answer_metrics(
    question: str,
    answer: str,
    sources: Sequence[str],
    reference: str | None = None,
    gold_span: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, float | None]:
    """Every answer metric of one reply, with the local embedder: the function tuners call.
    ``sources`` are the texts of the numbered sources, in order ([1] is ``sources[0]``).
    """
    return default_scorer(threshold).score(question, answer, sources, reference, gold_span)
