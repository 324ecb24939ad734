"""Cold start: what a new process pays before its first answer. Times ``python -c "import
smolrag_lab"`` and a whole-process ``smolrag-lab query`` in every mode on an existing demo-corpus
index (built first, offline, when ``--data-dir`` holds none), the query cache and the embedding
cache off so that each run does a new question's whole work. Each figure is the median of
``--runs`` processes, with its min and max; ``--root`` runs another source tree (an older commit's
worktree) with the same interpreter, for a before/after from one run. Give each tree its own
``--data-dir`` (or none): trees whose index settings differ refuse each other's index.

usage: python -m benchmarks.cold_start [--data-dir DIR] [--runs 5] [--root PATH] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "smolrag_docs"
MODES = ("standard", "local_kg", "global_kg", "hybrid_kg", "mix")
QUESTION = "How does the query cache decide that a stored answer is still valid?"
IMPORT_TOP = 8  # modules listed from -X importtime


def _env(root: Path | None) -> dict[str, str]:
    env = {**os.environ, "SMOLRAG_QUERY_CACHE": "false", "SMOLRAG_EMBEDDING_CACHE": "false"}
    # The tree is found first from both: sys.path[0] is the working directory under -m and -c, and
    # PYTHONPATH comes before the editable install's finder.
    env["PYTHONPATH"] = str((root or ROOT).resolve())
    return env


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, cwd=env["PYTHONPATH"], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stdout


def _spread(seconds: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


def import_times(runs: int, env: dict[str, str]) -> dict:
    """Whole-process ``import smolrag_lab`` and a bare interpreter's start, the heaviest imports."""
    bare = [_timed([sys.executable, "-c", "pass"], env)[0] for _ in range(runs)]
    full = [_timed([sys.executable, "-c", "import smolrag_lab"], env)[0] for _ in range(runs)]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import smolrag_lab"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = [line.split("|") for line in done.stderr.splitlines() if line.count("|") == 2]
    cumulative = sorted(
        ((int(r[1]), r[2].strip()) for r in rows if r[1].strip().isdigit()), reverse=True
    )
    return {
        "interpreter": _spread(bare),
        "import_smolrag_lab": _spread(full),
        "importtime_top_us": [
            {"module": module, "cumulative_us": us} for us, module in cumulative[:IMPORT_TOP]
        ],
    }


def query_times(data_dir: Path, runs: int, env: dict[str, str]) -> dict:
    """Per mode: the whole process's wall time, and the query's own steps from ``--json``."""
    modes = {}
    for mode in MODES:
        command = [sys.executable, "-m", "smolrag_lab.cli", "query", "--json"]
        command += ["--data-dir", str(data_dir), "--mode", mode, QUESTION]
        walls, steps = [], []
        for _ in range(runs):
            wall, stdout = _timed(command, env)
            walls.append(wall)
            steps.append(json.loads(stdout)["timings_ms"])
        in_query_s = statistics.median(s["total_ms"] for s in steps) / 1000
        modes[mode] = {
            **_spread(walls),
            "query_s": round(in_query_s, 3),
            "answer_s": round(statistics.median(s.get("answer_ms", 0.0) for s in steps) / 1000, 3),
            "outside_query_s": round(statistics.median(walls) - in_query_s, 3),
        }
    return modes


def ensure_index(data_dir: Path, env: dict[str, str]) -> float | None:
    """Ingest the demo corpus into ``data_dir`` unless it already holds an index; seconds taken."""
    if (data_dir / "index.sqlite").exists():
        return None
    command = [sys.executable, "-m", "smolrag_lab.cli", "ingest", "--data-dir", str(data_dir)]
    return round(_timed([*command, str(CORPUS)], env)[0], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=None, help="source tree to run instead")
    parser.add_argument("--out", default=default_out("cold_start"))
    args = parser.parse_args()
    env = _env(args.root)
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch) / "index"
        ingest_s = ensure_index(data_dir, env)
        result = {
            "runs": args.runs,
            "root": str(args.root) if args.root else None,
            "question": QUESTION,
            "demo_ingest_s": ingest_s,
            **import_times(args.runs, env),
            "query": query_times(data_dir, args.runs, env),
        }
    publish(result, args.out)


if __name__ == "__main__":
    main()
