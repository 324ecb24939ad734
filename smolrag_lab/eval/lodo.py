"""Leave-one-dataset-out choice of a default: a candidate setting is chosen on every labelled set
but one and then judged on the one left out, so a default is kept only if it holds on data it was
not chosen on.

``scores[set][candidate]`` holds per-question values (the same questions, in the same order, for
every candidate of a set). The choice on the other sets maximises the mean over those sets of each
set's mean, every set weighing the same whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .stats import compare

Scores = Mapping[str, Mapping[str, Sequence[float]]]


def choose(scores: Scores, sets: Sequence[str], candidates: Sequence[str]) -> str:
    """The candidate with the best mean over ``sets`` of its per-set mean (the first on a tie)."""

    def overall(candidate: str) -> float:
        return float(np.mean([np.mean(scores[s][candidate]) for s in sets]))

    return max(candidates, key=overall)  # max keeps the first of equal values


def leave_one_out(scores: Scores, previous: str, candidates: Sequence[str]) -> dict[str, Any]:
    """One fold per set: the candidate chosen on the others, its score on the left-out set against
    the previous default's (paired interval and p-value), and whether it wins there (its mean at
    least the previous default's). ``kept`` is the candidate chosen on every set when every fold's
    choice won its left-out set, else ``previous``.
    """
    sets = list(scores)
    if previous not in candidates:
        raise ValueError(f"the previous default {previous!r} must be one of the candidates")
    folds = []
    for left_out in sets:
        others = [s for s in sets if s != left_out] or sets
        chosen = choose(scores, others, candidates)
        comparison = compare(scores[left_out][previous], scores[left_out][chosen])
        best_there = choose(scores, [left_out], candidates)
        folds.append(
            {
                "left_out": left_out,
                "chosen": chosen,
                "chosen_on_others": round(
                    float(np.mean([np.mean(scores[s][chosen]) for s in others])), 4
                ),
                "left_out_score": round(comparison.candidate_mean, 4),
                "previous_score": round(comparison.reference_mean, 4),
                "delta": round(comparison.difference.estimate, 4),
                "delta_low": round(comparison.difference.low, 4),
                "delta_high": round(comparison.difference.high, 4),
                "p_value": round(comparison.p_value, 4),
                "wins": comparison.candidate_mean >= comparison.reference_mean,
                "best_on_left_out": best_there,
            }
        )
    overall = choose(scores, sets, candidates)
    kept = overall if all(f["wins"] for f in folds) else previous
    return {
        "candidates": list(candidates),
        "previous": previous,
        "chosen_on_all": overall,
        "kept": kept,
        "folds": folds,
    }
