"""The JSON of ``benchmarks.retrieval_sets``: intervals, before/after tables, paired comparisons and
the goals of issue 21; and the README's Markdown tables generated from that JSON.

usage: python -m benchmarks.retrieval_report [benchmarks/results/retrieval.json]  (prints Markdown)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from smolrag_lab.eval.stats import bootstrap_ci, compare

METRICS = ("ndcg@10", "recall@10", "mrr")
ROWS = (
    "standard",
    "local_kg",
    "global_kg",
    "hybrid_kg",
    "mix",
    "baseline: bm25",
    "baseline: dense",
)
Systems = dict[str, dict[str, dict[str, list]]]


def _interval(values: list[float]) -> dict[str, float]:
    ci = bootstrap_ci(values)
    return {"mean": round(ci.estimate, 4), "low": round(ci.low, 4), "high": round(ci.high, 4)}


def _rows(standard: str, mix: str) -> dict[str, str]:
    """Table row -> the measured system it shows."""
    fixed = {r: r for r in ROWS if r not in ("standard", "mix")}
    return {"standard": f"standard | {standard}", "mix": mix, **fixed}


def _comparison(found: dict[str, dict[str, list]], reference: str, candidate: str) -> dict:
    return {
        m: {
            k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in compare(found[reference][m], found[candidate][m]).to_dict().items()
        }
        for m in METRICS
    }


def _goals(systems: Systems, after: dict[str, str]) -> dict[str, Any]:
    """Each goal per set, from paired comparisons on nDCG@10 ("within the interval": the interval of
    the difference reaches zero or above)."""
    per_set: dict[str, Any] = {}
    for name, found in systems.items():
        value = {
            row: float(sum(found[s]["ndcg@10"]) / len(found[s]["ndcg@10"]))
            for row, s in after.items()
        }
        better = max(("baseline: bm25", "baseline: dense"), key=lambda b: value[b])
        vs_better = compare(found[after[better]]["ndcg@10"], found[after["standard"]]["ndcg@10"])
        mix = compare(found[after["standard"]]["ndcg@10"], found[after["mix"]]["ndcg@10"])
        graph = {
            m: compare(found["baseline: bm25"]["ndcg@10"], found[m]["ndcg@10"]).difference.high >= 0
            for m in ("local_kg", "global_kg", "hybrid_kg", "mix")
        }
        per_set[name] = {
            "standard_not_worse_than_better_baseline": vs_better.difference.high >= 0,
            "better_baseline": better,
            "standard_above_both_baselines": value["standard"]
            > max(value["baseline: bm25"], value["baseline: dense"]),
            "mix_not_worse_than_standard": mix.difference.high >= 0,
            "mix_significantly_better": mix.difference.low > 0,
            "graph_modes_not_worse_than_bm25": graph,
        }
    sets = per_set.values()
    return {
        "per_set": per_set,
        "standard_never_worse": all(s["standard_not_worse_than_better_baseline"] for s in sets),
        "standard_above_both_on_two_sets": sum(s["standard_above_both_baselines"] for s in sets)
        >= 2,
        "mix_never_worse": all(s["mix_not_worse_than_standard"] for s in sets),
        "mix_significantly_better_somewhere": any(s["mix_significantly_better"] for s in sets),
        "graph_modes_never_worse_than_bm25": all(
            all(s["graph_modes_not_worse_than_bm25"].values()) for s in sets
        ),
        "cranfield_standard_ndcg10_at_least_0.42": (
            float(sum(systems["cranfield"][after["standard"]]["ndcg@10"]))
            / len(systems["cranfield"][after["standard"]]["ndcg@10"])
            >= 0.42
            if "cranfield" in systems
            else None
        ),
    }


def report(
    systems: Systems,
    info: dict[str, Any],
    standard_lodo: dict[str, Any],
    mix_lodo: dict[str, Any],
    previous: dict[str, Any],
    kept: dict[str, Any],
    kept_graph: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    before = _rows(standard_lodo["previous"], "mix | previous | append")
    after = _rows(standard_lodo["kept"], f"mix | kept | {mix_lodo['kept']}")
    return {
        "command": "python -m benchmarks.retrieval_sets " + " ".join(sys.argv[1:]),
        "metrics": list(METRICS),
        "confidence": 0.95,
        "interval": "percentile bootstrap over questions, 2000 resamples, seed 0",
        "sets": info,
        "defaults": {"previous": previous, "kept": {**kept, **kept_graph}},
        "rows": {"before": before, "after": after},
        "systems": {
            name: {system: {m: _interval(v[m]) for m in METRICS} for system, v in found.items()}
            for name, found in systems.items()
        },
        "comparisons": {
            name: {
                "after vs before: standard": _comparison(
                    found, before["standard"], after["standard"]
                ),
                "after vs before: mix": _comparison(found, before["mix"], after["mix"]),
                "standard vs baseline: dense": _comparison(
                    found, "baseline: dense", after["standard"]
                ),
                "standard vs baseline: bm25": _comparison(
                    found, "baseline: bm25", after["standard"]
                ),
                "mix vs standard": _comparison(found, after["standard"], after["mix"]),
                **{
                    f"{m} vs baseline: bm25": _comparison(found, "baseline: bm25", m)
                    for m in ("local_kg", "global_kg", "hybrid_kg")
                },
            }
            for name, found in systems.items()
        },
        "lodo": {"standard": standard_lodo, "mix_graph": mix_lodo},
        "goals": {"before": _goals(systems, before), "after": _goals(systems, after)},
    }


def _cell(interval: dict[str, float]) -> str:
    return f"{interval['mean']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"


def markdown(result: dict[str, Any]) -> str:
    """Per set, before and after side by side; then the leave-one-dataset-out tables."""
    out = []
    for name, found in result["systems"].items():
        n = result["sets"][name]["queries"]
        out += [f"**{name}** ({n} questions; mean [95% interval]):", ""]
        head = " | ".join(f"{m} before | {m} after" for m in METRICS)
        out += [f"| system | {head} |", "|---|" + "---|" * (2 * len(METRICS))]
        for row in ROWS:
            b, a = found[result["rows"]["before"][row]], found[result["rows"]["after"][row]]
            cells = " | ".join(f"{_cell(b[m])} | {_cell(a[m])}" for m in METRICS)
            out.append(f"| {row} | {cells} |")
        out.append("")
    for lever, table in result["lodo"].items():
        out += [
            f"Leave-one-dataset-out, {lever} (previous: `{table['previous']}`; kept: "
            f"`{table['kept']}`):",
            "",
        ]
        out += [
            "| left out | chosen on the others | its nDCG@10 there | previous | Δ [95%] | wins |",
            "|---|---|---|---|---|---|",
        ]
        for f in table["folds"]:
            out.append(
                f"| {f['left_out']} | {f['chosen']} | {f['left_out_score']:.3f} | "
                f"{f['previous_score']:.3f} | {f['delta']:+.3f} [{f['delta_low']:+.3f}, "
                f"{f['delta_high']:+.3f}] | {'yes' if f['wins'] else 'no'} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(
        sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("results") / "retrieval.json"
    )
    print(markdown(json.loads(path.read_text())))
