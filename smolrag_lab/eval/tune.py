"""A tuner for chunking and context limits on Optuna, with held-out questions and intervals.

- The questions are split (seeded) into a *tune* part the study optimises on and a *held-out* part
  it never sees; the best trials are then scored on the held-out questions beside the default
  configuration, with paired bootstrap intervals (:mod:`.stats`).
- TPE sampling; with one objective, trials whose running score falls below the median of earlier
  trials at the same point are pruned. Study, trials and split live in ``root/study.sqlite3``:
  running the same study again resumes it.
- Fast trials: one index per chunking (``root/indexes/<key>``), reused by every trial with that
  chunking; one provider cache (``root/cache.sqlite``) shared by all, so embeddings of texts seen
  before (every query, unchanged sections) are not recomputed; no graph unless a tuned mode uses it.
- Objectives are metric names with per-question values: the retrieval metrics of
  :func:`.metrics.score_ranking` (``ndcg@10``, ``recall@5``, ``mrr``…), ``context_tokens`` and
  ``latency_ms``; other metrics (answer quality) plug in with :func:`register_metric`. A second
  objective (``context_tokens``, ``latency_p95``, ``provider_calls``; minimised) gives a Pareto
  front. Tables of a result: :mod:`.tune_report`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import SmolRag
from ..settings import Settings
from .dataset import Dataset, EvalItem
from .metrics import score_ranking
from .stats import Comparison, bootstrap_ci, compare
from .tune_space import DEFAULT_SPACE, Knob, needs_graph, split_params

KS = (1, 3, 5, 10)
PRUNE_STEPS = (
    4  # the tune questions are scored in this many slices, reported as intermediate values
)
SECOND_OBJECTIVES = ("context_tokens", "latency_p95", "provider_calls")
# (rag, questions, mode, query overrides, each question's result) -> one value per question
MetricFn = Callable[
    [SmolRag, Sequence[EvalItem], str, Mapping[str, Any], list[Any]], Sequence[float]
]
_EXTRA_METRICS: dict[str, MetricFn] = {}


def register_metric(name: str, fn: MetricFn) -> None:
    """Make ``name`` usable as an objective (e.g. an answer-quality metric)."""
    _EXTRA_METRICS[name] = fn


def split_questions(
    dataset: Dataset, held_out: float = 0.3, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """(tune, held-out): disjoint, together all questions, the same for the same ids and seed."""
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"held_out must lie strictly between 0 and 1, got {held_out}")
    if len(dataset.items) < 2:
        raise ValueError("splitting needs at least two questions")
    ids = sorted(item.id for item in dataset.items)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_held = min(len(ids) - 1, max(1, round(held_out * len(ids))))
    held_ids = {ids[i] for i in order[:n_held]}
    tune = [i for i in dataset.items if i.id not in held_ids]
    held = [i for i in dataset.items if i.id in held_ids]
    return (
        replace(dataset, name=f"{dataset.name}[tune]", items=tune),
        replace(dataset, name=f"{dataset.name}[held-out]", items=held),
    )


@dataclass
class Scores:
    """Per-question values of every metric for one configuration on some questions."""

    ids: list[str]
    values: dict[str, np.ndarray]
    provider_calls: int = 0

    def mean(self, metric: str) -> float:
        if metric == "latency_p95":
            return float(np.percentile(self.values["latency_ms"], 95))
        if metric == "provider_calls":
            return float(self.provider_calls)
        return float(self.values[metric].mean())


class TrialRunner:
    """Builds (or reuses) the index for a configuration and scores questions on it."""

    def __init__(self, settings: Settings, dataset: Dataset, root: Path, graph: bool) -> None:
        self.base = settings.replace(
            query_cache=False, cache_path=root / "cache.sqlite", build_graph=graph
        )
        self.dataset, self.root = dataset, root

    def settings_for(self, index_params: Mapping[str, Any]) -> Settings:
        tuned = self.base.replace(**index_params)
        key = {k: getattr(tuned, k) for k in ("chunk_strategy", "chunk_size", "chunk_overlap")}
        key["graph"] = tuned.build_graph
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        name = f"{tuned.chunk_strategy}-{tuned.chunk_size}-{tuned.chunk_overlap}-{digest}"
        return tuned.replace(data_dir=self.root / "indexes" / name)

    def open(self, index_params: Mapping[str, Any]) -> tuple[SmolRag, dict[str, Any]]:
        """The engine on this chunking's index, built on first use; what the build cost."""
        s = self.settings_for(index_params)
        built = s.data_dir / "tuner-build.json"
        rag = SmolRag(s, log_to_file=False)
        if built.exists():
            return rag, {**json.loads(built.read_text()), "index_reused": True}
        started = time.perf_counter()
        report = rag.ingest(self.dataset.paths, progress=False)
        if report.failed:
            rag.close()
            raise RuntimeError(f"ingestion failed for {report.failed[0]['source']}")
        info = {
            "index_seconds": round(time.perf_counter() - started, 2),
            "provider_calls": int(sum(report.provider_calls.values())),
            "excerpts": report.excerpts,
        }
        built.write_text(json.dumps(info))
        return rag, {**info, "index_reused": False}

    def score(
        self,
        rag: SmolRag,
        items: Sequence[EvalItem],
        mode: str,
        overrides: Mapping[str, Any],
        metrics: Sequence[str] = (),
    ) -> Scores:
        rows, results = [], []
        for item in items:
            started = time.perf_counter()
            result = rag.retrieve(item.query, mode, **overrides)
            latency = 1000 * (time.perf_counter() - started)
            documents = [Path(s.source).name for s in result.sources]
            texts = [s.text for s in result.sources]
            row = score_ranking(documents, texts, item.relevant, KS, item.span)
            row["context_tokens"] = float(result.token_counts.get("total", 0))
            row["latency_ms"] = latency
            rows.append(row)
            results.append(result)
        names = [k for k in rows[0] if all(k in r for r in rows)]
        values = {k: np.array([r[k] for r in rows], dtype=float) for k in names}
        for name in metrics:
            if name in _EXTRA_METRICS:
                values[name] = np.asarray(
                    _EXTRA_METRICS[name](rag, items, mode, overrides, results), dtype=float
                )
        return Scores([i.id for i in items], values)


