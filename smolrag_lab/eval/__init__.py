"""Evaluation: datasets in the shared format, retrieval metrics, baselines and the benchmark
harness.
"""

from .answers import ANSWER_METRICS, AnswerScorer, answer_metrics
from .dataset import Dataset, EvalItem, load_dataset
from .harness import BASELINES, DEFAULT_KS, MODES, BenchmarkRun, run_benchmark
from .metrics import (
    hit_at_k,
    latency_summary,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    score_ranking,
    span_at_k,
)
from .report import answers_table, markdown_summary, results_table, write_reports

__all__ = [
    "ANSWER_METRICS",
    "AnswerScorer",
    "answer_metrics",
    "answers_table",
    "BASELINES",
    "DEFAULT_KS",
    "MODES",
    "BenchmarkRun",
    "Dataset",
    "EvalItem",
    "hit_at_k",
    "latency_summary",
    "load_dataset",
    "markdown_summary",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "results_table",
    "run_benchmark",
    "score_ranking",
    "span_at_k",
    "write_reports",
]
