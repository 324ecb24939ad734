"""Charts for the notebooks and the benchmark report (matplotlib; headless where there is no
display).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (and in grey print).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
plt.rcParams["axes.prop_cycle"] = plt.cycler(color=OKABE_ITO)


def _legend_outside(ax: Any, **kwargs: Any) -> None:
    """The legend right of the axes, never over the data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs)


def _systems(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        **report["modes"],
        **{
            "bm25 (baseline)" if k == "bm25" else f"{k} (baseline)": v
            for k, v in report["baselines"].items()
        },
    }


def plot_at_k(report: dict[str, Any], metric: str, ax: Any = None) -> Any:
    """``metric`` (precision, recall, hit, ndcg) at each cut-off, one line per system. Systems that
    score alike would hide each other, so each has its own marker and a small sideways offset.
    """
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    systems = _systems(report)
    ks = np.arange(len(report["ks"]), dtype=float)
    offsets = np.linspace(-0.12, 0.12, len(systems)) if len(systems) > 1 else [0.0]
    for i, (name, values) in enumerate(systems.items()):
        ax.plot(
            ks + offsets[i],
            [values.get(f"{metric}@{k}") for k in report["ks"]],
            "--" if "baseline" in name else "-",
            marker=_MARKERS[i % len(_MARKERS)],
            color=OKABE_ITO[i % len(OKABE_ITO)],
            markersize=5,
            alpha=0.9,
            label=name,
        )
    ax.set_xlabel("k")
    ax.set_ylabel(f"{metric}@k")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{metric}@k — {report['dataset']}")
    ax.set_xticks(ks, [str(k) for k in report["ks"]])
    _legend_outside(ax, fontsize=7)
    return ax


def plot_metric_bars(report: dict[str, Any], metric: str = "ndcg@10", ax: Any = None) -> Any:
    """Bars with their 95% intervals (when the report has them); hatched: within noise of the
    reference system.
    """
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    systems = _systems(report)
    names = list(systems)
    means = [systems[n].get(metric) or 0 for n in names]
    cis = [systems[n].get("ci", {}).get(metric) for n in names]
    errors = None
    if all(cis):
        errors = [
            [max(0.0, m - c[0]) for m, c in zip(means, cis, strict=True)],
            [max(0.0, c[1] - m) for m, c in zip(means, cis, strict=True)],
        ]
    bars = ax.bar(
        names,
        means,
        yerr=errors,
        capsize=3,
        color=["#999999" if "baseline" in n else OKABE_ITO[0] for n in names],
    )
    for bar, name in zip(bars, names, strict=True):
        if systems[name].get("vs_reference", {}).get(metric, {}).get("within_noise"):
            bar.set_hatch("//")
    ax.set_ylabel(metric)
    reference = report.get("reference")
    noise = f"; hatched: within noise of {reference}" if reference else ""
    ax.set_title(f"{metric} by system — {report['dataset']}{noise}", fontsize=9)
    ax.tick_params(axis="x", rotation=30)
    return ax


def plot_latency(report: dict[str, Any], ax: Any = None) -> Any:
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    systems = _systems(report)
    names = list(systems)
    for i, key in enumerate(("p50", "p95", "max")):
        ax.bar(
            [j + i * 0.27 for j in range(len(names))],
            [systems[n]["latency_ms"][key] for n in names],
            width=0.27,
            label=key,
        )
    ax.set_xticks([j + 0.27 for j in range(len(names))], names, rotation=30)
    ax.set_ylabel("retrieval latency (ms)")
    ax.set_yscale("log")
    _legend_outside(ax)
    ax.set_title(f"Retrieval latency (log scale) — {report['dataset']}")
    return ax


def plot_ingest_stages(report: dict[str, Any], ax: Any = None) -> Any:
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    stages = report["ingest"].get("stage_seconds", {})
    ax.barh(list(stages), list(stages.values()), color=OKABE_ITO[0])
    ax.set_xlabel("seconds (summed over documents)")
    ax.set_title(f"Ingestion time by stage — {report['dataset']}")
    return ax


