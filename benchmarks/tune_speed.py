"""Tuner speed: a fresh N-trial study (default 20) over chunk size, overlap, excerpt_top_k and the
excerpt token budget on the demo set, objective ``standard`` nDCG@10 (target: 20 trials in 5 minutes
on 2 cores). Prints the wall time, the time per trial, how many trials reused an index, and the
held-out comparison; the machine's load average is recorded beside them, since a shared machine
slows every figure down.

usage: python -m benchmarks.tune_speed [--trials 20] [--dataset Q.jsonl --corpus DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings
from smolrag_lab.eval import load_dataset
from smolrag_lab.eval.tune import run_study
from smolrag_lab.eval.tune_report import held_out_table, study_summary

SHARED = Path("/work/shared")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--dataset", default=str(SHARED / "eval" / "smolrag_docs_qa.jsonl"))
    parser.add_argument("--corpus", default=str(SHARED / "corpus" / "smolrag_docs"))
    parser.add_argument("--keep", help="study folder to keep (default: a temporary one)")
    parser.add_argument("--study", help="study name, to resume one in a kept folder")
    parser.add_argument("--out", default=default_out("tune_speed"))
    args = parser.parse_args()
    dataset = load_dataset(args.dataset, args.corpus)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="smolrag-tune-"))
    load_before = os.getloadavg()
    resumed = _finished_trials(root)
    started = time.perf_counter()
    try:
        settings = Settings(log_to_file=False)
        result = run_study(dataset, settings, root, trials=args.trials, study_name=args.study)
        wall = time.perf_counter() - started
        summary = study_summary(result)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    trials = summary["trials"]
    print(held_out_table(result))
    publish(
        {
            "dataset": dataset.name,
            "trials": args.trials,
            "objective": "standard ndcg@10",
            "wall_seconds": round(wall, 1),
            "trials_before_this_run": resumed,  # > 0: a resumed study; wall covers the rest only
            "trial_seconds_total": summary["seconds_per_trial"]["total"],
            "seconds_per_trial": summary["seconds_per_trial"],
            "trials_reusing_an_index": sum(bool(t["index_reused"]) for t in trials),
            "states": summary["states"],
            "held_out": summary["held_out"],
            "cpu_count": os.cpu_count(),
            "load_average_before": [round(x, 1) for x in load_before],
            "load_average_after": [round(x, 1) for x in os.getloadavg()],
            "note": "a shared machine: other processes ran alongside (see the load averages)",
        },
        args.out,
    )


def _finished_trials(root: Path) -> int:
    """Trials already in a kept study folder (the benchmark then resumes that study)."""
    storage = root / "study.sqlite3"
    if not storage.exists():
        return 0
    import optuna

    names = optuna.get_all_study_names(f"sqlite:///{storage}")
    return sum(
        t.state.is_finished()
        for name in names
        for t in optuna.load_study(study_name=name, storage=f"sqlite:///{storage}").trials
    )


if __name__ == "__main__":
    main()
