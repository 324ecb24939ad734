"""The benchmark: ingest a corpus, run every query in every mode and the baselines, score, write
reports.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..aio import run_sync
from ..engine import SmolRag
from ..query.retrieval import MODES
from ..settings import Settings
from .answers import ANSWER_METRICS, AnswerScorer
from .baselines import Baselines
from .dataset import Dataset, EvalItem
from .judge import Case, run_judge
from .metrics import latency_summary, score_ranking
from .paired import per_question, system_intervals
from .profile import profiled_ingest

BASELINES = ("bm25", "dense")
DEFAULT_KS = (1, 3, 5, 10)
CONTEXT_SIZES = ("context_tokens", "answer_context_tokens")


@dataclass
class BenchmarkRun:
    dataset: str
    ks: tuple[int, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per query and system
    ingest: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    judge: dict[str, Any] = field(default_factory=dict)  # eval/judge.py, when asked for

    def report(self) -> dict[str, Any]:
        systems: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            systems.setdefault(row["system"], []).append(row)
        summary: dict[str, Any] = {
            "dataset": self.dataset,
            "ks": list(self.ks),
            "queries": 0,
            "modes": {},
            "baselines": {},
            "ingest": self.ingest,
            "settings": self.settings,
        }
        for system, rows in systems.items():
            group = "baselines" if system in BASELINES else "modes"
            summary[group][system] = _aggregate(rows)
            summary["queries"] = max(summary["queries"], len(rows))
        questions = per_question(self.rows)
        reference = next((b for b in BASELINES if b in systems), next(iter(systems), None))
        summary["reference"] = reference
        for system, entry in system_intervals(questions, reference).items():
            group = "baselines" if system in BASELINES else "modes"
            summary[group][system].update(entry)
        summary["per_question"] = questions
        if self.judge:
            summary["judge"] = self.judge
        return summary


def _aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = dict.fromkeys(k for r in rows for k in r)
    metrics = [k for k in keys if "@" in k or k in ("mrr", *CONTEXT_SIZES, *ANSWER_METRICS)]
    out: dict[str, Any] = {}
    for metric in metrics:
        values = [r[metric] for r in rows if r.get(metric) is not None]
        out[metric] = round(sum(values) / len(values), 4) if values else None
    for name in ("retrieval_ms", "answer_ms", "total_ms"):
        out[f"latency_ms_{name.removesuffix('_ms')}"] = latency_summary([r[name] for r in rows])
    out["latency_ms"] = out["latency_ms_retrieval"]
    out["queries"] = len(rows)
    out["with_sources"] = sum(1 for r in rows if r["n_sources"])
    return out


def run_benchmark(
    dataset: Dataset,
    settings: Settings,
    modes: Sequence[str] = MODES,
    ks: Sequence[int] = DEFAULT_KS,
    answer: bool = True,
    baselines: bool = True,
    progress: bool = True,
    judge_sample: int = 0,
    judge_runs: int = 3,
) -> BenchmarkRun:
    """Every query in every mode, scored; answers scored too unless ``answer`` is false. With
    ``judge_sample`` and an endpoint configured, the first ``judge_sample`` answers of each mode are
    also judged by the model ``judge_runs`` times (eval/judge.py; the cost is printed first).
    """
    ks = tuple(sorted(set(ks)))
    depth = max(ks) * 2  # enough excerpts for max(k) distinct documents in nearly every case
    run = BenchmarkRun(
        dataset.name,
        ks,
        settings={
            "excerpt_top_k_for_eval": depth,
            "fusion": settings.fusion,
            "chunk_size": settings.chunk_size,
            "chunk_strategy": settings.chunk_strategy,
        },
    )
    scorer = AnswerScorer(threshold=settings.groundedness_threshold) if answer else None
    with SmolRag(settings.replace(query_cache=False)) as rag:
        run.ingest = profiled_ingest(rag, dataset.paths, progress=progress)
        cases: list[Case] = []
        for mode in modes:
            for i, item in enumerate(tqdm(dataset.items, desc=mode, disable=not progress)):
                sample = cases if answer and i < judge_sample else None
                run.rows.append(_engine_row(rag, item, mode, depth, ks, scorer, sample))
        if cases:
            run.judge = _judge(rag, cases, settings, judge_runs)
        if baselines:
            base = Baselines(rag)
            for system in BASELINES:
                for item in tqdm(dataset.items, desc=system, disable=not progress):
                    run.rows.append(_baseline_row(base, system, item, depth, ks))
    return run


def _engine_row(
    rag: SmolRag,
    item: EvalItem,
    mode: str,
    depth: int,
    ks: tuple[int, ...],
    scorer: AnswerScorer | None,
    cases: list[Case] | None = None,
) -> dict[str, Any]:
    """Retrieval scores at the evaluation depth; with a ``scorer``, the answer's metrics too."""
    result = run_sync(rag.aquery(item.query, mode, answer=False, excerpt_top_k=depth))
    documents = [Path(s.source).name for s in result.sources]
    timings = result.timings_ms
    row = {
        "system": mode,
        "id": item.id,
        "query": item.query,
        "n_sources": len(result.sources),
        "top_documents": "|".join(documents[:5]),
        "context_tokens": result.token_counts.get("total", 0),
        "retrieval_ms": timings.get("retrieval_ms", 0.0),
        "answer_ms": timings.get("answer_ms", 0.0),
        "total_ms": timings.get("total_ms", 0.0),
        **score_ranking(documents, [s.text for s in result.sources], item.relevant, ks, item.span),
        **(_answer_scores(rag, scorer, item, mode, cases) if scorer else {}),
    }
    row["total_ms"] = row["retrieval_ms"] + row["answer_ms"]
    return row


def _answer_scores(
    rag: SmolRag, scorer: AnswerScorer, item: EvalItem, mode: str, cases: list[Case] | None
) -> dict[str, Any]:
    """The answer a user gets, from the configured settings (the evaluation depth would hand it a
    larger context than a user's), with its metrics, its context's size and its time.
    """
    result = run_sync(rag.aquery(item.query, mode, answer=True))
    texts = [s.text for s in result.sources]
    scores = scorer.score(item.query, result.answer, texts, item.reference_answer, item.span)
    if cases is not None:
        cases.append(Case(mode, item.query, result.answer, tuple(texts), item.reference_answer))
    return {
        "answer": result.answer,
        "answer_context_tokens": result.token_counts.get("total", 0),
        "answer_ms": result.timings_ms.get("answer_ms", 0.0),
        **scores,
    }


def _judge(rag: SmolRag, cases: list[Case], settings: Settings, runs: int) -> dict[str, Any]:
    if settings.resolved_completion_backend != "openai":
        return {"skipped": "no completion endpoint configured", "cases": len(cases)}
    return run_judge(rag.providers.client, cases, settings, runs)


def _baseline_row(
    base: Baselines, system: str, item: EvalItem, depth: int, ks: tuple[int, ...]
) -> dict[str, Any]:
    started = time.perf_counter()
    ids = base.search(system, item.query, depth)
    elapsed = 1000 * (time.perf_counter() - started)
    documents = [Path(base.documents[i]).name for i in ids]
    return {
        "system": system,
        "id": item.id,
        "query": item.query,
        "n_sources": len(ids),
        "top_documents": "|".join(documents[:5]),
        "context_tokens": 0,
        "retrieval_ms": elapsed,
        "answer_ms": 0.0,
        "total_ms": elapsed,
        **score_ranking(documents, [base.texts[i] for i in ids], item.relevant, ks, item.span),
    }
