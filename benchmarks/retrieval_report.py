"""The JSON of ``benchmarks.retrieval_sets``: intervals, before/after tables, paired comparisons and
the goals of issue 21; and the README's Markdown tables generated from that JSON.

usage: python -m benchmarks.retrieval_report [benchmarks/results/retrieval.json]  (prints Markdown)
"""

from __future__ import annotations

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


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values))


def _not_worse(found: dict, reference: str, candidate: str) -> dict[str, bool] | None:
    """nDCG@10 of ``candidate`` against ``reference``: not worse (the 95% interval of the paired
    difference reaches zero or above) and significantly better (it lies above zero); None when
    either was not measured."""
    if reference not in found or candidate not in found:
        return None
    diff = compare(found[reference]["ndcg@10"], found[candidate]["ndcg@10"]).difference
    return {"not_worse": diff.high >= 0, "better": diff.low > 0}


def _goals(systems: Systems, rows: dict[str, str]) -> dict[str, Any]:
    """Each goal of issue 21 per set (None where a system was not measured), then over the sets."""
    per_set: dict[str, Any] = {}
    for name, found in systems.items():
        value = {row: _mean(found[s]["ndcg@10"]) for row, s in rows.items() if s in found}
        better = max(("baseline: bm25", "baseline: dense"), key=lambda b: value[b])
        mix = _not_worse(found, rows["standard"], rows["mix"])
        per_set[name] = {
            "better_baseline": better,
            "standard_vs_better_baseline": _not_worse(found, better, rows["standard"]),
            "standard_above_both_baselines": value["standard"]
            > max(value["baseline: bm25"], value["baseline: dense"]),
            "mix_vs_standard": mix,
            "graph_modes_vs_bm25": {
                m: _not_worse(found, "baseline: bm25", rows[m])
                for m in ("local_kg", "global_kg", "hybrid_kg", "mix")
            },
        }
    sets = list(per_set.values())
    mixes = [s["mix_vs_standard"] for s in sets if s["mix_vs_standard"]]
    graphs = [g for s in sets for g in s["graph_modes_vs_bm25"].values() if g]
    cranfield = systems.get("cranfield", {}).get(rows["standard"])
    return {
        "per_set": per_set,
        "standard_never_worse": all(s["standard_vs_better_baseline"]["not_worse"] for s in sets),
        "standard_above_both_on_two_sets": sum(s["standard_above_both_baselines"] for s in sets)
        >= 2,
        "mix_never_worse": all(m["not_worse"] for m in mixes) if mixes else None,
        "mix_significantly_better_somewhere": any(m["better"] for m in mixes) if mixes else None,
        "graph_modes_never_worse_than_bm25": all(g["not_worse"] for g in graphs)
        if graphs
        else None,
        "cranfield_standard_ndcg10_at_least_0.42": _mean(cranfield["ndcg@10"]) >= 0.42
        if cranfield
        else None,
    }


COMPARISONS = (
    ("after vs before: standard", "before.standard", "after.standard"),
    ("after vs before: mix", "before.mix", "after.mix"),
    ("standard vs baseline: dense", "baseline: dense", "after.standard"),
    ("standard vs baseline: bm25", "baseline: bm25", "after.standard"),
    ("mix vs standard", "after.standard", "after.mix"),
    *(
        (f"{m} vs baseline: bm25", "baseline: bm25", m)
        for m in ("local_kg", "global_kg", "hybrid_kg")
    ),
)


def _comparisons(found: dict, before: dict[str, str], after: dict[str, str]) -> dict[str, Any]:
    def system(ref: str) -> str:
        table, _, row = ref.partition(".")
        return {"before": before, "after": after}[table][row] if row else ref

    out = {}
    for label, reference, candidate in COMPARISONS:
        if system(reference) in found and system(candidate) in found:
            out[label] = _comparison(found, system(reference), system(candidate))
    return out


def report(
    systems: Systems,
    info: dict[str, Any],
    standard_lodo: dict[str, Any],
    mix_lodo: dict[str, Any] | None,
    previous: dict[str, Any],
    kept: dict[str, Any],
) -> dict[str, Any]:
    """The whole result; ``mix_lodo`` is None when no set had its graph measured."""
    graph_kept = mix_lodo["kept"] if mix_lodo else "append"
    before = _rows(standard_lodo["previous"], "mix | previous | append")
    after = _rows(standard_lodo["kept"], f"mix | kept | {graph_kept}")
    return {
        "command": "python -m benchmarks.retrieval_sets " + " ".join(sys.argv[1:]),
        "metrics": list(METRICS),
        "confidence": 0.95,
        "interval": "percentile bootstrap over questions, 2000 resamples, seed 0",
        "sets": info,
        "defaults": {"previous": previous, "kept": kept, "mix_graph_kept": graph_kept},
        "rows": {"before": before, "after": after},
        "systems": {
            name: {system: {m: _interval(v[m]) for m in METRICS} for system, v in found.items()}
            for name, found in systems.items()
        },
        "comparisons": {
            name: _comparisons(found, before, after) for name, found in systems.items()
        },
        "lodo": {"standard": standard_lodo, "mix_graph": mix_lodo},
        "goals": {"before": _goals(systems, before), "after": _goals(systems, after)},
    }


def _name(candidate: str) -> str:
    """A candidate's name inside a Markdown table cell."""
    return candidate.replace(" | ", ", ")


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
            b, a = result["rows"]["before"][row], result["rows"]["after"][row]
            if b not in found or a not in found:
                continue
            b, a = found[b], found[a]
            cells = " | ".join(f"{_cell(b[m])} | {_cell(a[m])}" for m in METRICS)
            out.append(f"| {row} | {cells} |")
        out.append("")
    for lever, table in result["lodo"].items():
        if table is None:
            continue
        out += [
            f"Leave-one-dataset-out, {lever} (previous: `{_name(table['previous'])}`; kept: "
            f"`{_name(table['kept'])}`):",
            "",
        ]
        out += [
            "| left out | chosen on the others | its nDCG@10 there | previous | Δ [95%] | wins |",
            "|---|---|---|---|---|---|",
        ]
        for f in table["folds"]:
            out.append(
                f"| {f['left_out']} | {_name(f['chosen'])} | {f['left_out_score']:.3f} | "
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
