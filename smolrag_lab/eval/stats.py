"""Noise in comparisons: bootstrap intervals over questions and paired tests, numpy only.

Every benchmark figure is a mean over a few hundred questions, so two configurations whose means
differ by 0.003 may be the same system measured twice. These kernels say how far a mean or a paired
difference could move if the questions had been drawn again:

- :func:`bootstrap_ci` — percentile bootstrap interval of a mean over questions;
- :func:`paired_bootstrap_ci` — the same for the mean of per-question differences (candidate minus
  reference, over the *same* questions, which is far tighter than two independent intervals);
- :func:`sign_flip_p_value` — a paired randomisation test: under "no difference" each question's
  difference is as likely to have either sign; exact enumeration for small sets, seeded Monte Carlo
  otherwise;
- :func:`compare` — both at once, as a :class:`Comparison` whose ``within_noise`` says the interval
  includes zero.

All are deterministic for a given ``seed``; ``resamples`` sets the Monte Carlo size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
EXACT_SIGN_FLIP_MAX_N = 12  # 2**12 = 4096 sign patterns: enumerate them instead of sampling
_BLOCK_CELLS = 4_000_000  # resample indices drawn in blocks of at most this many cells


@dataclass(frozen=True)
class Interval:
    """A point estimate and its two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float = DEFAULT_CONFIDENCE

    def includes(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """A candidate's mean against its reference's on the same questions."""

    reference_mean: float
    candidate_mean: float
    difference: Interval  # candidate minus reference, mean over questions, with its interval
    p_value: float  # two-sided paired sign-flip test
    n: int

    @property
    def within_noise(self) -> bool:
        """True when the difference's interval includes zero: no evidence of a real difference."""
        return self.difference.includes(0.0)

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "reference": self.reference_mean,
            "candidate": self.candidate_mean,
            "delta": self.difference.estimate,
            "delta_low": self.difference.low,
            "delta_high": self.difference.high,
            "confidence": self.difference.confidence,
            "p_value": self.p_value,
            "n": self.n,
            "within_noise": self.within_noise,
        }


def _as_array(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError("no values: an interval needs at least one question")
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite numbers")
    return array


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def bootstrap_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of ``resamples`` resamples of ``values`` with replacement (seeded, memory-bounded)."""
    rng = np.random.default_rng(seed)
    n = values.size
    rows_per_block = max(1, _BLOCK_CELLS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, rows_per_block):
        rows = min(rows_per_block, resamples - start)
        indices = rng.integers(0, n, size=(rows, n))
        means[start : start + rows] = values[indices].mean(axis=1)
    return means


def _percentile_interval(
    values: np.ndarray, resamples: int, confidence: float, seed: int
) -> Interval:
    estimate = float(values.mean())
    if np.all(values == values[0]):  # no spread: every resample has the same mean
        return Interval(estimate, estimate, estimate, confidence)
    means = bootstrap_means(values, resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(estimate, float(low), float(high), confidence)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap interval of the mean of per-question ``values``."""
    _check(resamples, confidence)
    return _percentile_interval(_as_array(values), resamples, confidence, seed)


def _differences(
    reference: Sequence[float] | np.ndarray, candidate: Sequence[float] | np.ndarray
) -> np.ndarray:
    ref, cand = _as_array(reference), _as_array(candidate)
    if ref.shape != cand.shape:
        raise ValueError(
            f"paired values need the same questions: {ref.size} reference vs {cand.size} candidate"
        )
    return cand - ref


def paired_bootstrap_ci(
    reference: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Interval of mean(candidate − reference), resampling questions (pairs kept together)."""
    _check(resamples, confidence)
    return _percentile_interval(_differences(reference, candidate), resamples, confidence, seed)


def _sign_patterns(n: int, resamples: int, seed: int) -> tuple[np.ndarray, bool]:
    """Every ±1 pattern when n is small (exact test), else ``resamples`` random ones."""
    if n <= EXACT_SIGN_FLIP_MAX_N:
        codes = np.arange(2**n)[:, None] >> np.arange(n)[None, :]
        return np.where(codes & 1, -1.0, 1.0), True
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(resamples, n)), False


def sign_flip_p_value(
    reference: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> float:
    """Two-sided paired randomisation test of "mean difference is zero".

    Exact for at most :data:`EXACT_SIGN_FLIP_MAX_N` questions; otherwise Monte Carlo with the
    observed pattern counted once, ``(hits + 1) / (resamples + 1)``, so the p-value is never 0.
    """
    _check(resamples, DEFAULT_CONFIDENCE)
    diffs = _differences(reference, candidate)
    observed = abs(diffs.mean())
    if observed == 0.0:
        return 1.0
    tolerance = 1e-12 * max(1.0, float(np.abs(diffs).max()))
    hits, total = 0, 0
    n = diffs.size
    rows_per_block = max(1, _BLOCK_CELLS // n)
    patterns, exact = _sign_patterns(n, resamples, seed)
    for start in range(0, len(patterns), rows_per_block):
        block = patterns[start : start + rows_per_block]
        stats = np.abs((block * diffs).mean(axis=1))
        hits += int(np.count_nonzero(stats >= observed - tolerance))
        total += len(block)
    return hits / total if exact else (hits + 1) / (total + 1)


def compare(
    reference: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """Paired bootstrap interval of the difference and sign-flip p-value, candidate vs reference."""
    diff = paired_bootstrap_ci(
        reference, candidate, resamples=resamples, confidence=confidence, seed=seed
    )
    p_value = sign_flip_p_value(reference, candidate, resamples=resamples, seed=seed)
    ref = _as_array(reference)
    return Comparison(
        reference_mean=float(ref.mean()),
        candidate_mean=float(_as_array(candidate).mean()),
        difference=diff,
        p_value=p_value,
        n=int(ref.size),
    )


def format_delta(comparison: Comparison, digits: int = 3) -> str:
    """``+0.012 [+0.004, +0.020]`` with `` ~`` appended when the difference is within noise."""
    d = comparison.difference
    text = f"{d.estimate:+.{digits}f} [{d.low:+.{digits}f}, {d.high:+.{digits}f}]"
    return text + (" ~" if comparison.within_noise else "")