def save_benchmark_charts(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    charts = {
        "precision_recall_at_k": lambda: plot_precision_recall(report),
        "ndcg": lambda: plot_metric_bars(report, "ndcg@10").figure,
        "latency": lambda: plot_latency(report).figure,
        "ingest_stages": lambda: plot_ingest_stages(report).figure,
        "provider_calls": lambda: plot_provider_calls(report).figure,
    }
    if any("groundedness" in v for v in report["modes"].values()):
        charts["answer_quality"] = lambda: plot_answer_quality(report).figure
    files = {}
    for name, make in charts.items():
        figure = make()
        if figure.get_layout_engine() is None:  # a constrained figure keeps its outside legend
            figure.tight_layout()
        files[name] = out / f"{name}.png"
        figure.savefig(files[name], dpi=110)
        plt.close(figure)
    return files


ANSWER_CHART_METRICS = (
    "answer_f1",
    "semantic_f1",
    "span_recall",
    "groundedness",
    "citation_precision",
)


def plot_answer_quality(report: dict[str, Any], ax: Any = None) -> Any:
    """Grouped bars: each mode's answer metrics (without references, the reference-free ones)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    modes = report["modes"]
    metrics = [m for m in ANSWER_CHART_METRICS if any(v.get(m) is not None for v in modes.values())]
    width = 0.8 / max(len(metrics), 1)
    for i, metric in enumerate(metrics):
        xs = [j + i * width for j in range(len(modes))]
        ax.bar(
            xs,
            [v.get(metric) or 0 for v in modes.values()],
            width,
            label=metric,
            color=OKABE_ITO[i % len(OKABE_ITO)],
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(modes))], list(modes), rotation=30)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"answer quality by mode — {report['dataset']}")
    _legend_outside(ax, fontsize=7)
    return ax


def plot_answer_vs_context(frame: pd.DataFrame, metric: str = "answer_f1", ax: Any = None) -> Any:
    """A sweep's answer quality against the context tokens it cost, one line per index value."""
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    index_setting, query_setting = frame.columns[0], frame.columns[1]
    for value, rows in frame.groupby(index_setting):
        rows = rows.sort_values("context_tokens")
        ax.plot(rows["context_tokens"], rows[metric], marker="o", label=f"{index_setting}={value}")
        for _, row in rows.iterrows():
            ax.annotate(str(row[query_setting]), (row["context_tokens"], row[metric]), fontsize=7)
    ax.set_xlabel("context tokens (mean)")
    ax.set_ylabel(metric)
    ax.set_xlim(left=0)
    ax.set_ylim(0, max(1.0, float(frame[metric].max())) * 1.05)  # from zero: no exaggerated slope
    ax.set_title(f"{metric} against context size, by {query_setting}")
    _legend_outside(ax, fontsize=7)
    return ax


def plot_precision_recall(report: dict[str, Any]) -> Any:
    """Precision and recall at k side by side, with one legend for both outside them."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
    plot_at_k(report, "precision", left)
    plot_at_k(report, "recall", right)
    handles, labels = left.get_legend_handles_labels()
    for ax in (left, right):
        ax.get_legend().remove()
    figure.legend(handles, labels, loc="outside right center", fontsize=8)
    return figure


def plot_excerpt_lengths(
    tokens: Sequence[int], chunk_size: int | None = None, ax: Any = None
) -> Any:
    """Histogram of excerpt sizes in tokens, with the configured chunk size marked."""
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    ax.hist(list(tokens), bins=30, color=OKABE_ITO[0])
    if chunk_size:
        ax.axvline(chunk_size, color=OKABE_ITO[5], linestyle="--", label=f"chunk_size {chunk_size}")
        ax.legend()
    ax.set_xlabel("tokens per excerpt")
    ax.set_ylabel("excerpts")
    ax.set_title("Excerpt length distribution")
    return ax


def plot_stage_profile(profile: dict[str, Any]) -> Any:
    """Ingestion: seconds per stage, peak memory while each stage ran, and the memory timeline."""
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.2))
    stages = profile.get("stage_seconds", {})
    left.barh(list(stages), list(stages.values()), color=OKABE_ITO[0])
    left.set_xlabel("seconds (summed over documents)")
    left.set_title("Time by stage")
    peaks = profile.get("stage_peak_memory_mb", {})
    middle.barh(list(peaks), list(peaks.values()), color=OKABE_ITO[1])
    middle.set_xlabel("MB (peak RSS while running)")
    middle.set_title("Memory by stage")
    timeline = profile.get("memory_timeline", [])
    right.plot([t for t, _ in timeline], [m for _, m in timeline], color=OKABE_ITO[2])
    right.set_xlabel("seconds")
    right.set_ylabel("RSS MB")
    right.set_title(f"Memory over time (peak {profile.get('peak_memory_mb', 0):.0f} MB)")
    figure.tight_layout()
    return figure


def plot_degree_distribution(distribution: pd.Series, ax: Any = None) -> Any:
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    connected = distribution[distribution.index > 0]
    ax.loglog(connected.index, connected.values, "o", color=OKABE_ITO[0])
    ax.set_xlabel("degree")
    ax.set_ylabel("entities")
    ax.set_title(
        f"Degree distribution (log-log; {int(distribution.get(0, 0))} isolated entities not shown)"
    )
    return ax


def plot_provider_calls(report: dict[str, Any], ax: Any = None) -> Any:
    """Provider calls and cache hits per task during ingestion."""
    ax = ax or plt.subplots(figsize=(6, 3))[1]
    stats = report["ingest"].get("provider_stats", {})
    tasks = list(stats)
    calls = [stats[t].get("calls", 0) for t in tasks]
    hits = [stats[t].get("cache_hits", 0) for t in tasks]
    ax.barh(tasks, calls, color=OKABE_ITO[0], label="calls")
    ax.barh(tasks, hits, left=calls, color=OKABE_ITO[1], label="cache hits")
    ax.set_xlabel("count")
    ax.set_title(f"Provider calls during ingestion — {report['dataset']}")
    _legend_outside(ax)
    return ax


def plot_heatmap(matrix: pd.DataFrame, metric: str, ax: Any = None) -> Any:
    """A sweep grid (rows: ingestion setting, columns: query setting) coloured by ``metric``
    (cividis, readable with colour-vision deficiencies); each number is dark on light cells and
    light on dark ones.
    """
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    values = matrix.values.astype(float)
    image = ax.imshow(values, cmap="cividis", aspect="auto")
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns])
    ax.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index])
    ax.set_xlabel(str(matrix.columns.name))
    ax.set_ylabel(str(matrix.index.name))
    for (row, col), value in pd.DataFrame(values).stack().items():
        red, green, blue, _ = image.cmap(image.norm(value))
        light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
        ax.text(
            col,
            row,
            text,
            ha="center",
            va="center",
            fontsize=9,
            color="black" if light else "white",
        )
    ax.figure.colorbar(image, ax=ax, label=metric)
    ax.set_title(f"{metric} by {matrix.index.name} x {matrix.columns.name}")
    return ax


def plot_mode_latency(table: pd.DataFrame, ax: Any = None) -> Any:
    """Warm latency per mode (median of repeated runs, query cache off), from
    :func:`smolrag_lab.lab.render.compare_modes`; the cold first run is drawn apart, as a marker, so
    one mode's start-up cost does not pass for its query cost.
    """
    ax = ax or plt.subplots(figsize=(7, 3))[1]
    ax.barh(table["mode"], table["warm total ms"], color=OKABE_ITO[1], label="warm total")
    ax.barh(table["mode"], table["warm retrieval ms"], color=OKABE_ITO[0], label="warm retrieval")
    ax.plot(table["cold start ms"], table["mode"], "k|", markersize=14, label="cold first run")
    ax.set_xlabel("ms")
    ax.set_xlim(0, max(table["warm total ms"].max(), 1) * 1.15)
    for y, cold in enumerate(table["cold start ms"]):
        if cold > ax.get_xlim()[1]:
            ax.annotate(
                f"cold {cold:,.0f} ms →", (ax.get_xlim()[1], y), ha="right", va="center", fontsize=8
            )
    _legend_outside(ax)
    ax.set_title("Latency by mode (warm: median of repeats; cold start apart)")
    return ax


def plot_monitor(summary: dict[str, dict[str, float]]) -> Any:
    """``PerformanceMonitor.summary()``: wall time p50/p95 and CPU time per operation."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 0.4 * len(summary) + 1.5))
    names = list(summary)
    left.barh(names, [summary[n]["wall_ms_p95"] for n in names], color=OKABE_ITO[1], label="p95")
    left.barh(names, [summary[n]["wall_ms_p50"] for n in names], color=OKABE_ITO[0], label="p50")
    left.set_xscale("log")
    left.set_xlabel("wall ms per operation")
    left.legend()
    right.barh(names, [summary[n]["cpu_s_total"] for n in names], color=OKABE_ITO[2])
    right.set_xlabel("CPU seconds, all calls")
    right.set_yticks([])
    figure.suptitle("PerformanceMonitor: every ingestion stage and query")
    figure.tight_layout()
    return figure


def plot_options(rows: Sequence[dict[str, Any]], metric: str = "ndcg@10") -> Any:
    """Left: each option's change in ``metric`` per mode against the default (an option that applies
    to fewer modes has fewer bars); right: its p50 latency. The legend sits below, outside the data.
    """
    table = pd.DataFrame([r for r in rows if r["option"] != "default"])
    options = table["option"].unique()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.45 * len(options) + 2.5), sharey=True)
    changes = table.pivot_table(
        index="option", columns="mode", values=f"delta_{metric}", sort=False
    )
    changes.plot.barh(ax=left, width=0.8, legend=False)
    left.axvline(0, color="black", linewidth=0.8)
    bound = float(np.nanmax(np.abs(changes.values))) if changes.size else 0.0
    left.set_xlim(
        -max(bound, 0.01) * 1.15, max(bound, 0.01) * 1.15
    )  # symmetric: no sign looks bigger
    left.set_xlabel(f"change in {metric} against the default")
    latency = table.pivot_table(index="option", columns="mode", values="p50_ms", sort=False)
    latency.plot.barh(ax=right, width=0.8, legend=False)
    right.set_xlim(left=0)
    right.set_xlabel("p50 retrieval latency (ms)")
    left.invert_yaxis()
    handles, labels = left.get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        title="mode",
        loc="lower center",
        ncol=len(labels),
        bbox_to_anchor=(0.5, 0.0),
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_load_test(rows: Sequence[dict[str, Any]]) -> Any:
    """Throughput and latency against concurrent clients, both axes from zero (a small difference
    stays small on screen).
    """
    table = pd.DataFrame(rows).set_index("clients")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    table["throughput_qps"].plot(ax=left, marker="o", color=OKABE_ITO[0])
    left.set_ylabel("queries per second")
    table[["p50_ms", "p95_ms"]].plot(ax=right, marker="o", color=OKABE_ITO[1:3])
    right.set_ylabel("latency (ms)")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(table.index), [str(c) for c in table.index])
        ax.set_xlabel("concurrent clients")
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
    fig.tight_layout()
    return fig
