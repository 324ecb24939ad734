"""``smolrag-lab compare`` (two benchmark runs, paired) and ``smolrag-lab tune`` (a study)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .query.planner import QUERY_TYPES
from .settings import Settings


def _compare_command(args: argparse.Namespace) -> int:
    from .eval.paired import compare_runs, compare_table, load_run

    run_a, run_b = load_run(args.run_a), load_run(args.run_b)
    rows = compare_runs(run_a, run_b, resamples=args.resamples, seed=args.seed)
    if not rows:
        raise ValueError("the two runs share no system and question: nothing to compare")
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"A: {args.run_a} ({run_a['dataset']})\nB: {args.run_b} ({run_b['dataset']})\n")
        print(compare_table(rows))
    return 0


def _tune_command(args: argparse.Namespace) -> int:
    from .eval import load_dataset
    from .eval.tune import run_study
    from .eval.tune_report import held_out_table, study_summary
    from .eval.tune_space import load_space

    dataset = load_dataset(args.dataset, args.corpus, limit=args.limit)
    settings = Settings.load(args.config)
    root = Path(args.study_dir)

    def progress(study: Any, trial: Any) -> None:
        if not args.quiet:
            value = trial.values[0] if trial.values else None
            shown = f"{value:.4f}" if value is not None else trial.state.name.lower()
            seconds = trial.user_attrs.get("seconds", 0)
            print(f"trial {trial.number}: {shown} ({seconds:.1f}s) {trial.params}", flush=True)

    result = run_study(
        dataset,
        settings,
        root,
        trials=args.trials,
        objective=args.objective,
        mode=args.mode,
        space=load_space(args.space) if args.space else None,
        second=args.second,
        max_context_tokens=args.max_context_tokens,
        held_out=args.held_out,
        seed=args.seed,
        study_name=args.study,
        callbacks=[progress],
    )
    summary = study_summary(result)
    (root / "tune.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    timing = summary["seconds_per_trial"]
    print(
        f"\n{summary['tune_questions']} tune / {summary['held_out_questions']} held-out questions; "
        f"trials {summary['states']}; {timing['mean']:.1f}s per trial on average\n"
    )
    print(held_out_table(result))
    print(f"\nresults: {root / 'tune.json'}; study: {root / 'study.sqlite3'}")
    return 0


def add_eval_commands(commands: Any) -> None:
    compare = commands.add_parser(
        "compare", help="two benchmark runs side by side: paired differences with 95%% intervals"
    )
    compare.add_argument("run_a", help="report.json of the reference run, or its folder")
    compare.add_argument("run_b", help="report.json of the other run, or its folder")
    compare.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(run=_compare_command)

    tune = commands.add_parser(
        "tune", help="search chunking and context settings (Optuna), checked on held-out questions"
    )
    tune.add_argument("--corpus", required=True, help="folder of documents")
    tune.add_argument("--dataset", required=True, help="JSONL of labelled questions")
    tune.add_argument(
        "--trials", type=int, default=20, help="finished trials the study should hold"
    )
    tune.add_argument("--objective", default="ndcg@10", help="metric to maximise (e.g. recall@5)")
    tune.add_argument("--mode", default="standard", choices=QUERY_TYPES)
    tune.add_argument("--space", help="JSON or TOML search space (default: chunk size, overlap, …)")
    tune.add_argument(
        "--second",
        choices=("context_tokens", "latency_p95", "provider_calls"),
        help="a second objective, minimised: the study reports a Pareto front",
    )
    tune.add_argument("--max-context-tokens", type=float, help="constraint on mean context tokens")
    tune.add_argument("--held-out", type=float, default=0.3, help="share of questions held out")
    tune.add_argument("--seed", type=int, default=0, help="split and sampler seed")
    tune.add_argument(
        "--study-dir", default="reports/tune", help="study storage, trial indexes and tune.json"
    )
    tune.add_argument("--study", help="study name (default: from the objectives)")
    tune.add_argument("--limit", type=int, help="only the first N questions")
    tune.add_argument("--quiet", action="store_true")
    tune.set_defaults(run=_tune_command)
