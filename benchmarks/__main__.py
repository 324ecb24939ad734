"""Run every benchmark in turn: ``python -m benchmarks`` (or ``make bench``). Each prints its
figures and writes ``benchmarks/results/<name>.json``; this prints how long each took."""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = (
    "embedder",
    "vector_search",
    "query_overhead",
    "reruns",
    "cold_start",
    "ingest_cost",
    "doc_scaling",
    "demo_qa",
    "tune_speed",
)


def main() -> int:
    failed = []
    for name in sys.argv[1:] or BENCHMARKS:
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"])
        print(
            f"== benchmarks.{name}: exit {code} in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        if code:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