@dataclass
class TuneResult:
    study: Any  # optuna.Study
    tune: Dataset
    held_out: Dataset
    objective: str
    runner: TrialRunner
    rows: list[dict[str, Any]] = field(default_factory=list)  # held-out table, default first
    best_params: dict[str, Any] = field(default_factory=dict)


def _check_metric(name: str) -> None:
    known = {f"{m}@{k}" for m in ("precision", "recall", "hit", "ndcg", "span") for k in KS}
    known |= {"mrr", "context_tokens", "latency_ms", *_EXTRA_METRICS}
    if name not in known:
        raise ValueError(f"unknown objective {name!r}; metrics: {', '.join(sorted(known))}")


def run_study(
    dataset: Dataset,
    settings: Settings,
    root: str | Path,
    trials: int = 20,
    objective: str = "ndcg@10",
    mode: str = "standard",
    space: Mapping[str, Knob] | None = None,
    second: str | None = None,
    max_context_tokens: float | None = None,
    held_out: float = 0.3,
    seed: int = 0,
    study_name: str | None = None,
    callbacks: Sequence[Callable[[Any, Any], None]] = (),
    top: int = 3,
) -> TuneResult:
    """Run (or resume) a study until it holds ``trials`` finished trials, then score the best on
    the held-out questions beside the default. ``max_context_tokens`` is a constraint on the mean.
    """
    import optuna

    _check_metric(objective)
    if second is not None and second not in SECOND_OBJECTIVES:
        raise ValueError(f"second objective must be one of {', '.join(SECOND_OBJECTIVES)}")
    space = dict(space or DEFAULT_SPACE)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tune, held = split_questions(dataset, held_out, seed)
    runner = TrialRunner(settings, dataset, root, needs_graph(space, mode))
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # before the study: no "created" line
    study = _open_study(root, study_name, objective, second, seed, tune, space, max_context_tokens)
    evaluate = _objective(runner, tune, space, mode, objective, second, max_context_tokens)
    finished = sum(t.state.is_finished() for t in study.trials)
    if trials > finished:
        study.optimize(evaluate, n_trials=trials - finished, callbacks=list(callbacks))
    result = TuneResult(study, tune, held, objective, runner)
    best = best_trials(study, top)
    if best:
        result.best_params = dict(best[0].params)
        result.rows = held_out_rows(runner, held, best, mode, objective, seed)
    return result


def _open_study(
    root: Path,
    name: str | None,
    objective: str,
    second: str | None,
    seed: int,
    tune: Dataset,
    space: Mapping[str, Knob],
    max_context_tokens: float | None,
) -> Any:
    import optuna

    multi = second is not None
    constraints = (
        (lambda t: (t.user_attrs.get("constraint", 0.0),))
        if max_context_tokens is not None
        else None
    )
    sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    study = optuna.create_study(
        storage=f"sqlite:///{root / 'study.sqlite3'}",
        study_name=name or f"{objective}{f'+{second}' if multi else ''}-{_digest(space)}",
        sampler=sampler,
        pruner=pruner if not multi else optuna.pruners.NopPruner(),
        directions=["maximize", "minimize"] if multi else ["maximize"],
        load_if_exists=True,
    )
    stamp = {
        "tune_ids": sorted(i.id for i in tune.items),
        "space": {k: v.to_dict() for k, v in space.items()},
    }
    if "setup" not in study.user_attrs:
        study.set_user_attr("setup", stamp)
    elif study.user_attrs["setup"] != stamp:
        raise ValueError(
            f"study {study.study_name!r} in {root} was started with other tune questions or "
            "another space: give another study name or root"
        )
    return study


