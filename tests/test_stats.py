"""Bootstrap intervals and paired tests on hand-worked cases and against exact distributions."""

import itertools

import numpy as np
import pytest

from smolrag_lab.eval import stats
from smolrag_lab.eval.stats import (
    bootstrap_ci,
    compare,
    format_delta,
    paired_bootstrap_ci,
    sign_flip_p_value,
)


def test_sign_flip_exact_on_hand_worked_cases():
    # differences 1, 2, 3: of the 8 sign patterns only +++ and --- reach |mean| = 2
    assert sign_flip_p_value([0, 0, 0], [1, 2, 3]) == pytest.approx(2 / 8)
    # four equal differences: again only the two uniform patterns, of 16
    assert sign_flip_p_value([0.5] * 4, [0.7] * 4) == pytest.approx(2 / 16)
    # differences 1 and -1 cancel: the observed mean is 0, nothing is more extreme than nothing
    assert sign_flip_p_value([0, 1], [1, 0]) == 1.0
    # differences 3, 1: patterns give |mean| 2, 1, 1, 2 -> two of four reach 2
    assert sign_flip_p_value([0, 0], [3, 1]) == pytest.approx(0.5)


def test_known_difference_is_significant():
    rng = np.random.default_rng(7)
    reference = rng.uniform(0, 1, 150)
    candidate = np.clip(reference + 0.1 + rng.normal(0, 0.05, 150), 0, 1.2)
    result = compare(reference, candidate)
    assert not result.within_noise
    assert result.difference.low > 0.05 and result.difference.high < 0.15
    assert result.p_value < 0.01
    assert result.n == 150
    assert result.candidate_mean - result.reference_mean == pytest.approx(
        result.difference.estimate
    )
    assert not format_delta(result).endswith("~")


def test_identical_runs_are_within_noise():
    values = np.random.default_rng(3).uniform(0, 1, 80)
    result = compare(values, values.copy())
    assert result.within_noise
    assert result.p_value == 1.0
    assert (result.difference.low, result.difference.estimate, result.difference.high) == (0, 0, 0)
    assert format_delta(result) == "+0.000 [+0.000, +0.000] ~"


def test_small_noisy_difference_is_within_noise():
    rng = np.random.default_rng(11)
    reference = rng.uniform(0, 1, 100)
    candidate = reference + rng.normal(0.003, 0.1, 100)  # a +0.003 delta buried in noise
    result = compare(reference, candidate)
    assert result.within_noise
    assert result.p_value > 0.05
    assert result.to_dict()["within_noise"] is True


def test_seeded_determinism():
    values = np.random.default_rng(5).uniform(0, 1, 60)
    other = values + np.random.default_rng(6).normal(0, 0.2, 60)
    assert bootstrap_ci(values, seed=1) == bootstrap_ci(values, seed=1)
    assert compare(values, other, seed=4) == compare(values, other, seed=4)
    assert bootstrap_ci(values, seed=1) != bootstrap_ci(values, seed=2)
    assert sign_flip_p_value(values, other, seed=1) == sign_flip_p_value(values, other, seed=1)


def test_interval_matches_exact_bootstrap_distribution():
    """With n = 5 all 5**5 resamples can be listed: the exact bootstrap distribution."""
    values = np.array([0.0, 0.2, 0.3, 0.9, 1.0])
    exact_means = np.array([np.mean(p) for p in itertools.product(values, repeat=5)])
    interval = bootstrap_ci(values, resamples=50_000, seed=0)
    below_low = np.mean(exact_means < interval.low - 1e-12)
    above_high = np.mean(exact_means > interval.high + 1e-12)
    assert below_low == pytest.approx(0.025, abs=0.012)
    assert above_high == pytest.approx(0.025, abs=0.012)
    assert interval.estimate == pytest.approx(values.mean())


def test_interval_matches_normal_approximation_for_many_questions():
    values = np.random.default_rng(2).exponential(1.0, 900)
    interval = bootstrap_ci(values, resamples=4000)
    half_width = 1.96 * values.std() / np.sqrt(values.size)
    assert interval.high - interval.low == pytest.approx(2 * half_width, rel=0.1)
    assert (interval.low + interval.high) / 2 == pytest.approx(values.mean(), abs=0.2 * half_width)


def test_interval_covers_true_mean_at_its_rate():
    rng = np.random.default_rng(9)
    covered = [
        bootstrap_ci(rng.normal(0.5, 0.2, 60), resamples=1000, seed=i).includes(0.5)
        for i in range(300)
    ]
    assert 0.89 <= np.mean(covered) <= 0.99


def test_monte_carlo_sign_flip_agrees_with_exact(monkeypatch):
    rng = np.random.default_rng(4)
    reference = rng.uniform(0, 1, 12)
    candidate = reference + rng.normal(0.15, 0.25, 12)
    exact = sign_flip_p_value(reference, candidate)
    monkeypatch.setattr(stats, "EXACT_SIGN_FLIP_MAX_N", 0)
    sampled = sign_flip_p_value(reference, candidate, resamples=40_000)
    assert sampled == pytest.approx(exact, abs=0.01)


def test_paired_interval_is_tighter_than_independent_ones():
    rng = np.random.default_rng(8)
    reference = rng.uniform(0, 1, 200)
    candidate = reference + rng.normal(0.02, 0.03, 200)
    paired = paired_bootstrap_ci(reference, candidate)
    ref_ci, cand_ci = bootstrap_ci(reference), bootstrap_ci(candidate)
    assert paired.high - paired.low < 0.25 * (ref_ci.high - ref_ci.low + cand_ci.high - cand_ci.low)
    assert not paired.includes(0.0)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="same questions"):
        compare([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_ci([1.0, 2.0], resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=1.0)


def test_against_scipy_bootstrap_when_installed():
    scipy_stats = pytest.importorskip("scipy.stats")
    values = np.random.default_rng(1).uniform(0, 1, 120)
    ours = bootstrap_ci(values, resamples=20_000)
    theirs = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=20_000, method="percentile", random_state=0
    ).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.01)
    assert ours.high == pytest.approx(theirs.high, abs=0.01)
