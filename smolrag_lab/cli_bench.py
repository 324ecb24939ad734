"""``smolrag-lab bench``: every mode and the baselines on a labelled dataset, or (``--options``,
``--load-test``) the optimisation options and concurrent clients.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .query.planner import QUERY_TYPES
from .query.retrieval import MODES
from .settings import Settings

if TYPE_CHECKING:
    from .eval.dataset import Dataset


def _bench_command(args: argparse.Namespace) -> int:
    """Without ``--data-dir`` the index (and any copies the options make beside it) lives in a
    temporary folder that is removed afterwards.
    """
    import tempfile

    if args.data_dir:
        return _bench_in(args, args.data_dir)
    with tempfile.TemporaryDirectory(prefix="smolrag-bench-") as scratch:
        return _bench_in(args, f"{scratch}/index")


def _bench_in(args: argparse.Namespace, data_dir: str) -> int:
    from .eval import answers_table, load_dataset, results_table, run_benchmark, write_reports

    dataset = load_dataset(args.dataset, args.corpus, limit=args.limit)
    settings = Settings.load(args.config, data_dir=data_dir)
    if args.options or args.load_test:
        return _options_command(args, dataset, settings)
    ks = [int(k) for k in args.k.split(",") if k.strip()]
    run = run_benchmark(
        dataset,
        settings,
        args.modes,
        ks,
        answer=not args.no_answer,
        progress=not args.quiet,
        judge_sample=args.judge,
    )
    files = write_reports(run, args.out, charts=not args.no_charts)
    print(results_table(run.report()))
    if answers := answers_table(run.report()):
        print("\n" + answers)
    if "modes" in run.judge:
        from .eval.judge import judge_table

        print("\n" + judge_table(run.judge))
    print("\n" + "\n".join(f"{name}: {path}" for name, path in files.items()))
    return 0


def _options_command(args: argparse.Namespace, dataset: Dataset, settings: Settings) -> int:
    from .engine import SmolRag
    from .eval.options import (
        compare_options,
        load_table,
        load_test,
        options_summary_table,
        options_table,
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    if args.options:
        results["options"] = compare_options(dataset, settings, progress=not args.quiet)
        print(
            options_table(results["options"]) + "\n\n" + options_summary_table(results["options"])
        )
    if args.load_test:
        with SmolRag(settings) as rag:
            rag.ingest(dataset.paths, progress=not args.quiet)
            results["load_test"] = load_test(rag, [item.query for item in dataset.items[:20]])
        print(load_table(results["load_test"]))
    (out / "options.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out / 'options.json'}")
    return 0


def add_bench_command(commands: Any) -> None:
    """bench, with its own --data-dir: by default the index is a throwaway one."""
    bench = commands.add_parser(
        "bench", help="benchmark every mode and the baselines on a labelled dataset"
    )
    bench.add_argument("--corpus", required=True, help="folder of documents")
    bench.add_argument(
        "--dataset", required=True, help="JSONL of {id, query, relevant: {document: grade}}"
    )
    bench.add_argument("--modes", nargs="+", default=list(MODES), choices=QUERY_TYPES)
    bench.add_argument("--k", default="1,3,5,10", help="cut-offs, comma-separated")
    bench.add_argument(
        "--out", default="reports/bench", help="folder for report.json, CSV, Markdown, charts"
    )
    bench.add_argument("--data-dir", help="index folder (default: a fresh temporary folder)")
    bench.add_argument("--limit", type=int, help="only the first N queries")
    bench.add_argument("--no-answer", action="store_true", help="time retrieval only")
    bench.add_argument("--no-charts", action="store_true")
    bench.add_argument(
        "--judge",
        type=int,
        default=0,
        metavar="N",
        help="with an endpoint configured: an LLM judges the first N answers of each mode, 3 runs",
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bars")
    bench.add_argument(
        "--options",
        action="store_true",
        help="compare every optimisation option (compression, PCA, pruning, parallel, auto) "
        "with the default",
    )
    bench.add_argument(
        "--load-test",
        action="store_true",
        help="1-16 concurrent clients: throughput, latency, errors",
    )
    bench.set_defaults(run=_bench_command)
