"""Intervals and paired tests on benchmark reports: per-question values kept in ``report.json``,
each system's 95% interval and its difference from a reference system, and two runs compared
afterwards (``smolrag-lab compare RUN_A RUN_B``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .stats import DEFAULT_RESAMPLES, bootstrap_ci, compare

COMPARED = ("ndcg@10", "recall@10", "mrr", "span@5")  # metrics given intervals and paired tests
NOISE_MARK = "within noise"


def per_question(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """``{system: {"id": [...], metric: [...]}}`` from a run's rows, questions in run order; a
    metric a question lacks (``span@k`` without a trusted gold passage) is ``None`` there.
    """
    by_system: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_system.setdefault(row["system"], []).append(row)
    out: dict[str, dict[str, list[Any]]] = {}
    for system, group in by_system.items():
        keys = dict.fromkeys(
            k
            for r in group
            for k in r
            if "@" in k or k in ("mrr", "context_tokens", "retrieval_ms")
        )
        out[system] = {"id": [r["id"] for r in group]}
        out[system].update({k: [r.get(k) for r in group] for k in keys})
    return out


def paired_values(
    reference: Mapping[str, list[Any]], candidate: Mapping[str, list[Any]], metric: str
) -> tuple[list[float], list[float]]:
    """Values of ``metric`` on the questions both have (matched by id), skipping missing values."""
    if metric not in reference or metric not in candidate:
        return [], []
    ref = dict(zip(reference["id"], reference[metric], strict=True))
    cand = dict(zip(candidate["id"], candidate[metric], strict=True))
    common = [q for q in reference["id"] if q in cand and ref.get(q) is not None]
    common = [q for q in common if cand[q] is not None]
    return [float(ref[q]) for q in common], [float(cand[q]) for q in common]


def system_intervals(
    questions: Mapping[str, Mapping[str, list[Any]]],
    reference: str | None,
    metrics: Sequence[str] = COMPARED,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """For each system: each metric's 95% interval, and its paired comparison with ``reference``."""
    out: dict[str, dict[str, Any]] = {}
    for system, table in questions.items():
        entry: dict[str, Any] = {"ci": {}, "vs_reference": {}}
        for metric in metrics:
            values = [v for v in table.get(metric, []) if v is not None]
            if not values:
                continue
            ci = bootstrap_ci(values, resamples=resamples, seed=seed)
            entry["ci"][metric] = [ci.low, ci.high]
            if reference and system != reference and reference in questions:
                ref, cand = paired_values(questions[reference], table, metric)
                if ref:
                    entry["vs_reference"][metric] = compare(
                        ref, cand, resamples=resamples, seed=seed
                    ).to_dict()
        out[system] = entry
    return out


def delta_cell(comparison: Mapping[str, Any] | None) -> str:
    """``+0.012 [+0.004, +0.020]``, with the noise mark when the interval includes zero."""
    if not comparison:
        return "(reference)"
    text = (
        f"{comparison['delta']:+.3f} [{comparison['delta_low']:+.3f}, "
        f"{comparison['delta_high']:+.3f}]"
    )
    return text + (f" {NOISE_MARK}" if comparison["within_noise"] else "")


def load_run(path: str | Path) -> dict[str, Any]:
    """A ``report.json`` (or the folder holding one) that keeps per-question values."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise FileNotFoundError(f"no report.json at {path}")
    report = json.loads(path.read_text(encoding="utf-8"))
    if "per_question" not in report:
        raise ValueError(
            f"{path} keeps no per-question values (written before they were recorded): "
            "run the benchmark again"
        )
    return report


def compare_runs(
    run_a: Mapping[str, Any],
    run_b: Mapping[str, Any],
    metrics: Sequence[str] = COMPARED,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per system both runs hold and metric: B against A on their common questions."""
    rows = []
    a_q, b_q = run_a["per_question"], run_b["per_question"]
    for system in [s for s in a_q if s in b_q]:
        for metric in metrics:
            ref, cand = paired_values(a_q[system], b_q[system], metric)
            if not ref:
                continue
            result = compare(ref, cand, resamples=resamples, seed=seed)
            rows.append({"system": system, "metric": metric, **result.to_dict()})
    return rows


def compare_table(rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| system | metric | A | B | Δ B−A [95% CI] | p (sign-flip) | questions |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['system']} | {r['metric']} | {r['reference']:.3f} | {r['candidate']:.3f} "
        f"| {delta_cell(r)} | {r['p_value']:.3f} | {r['n']} |"
        for r in rows
    ]
    return "\n".join(lines)
