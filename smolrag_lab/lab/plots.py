"""Benchmark charts (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _systems(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**report["modes"], **{f"bm25 (baseline)" if k == "bm25" else f"{k} (baseline)": v
                                  for k, v in report["baselines"].items()}}


def plot_at_k(report: dict[str, Any], metric: str, ax: Any = None) -> Any:
    """``metric`` (precision, recall, hit, ndcg) at each cut-off, one line per system."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    for name, values in _systems(report).items():
        style = "--" if "baseline" in name else "-"
        ax.plot(report["ks"], [values.get(f"{metric}@{k}") for k in report["ks"]], style, marker="o", label=name)
    ax.set_xlabel("k")
    ax.set_ylabel(f"{metric}@k")
    ax.set_title(f"{metric}@k — {report['dataset']}")
    ax.set_xticks(report["ks"])
    ax.legend(fontsize=7)
    return ax


def plot_metric_bars(report: dict[str, Any], metric: str = "ndcg@10", ax: Any = None) -> Any:
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    systems = _systems(report)
    names = list(systems)
    ax.bar(names, [systems[n].get(metric) or 0 for n in names],
           color=["#999999" if "baseline" in n else "#3b75af" for n in names])
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by system — {report['dataset']}")
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_latency(report: dict[str, Any], ax: Any = None) -> Any:
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    systems = _systems(report)
    names = list(systems)
    for i, key in enumerate(("p50", "p95", "max")):
        ax.bar([j + i * 0.27 for j in range(len(names))], [systems[n]["latency_ms"][key] for n in names],
               width=0.27, label=key)
    ax.set_xticks([j + 0.27 for j in range(len(names))], names, rotation=30)
    ax.set_ylabel("retrieval latency (ms)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(f"Retrieval latency — {report['dataset']}")
    return ax


def plot_ingest_stages(report: dict[str, Any], ax: Any = None) -> Any:
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    stages = report["ingest"].get("stage_seconds", {})
    ax.barh(list(stages), list(stages.values()), color="#3b75af")
    ax.set_xlabel("seconds (summed over documents)")
    ax.set_title(f"Ingestion time by stage — {report['dataset']}")
    return ax


def save_benchmark_charts(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    charts = {
        "precision_recall_at_k": lambda: _pair(report),
        "ndcg": lambda: plot_metric_bars(report, "ndcg@10").figure,
        "latency": lambda: plot_latency(report).figure,
        "ingest_stages": lambda: plot_ingest_stages(report).figure,
    }
    files = {}
    for name, make in charts.items():
        figure = make()
        figure.tight_layout()
        files[name] = out / f"{name}.png"
        figure.savefig(files[name], dpi=110)
        plt.close(figure)
    return files


def _pair(report: dict[str, Any]) -> Any:
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    plot_at_k(report, "precision", left)
    plot_at_k(report, "recall", right)
    return figure
