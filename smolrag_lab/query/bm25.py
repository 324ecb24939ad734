"""BM25 over excerpts that follows the index by applying changes, never by rebuilding.

A reader process must see another process's commit on its next query, and at 100,000 excerpts a
rebuild of the whole BM25 index costs seconds; the index below takes a document's excerpts in or
out in time proportional to that document. The scoring is bm25s's ``lucene`` variant (the
tokenizer is bm25s's own, with English stop words and Snowball stemming), so the scores equal those
of a :class:`bm25s.BM25` built afresh over the live excerpts (``tests/test_bm25.py`` checks it
against bm25s as an oracle).

Pure kernels (:class:`Tokenizer`, :func:`lucene_idf`, :func:`term_frequency_component`,
:func:`count_terms`, :func:`merged`) sit apart from the stateful :class:`LexicalIndex`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_STEMMER = Stemmer.Stemmer("english")
_STEMMER_LOCK = threading.Lock()
_NONE = np.zeros(0, dtype=np.int32)
_COMPACT_WHEN_DEAD = 0.5  # compact the postings once half the rows are taken out
_STEM_CACHE = 1_000_000  # words whose stem is remembered; past it the cache starts again


class Tokenizer:
    """bm25s's tokenization (``bm25s.tokenize`` with English stop words and a Snowball stemmer:
    lower case, words of two or more word characters, stop words out, stemmed) straight to term
    ids. Each word seen in an indexed text keeps its term id, so an update of a few hundred excerpts
    stems only the words the index has never seen; a query's words never enter the vocabulary.
    Not safe across threads on its own: :class:`LexicalIndex` calls it under its lock.
    """

    _WORD = re.compile(r"(?u)\b\w\w+\b")
    _STOP = frozenset(STOPWORDS_EN)

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}  # stem -> term id
        self._word_term: dict[str, int] = {}  # indexed word -> its stem's term id

    def index_terms(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's term ids, new stems added to the vocabulary."""
        rows = [self._WORD.findall(t.lower()) for t in texts]
        unknown = {w for row in rows for w in row}.difference(self._word_term, self._STOP)
        for word, stem in zip(unknown, _stem(list(unknown)), strict=True):
            self._word_term[word] = self.vocab.setdefault(stem, len(self.vocab))
        get = self._word_term.get
        return [[t for t in map(get, row) if t is not None] for row in rows]

    def query_terms(self, text: str) -> list[int]:
        """The term ids of ``text``'s words that the vocabulary holds (repeats kept, as bm25s)."""
        words = [w for w in self._WORD.findall(text.lower()) if w not in self._STOP]
        unknown = [w for w in words if w not in self._word_term]
        stems = dict(zip(unknown, _stem(unknown), strict=True))
        terms = [self._word_term.get(w, self.vocab.get(stems.get(w, ""), -1)) for w in words]
        return [t for t in terms if t >= 0]


def _stem(words: list[str]) -> list[str]:
    with _STEMMER_LOCK:  # a PyStemmer object is not safe across threads
        return _STEMMER.stemWords(words) if words else []


def lucene_idf(df: np.ndarray | float, n_docs: int) -> np.ndarray | float:
    """Lucene's inverse document frequency, ``log(1 + (N - df + 0.5) / (df + 0.5))`` (never
    negative, unlike Robertson's).
    """
    return np.log1p((n_docs - df + 0.5) / (df + 0.5))


def term_frequency_component(
    tf: np.ndarray, length: np.ndarray, mean_length: float, k1: float, b: float
) -> np.ndarray:
    """``tf / (tf + k1 * (1 - b + b * length / mean_length))``: saturating in ``tf``, lower for
    long excerpts.
    """
    return tf / (tf + k1 * (1.0 - b + b * length / mean_length))


