"""Shared by the benchmarks: print the figures and write them, with the machine they came from, to a
JSON file that the README's tables are generated from (``benchmarks/readme.py``)."""

from __future__ import annotations

import datetime
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")
# Libraries whose version moves the figures: recorded beside every result.
LIBRARIES = ("smolrag_lab", "numpy", "onnxruntime", "usearch", "bm25s", "networkx", "tiktoken")


def default_out(name: str) -> str:
    return str(RESULTS / f"{name}.json")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU model, cores, Python and library versions: where a result was measured."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "libraries": versions,
        "measured_at": datetime.date.today().isoformat(),
    }


def publish(result: dict, out: str | Path) -> None:
    result = {**result, "machine": machine()}
    print(json.dumps(result, indent=2))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