def _digest(space: Mapping[str, Knob]) -> str:
    """Names a study after its space, so another space starts another study in the same storage."""
    text = json.dumps({k: v.to_dict() for k, v in sorted(space.items())}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _objective(
    runner: TrialRunner,
    tune: Dataset,
    space: Mapping[str, Knob],
    mode: str,
    objective: str,
    second: str | None,
    max_context_tokens: float | None,
) -> Callable[[Any], Any]:
    import optuna

    def evaluate(trial: Any) -> Any:
        started = time.perf_counter()
        params = {name: knob.suggest(trial) for name, knob in space.items()}
        index_params, overrides, tuned_mode = split_params(params)
        if index_params.get("chunk_overlap", 0) >= index_params.get(
            "chunk_size", runner.base.chunk_size
        ):
            raise optuna.TrialPruned("chunk_overlap must be smaller than chunk_size")
        rag, build = runner.open(index_params)
        with rag:
            for key, value in build.items():
                trial.set_user_attr(key, value)
            slices = np.array_split(np.arange(len(tune.items)), PRUNE_STEPS)
            parts: list[Scores] = []
            for step, part in enumerate(slices):
                items = [tune.items[i] for i in part]
                parts.append(runner.score(rag, items, tuned_mode or mode, overrides, [objective]))
                running = float(np.concatenate([p.values[objective] for p in parts]).mean())
                if second is None:
                    trial.report(running, step)
                    if trial.should_prune():
                        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
                        raise optuna.TrialPruned()
        scores = _concat(parts, build.get("provider_calls", 0))
        trial.set_user_attr("context_tokens", scores.mean("context_tokens"))
        trial.set_user_attr("latency_p95", scores.mean("latency_p95"))
        if max_context_tokens is not None:
            trial.set_user_attr("constraint", scores.mean("context_tokens") - max_context_tokens)
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        value = scores.mean(objective)
        return (value, scores.mean(second)) if second else value

    return evaluate


def _concat(parts: Sequence[Scores], provider_calls: int) -> Scores:
    names = set.intersection(*(set(p.values) for p in parts))
    return Scores(
        [i for p in parts for i in p.ids],
        {k: np.concatenate([p.values[k] for p in parts]) for k in names},
        provider_calls,
    )


def best_trials(study: Any, top: int = 3) -> list[Any]:
    """The Pareto front (two objectives) or the ``top`` best finished feasible trials (one)."""
    import optuna

    done = [
        t
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs.get("constraint", 0) <= 0
    ]
    if len(study.directions) > 1:
        return [t for t in study.best_trials if t in done]
    return sorted(done, key=lambda t: t.value, reverse=True)[:top]


def held_out_rows(
    runner: TrialRunner,
    held: Dataset,
    best: Sequence[Any],
    mode: str,
    objective: str,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The default and each best trial on the held-out questions, paired against the default."""
    with runner.open({})[0] as rag:
        default = runner.score(rag, held.items, mode, {}, [objective])
    rows = [_row("default", {}, None, default, objective, None, seed)]
    for trial in best:
        index_params, overrides, tuned_mode = split_params(trial.params)
        with runner.open(index_params)[0] as rag:
            scores = runner.score(rag, held.items, tuned_mode or mode, overrides, [objective])
        diff = compare(default.values[objective], scores.values[objective], seed=seed)
        tune_value = trial.values[0] if trial.values else None
        rows.append(
            _row(f"trial {trial.number}", trial.params, tune_value, scores, objective, diff, seed)
        )
    return rows


def _row(
    label: str,
    params: Mapping[str, Any],
    tune_value: float | None,
    scores: Scores,
    objective: str,
    diff: Comparison | None,
    seed: int,
) -> dict[str, Any]:
    ci = bootstrap_ci(scores.values[objective], seed=seed)
    return {
        "configuration": label,
        "params": dict(params),
        "tune": tune_value,
        "held_out": ci.estimate,
        "held_out_low": ci.low,
        "held_out_high": ci.high,
        "context_tokens": scores.mean("context_tokens"),
        "latency_p95_ms": scores.mean("latency_p95"),
        **({f"delta_{k}": v for k, v in diff.to_dict().items()} if diff else {}),
        "n": len(scores.ids),
    }


def best_settings(result: TuneResult) -> Settings:
    """The best trial's settings, ``data_dir`` on its index: ``SmolRag(best_settings(r))``."""
    index_params, overrides, _ = split_params(result.best_params)
    return result.runner.settings_for(index_params).replace(**overrides)
