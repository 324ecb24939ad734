"""``smolrag-lab`` commands on one index: ingest, rebuild, query, delete, stats, check, export.

What they print may hold document names and model output, so it goes through :func:`_safe`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from .query.planner import QUERY_TYPES
from .settings import Settings

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
        report = rag.ingest(args.paths, progress=not args.quiet)  # bars on stderr, JSON on stdout
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


def add_index_commands(commands: Any) -> argparse.ArgumentParser:
    """ingest, rebuild, query, delete, stats, check, export; returns their shared --data-dir/--json
    parent parser (``serve`` takes it too).
    """
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir", help="index folder (default: $SMOLRAG_DATA_DIR or ~/.local/share/smolrag_lab)"
    )
    data_dir.add_argument("--json", action="store_true", help="print JSON")
    _add_content_commands(commands, data_dir)
    _add_maintenance_commands(commands, data_dir)
    return data_dir


def _add_content_commands(commands: Any, data_dir: argparse.ArgumentParser) -> None:
    """ingest, rebuild, query, delete: what goes into the index and what comes out of it."""
    ingest = commands.add_parser("ingest", parents=[data_dir], help="ingest files and folders")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="if the index was built with other index settings, re-process it under these first",
    )
    ingest.add_argument(
        "--quiet", action="store_true", help="no progress bars (on stderr, also with --json)"
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


def _add_maintenance_commands(commands: Any, data_dir: argparse.ArgumentParser) -> None:
    """stats, check, export: inspecting an index (``check --repair`` re-derives what it can)."""
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
