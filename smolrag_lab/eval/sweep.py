"""Tuning sweeps: one index per value of an ingestion setting (chunk size, overlap, strategy), every
value of a query setting (top-k, a token budget, a threshold) run against it, scored per cell.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine import SmolRag
from ..index_settings import folder_name
from ..progress import progress_bar
from ..settings import INDEX_SETTINGS, QUERY_SETTINGS, Settings
from .answers import AnswerScorer
from .dataset import Dataset
from .metrics import score_ranking
from .stats import bootstrap_ci, compare

SWEEP_METRICS = (
    "precision",
    "recall",
    "hit",
    "ndcg",
    "span",
    "mrr",
    "context_tokens",
    "latency_ms",
)
SWEEP_ANSWER_METRICS = (
    "answer_f1",
    "span_recall",
    "semantic_f1",
    "groundedness",
    "citation_precision",
    "answer_words",
)


def tuning_sweep(
    dataset: Dataset,
    settings: Settings,
    index_setting: str,
    index_values: Sequence[Any],
    query_setting: str,
    query_values: Sequence[Any],
    mode: str = "standard",
    cutoff: int | None = None,
    data_root: str | Path | None = None,
    answers: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per (index value, query value) with the mean of each metric over the dataset, nDCG's
    95% interval and its paired difference from the default cell (``within_noise`` when the
    difference's interval includes zero).

    Metrics are taken at ``cutoff`` excerpts; when sweeping ``excerpt_top_k`` without a cutoff, at
    the top-k itself (so the cell reads "what the context of that size contains"). Indexes are kept
    under ``data_root`` (default: beside ``settings.data_dir``), one per index set-up as
    :func:`.folder_name` names it, and updated incrementally on a re-run.
    """
    if index_setting not in INDEX_SETTINGS:
        raise ValueError(f"index_setting must be one of {', '.join(INDEX_SETTINGS)}")
    if query_setting in INDEX_SETTINGS:
        raise ValueError(f"{query_setting} changes the index: sweep it as the index setting")
    if query_setting not in QUERY_SETTINGS:
        raise ValueError(
            f"{query_setting} is not a query setting; choose one of {', '.join(QUERY_SETTINGS)}"
        )
    root = Path(data_root) if data_root else settings.data_dir.parent / "sweeps"
    scorer = AnswerScorer(threshold=settings.groundedness_threshold) if answers else None
    rows: list[dict[str, Any]] = []
    per_cell: list[list[float]] = []
    total = len(index_values) * len(query_values) * len(dataset.items)
    with progress_bar(total, "sweep", "query", progress) as bar:
        for index_value in index_values:
            cells = _sweep_index(
                dataset,
                settings,
                root,
                (index_setting, index_value),
                (query_setting, query_values),
                (mode, cutoff, scorer),
                bar,
            )
            rows += [row for row, _ in cells]
            per_cell += [ndcg for _, ndcg in cells]
    default = (getattr(settings, index_setting), getattr(settings, query_setting, None))
    return pd.DataFrame(_with_intervals(rows, per_cell, index_setting, query_setting, default))


def _with_intervals(
    rows: list[dict[str, Any]],
    per_cell: list[list[float]],
    index_setting: str,
    query_setting: str,
    default: tuple[Any, Any],
) -> list[dict[str, Any]]:
    """Each cell's nDCG with its 95% interval and its paired difference from the default cell (the
    settings' own values when the grid holds them, else the first cell), marked when within noise.
    """
    keys = [(r[index_setting], r[query_setting]) for r in rows]
    ref = keys.index(default) if default in keys else 0
    for i, row in enumerate(rows):
        ci = bootstrap_ci(per_cell[i])
        row.update({"ndcg_low": round(ci.low, 4), "ndcg_high": round(ci.high, 4)})
        result = compare(per_cell[ref], per_cell[i])
        row.update(
            {
                "reference_cell": i == ref,
                "delta_ndcg": round(result.difference.estimate, 4),
                "delta_ndcg_low": round(result.difference.low, 4),
                "delta_ndcg_high": round(result.difference.high, 4),
                "p_ndcg": round(result.p_value, 4),
                "within_noise": result.within_noise,
            }
        )
    return rows


def _sweep_index(
    dataset: Dataset,
    settings: Settings,
    root: Path,
    index: tuple[str, Any],
    query: tuple[str, Sequence[Any]],
    scoring: tuple[str, int | None, AnswerScorer | None],
    bar: Any,
) -> list[tuple[dict[str, Any], list[float]]]:
    """One index setting's cells: build (or update) its index, then score every query value; each
    cell's row of means with its per-question nDCG (for the intervals).
    """
    (index_setting, index_value), (query_setting, query_values), rows = index, query, []
    mode, cutoff, scorer = scoring
    tuned = settings.replace(**{index_setting: index_value, "query_cache": False})
    tuned = tuned.replace(data_dir=root / folder_name(tuned, dataset.name))
    with SmolRag(tuned, rebuild=True) as rag:
        rag.ingest(dataset.paths, progress=not bar.disable)
        for query_value in query_values:
            k = cutoff or (int(query_value) if query_setting == "excerpt_top_k" else 5)
            scores = []
            for item in dataset.items:
                overrides = {query_setting: query_value}
                scores.append(_score_item(rag, item, mode, k, overrides, scorer))
                bar.update(1)
            row = {index_setting: index_value, query_setting: query_value, "cutoff": k}
            rows.append(({**row, **_mean(scores)}, [s.get("ndcg", 0.0) for s in scores]))
    return rows


def _score_item(
    rag: SmolRag,
    item: Any,
    mode: str,
    k: int,
    overrides: dict[str, Any],
    scorer: AnswerScorer | None = None,
) -> dict[str, float]:
    depth = max(k, int(overrides.get("excerpt_top_k", rag.settings.excerpt_top_k)))
    started = time.perf_counter()
    result = rag.retrieve(item.query, mode, **{"excerpt_top_k": depth, **overrides})
    latency = 1000 * (time.perf_counter() - started)
    answered = {}
    if scorer is not None:  # the answer from the cell's own settings, as a user would get it
        reply = rag.query(item.query, mode, **overrides)
        texts = [s.text for s in reply.sources]
        answered = scorer.score(item.query, reply.answer, texts, item.reference_answer, item.span)
    documents = [Path(s.source).name for s in result.sources]
    raw = score_ranking(documents, [s.text for s in result.sources], item.relevant, [k], item.span)
    scores = {name.split("@")[0]: value for name, value in raw.items()}
    return {
        **scores,
        "context_tokens": float(result.token_counts.get("total", 0)),
        "latency_ms": latency,
        **{m: float(v) for m in SWEEP_ANSWER_METRICS if (v := answered.get(m)) is not None},
    }


def _mean(scores: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for metric in SWEEP_METRICS:
        values = [s[metric] for s in scores if metric in s]
        out[metric] = round(sum(values) / len(values), 4) if values else float("nan")
    for metric in SWEEP_ANSWER_METRICS:  # only when answers were scored
        if values := [s[metric] for s in scores if metric in s]:
            out[metric] = round(sum(values) / len(values), 4)
    return out


def sweep_matrix(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The sweep as a grid (index setting down, query setting across) of one metric (heatmap)."""
    index_setting, query_setting = frame.columns[0], frame.columns[1]
    return frame.pivot(index=index_setting, columns=query_setting, values=metric)
