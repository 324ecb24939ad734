"""Shared by the benchmarks: print the figures and write them to a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).with_name("results")


def default_out(name: str) -> str:
    return str(RESULTS / f"{name}.json")


def publish(result: dict, out: str | Path) -> None:
    print(json.dumps(result, indent=2))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