def count_terms(
    term_ids: Sequence[Sequence[int]], first_row: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(term, row, count) for each distinct term of each row, sorted by term then row; rows are
    numbered from ``first_row``.
    """
    n_rows = max(len(term_ids), 1)
    lengths = np.fromiter(map(len, term_ids), dtype=np.int64, count=len(term_ids))
    flat = np.fromiter(chain.from_iterable(term_ids), dtype=np.int64, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(term_ids), dtype=np.int64), lengths)
    keys, counts = np.unique(flat * n_rows + rows, return_counts=True)
    return keys // n_rows, (keys % n_rows + first_row).astype(np.int32), counts.astype(np.float32)


@dataclass
class Postings:
    """An immutable block of postings: for each term of ``terms`` (sorted), the rows holding it
    and its count there, ``rows[starts[i]:starts[i + 1]]`` and the same slice of ``counts``.
    """

    terms: np.ndarray
    starts: np.ndarray
    rows: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, term: np.ndarray, row: np.ndarray, count: np.ndarray) -> Postings:
        """From (term, row, count) triples sorted by term. Rows are kept as int32 and counts as
        float32 (exact for counts below 2**24): 8 bytes a posting, as bm25s's sparse matrix.
        """
        terms, first = np.unique(term, return_index=True)
        rows, counts = row.astype(np.int32, copy=False), count.astype(np.float32, copy=False)
        return cls(terms, np.append(first, len(term)), rows, counts)

    def __len__(self) -> int:
        return len(self.rows)

    def of_term(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        i = int(np.searchsorted(self.terms, term))
        if i == len(self.terms) or self.terms[i] != term:
            return _NONE, _NONE
        return self.rows[self.starts[i] : self.starts[i + 1]], self.counts[
            self.starts[i] : self.starts[i + 1]
        ]

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.repeat(self.terms, np.diff(self.starts)), self.rows, self.counts


def merged(blocks: Sequence[Postings], keep: np.ndarray | None = None) -> Postings:
    """One block of several; with ``keep`` (new row number per old row, -1 to drop) renumbered."""
    term, row, count = (np.concatenate(x) for x in zip(*(b.triples() for b in blocks), strict=True))
    if keep is not None:
        row = keep[row]
        term, count, row = term[row >= 0], count[row >= 0], row[row >= 0]
    order = np.lexsort((row, term))
    return Postings.of(term[order], row[order], count[order])


class LexicalIndex:
    """BM25 over texts under ids, updated in place with :meth:`add` and :meth:`remove` (safe to
    search from several threads while another updates it).

    Each :meth:`add` appends rows and one block of postings; blocks of similar size are merged (as
    an LSM tree does), so a term's postings are read from a few blocks. A removed row is marked
    dead: document frequencies count live rows at query time, and the rows are renumbered once half
    of them are dead.
    """

    def __init__(
        self, ids: Sequence[str] = (), texts: Sequence[str] = (), k1: float = 0.9, b: float = 0.4
    ) -> None:
        self.k1, self.b = k1, b
        self._lock = threading.RLock()
        self._tokenizer = Tokenizer()
        self._blocks: list[Postings] = []
        self._lengths = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=bool)
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._total_length = 0.0
        self.add(ids, texts)

    def __len__(self) -> int:
        return len(self._row_of)

    @property
    def ids(self) -> list[str]:
        """The live ids, in the order they were added."""
        return list(self._row_of)

    def add(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Index ``texts`` under ``ids``; an id already present is replaced."""
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if not ids:
            return
        with self._lock:
            self.remove([i for i in ids if i in self._row_of])
            terms = self._tokenizer.index_terms(texts)
            first = len(self._ids)
            self._grow(first + len(ids))
            self._lengths[first : first + len(ids)] = [len(t) for t in terms]
            self._alive[first : first + len(ids)] = True
            self._total_length += float(sum(map(len, terms)))
            self._ids.extend(ids)
            self._row_of.update(zip(ids, range(first, first + len(ids)), strict=True))
            self._blocks.append(Postings.of(*count_terms(terms, first)))
            while len(self._blocks) > 1 and 4 * len(self._blocks[-1]) >= len(self._blocks[-2]):
                self._blocks[-2:] = [merged(self._blocks[-2:])]

    def remove(self, ids: Iterable[str]) -> None:
        """Take ``ids`` out (ids not present are ignored)."""
        with self._lock:
            for key in ids:
                row = self._row_of.pop(key, None)
                if row is not None:
                    self._alive[row] = False
                    self._total_length -= float(self._lengths[row])
            if len(self._ids) and 1 - len(self._row_of) / len(self._ids) >= _COMPACT_WHEN_DEAD:
                self._compact()

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best ids for ``query`` with their (positive) scores, best first; ties in the
        order of indexing.
        """
        with self._lock:
            if not self._row_of or k <= 0:
                return []
            scores = self._scores(self._tokenizer.query_terms(query))
            hits = np.flatnonzero(scores > 0)
            order = hits[np.lexsort((hits, -scores[hits]))][:k]
            return [(self._ids[r], float(scores[r])) for r in order]

    # Internals ------------------------------------------------------------------------------
    def _grow(self, rows: int) -> None:
        if rows > len(self._alive):
            size = max(rows, 2 * len(self._alive), 1024)
            self._alive = np.concatenate([self._alive, np.zeros(size - len(self._alive), bool)])
            self._lengths = np.concatenate([self._lengths, np.zeros(size - len(self._lengths))])

    def _scores(self, term_ids: list[int]) -> np.ndarray:
        scores = np.zeros(len(self._ids))
        n_docs = len(self._row_of)
        mean_length = self._total_length / n_docs or 1.0
        for term in term_ids:
            parts = [block.of_term(term) for block in self._blocks]
            rows, tf = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            live = self._alive[rows]
            rows, tf = rows[live], tf[live]
            if len(rows):
                idf = lucene_idf(float(len(rows)), n_docs)
                lengths = self._lengths[rows]
                tfc = term_frequency_component(tf, lengths, mean_length, self.k1, self.b)
                np.add.at(scores, rows, idf * tfc)
        return scores

    def _compact(self) -> None:
        """Renumber the live rows from 0 and drop the dead rows' postings."""
        live = np.flatnonzero(self._alive[: len(self._ids)])
        new_row = np.full(len(self._ids), -1, dtype=np.int64)
        new_row[live] = np.arange(len(live))
        self._blocks = [merged(self._blocks, new_row)] if self._blocks else []
        self._ids = [self._ids[r] for r in live]
        self._row_of = {key: i for i, key in enumerate(self._ids)}
        self._lengths = self._lengths[live].copy()
        self._alive = np.ones(len(live), dtype=bool)
