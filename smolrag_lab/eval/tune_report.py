"""Tables of a tuning study: the held-out comparison and the trials, for the CLI and notebook 5."""

from __future__ import annotations

import json
from typing import Any

from .tune import TuneResult


def held_out_table(result: TuneResult) -> str:
    """Markdown: default and best trials on the held-out questions, with 95% intervals."""
    metric = result.objective
    lines = [
        f"| configuration | {metric} on tune | {metric} held-out [95% CI] | Δ vs default [95% CI] "
        "| p (sign-flip) | context tokens | settings |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result.rows:
        tune = f"{r['tune']:.3f}" if r["tune"] is not None else "·"
        held = f"{r['held_out']:.3f} [{r['held_out_low']:.3f}, {r['held_out_high']:.3f}]"
        if "delta_delta" in r:
            noise = " within noise" if r["delta_within_noise"] else ""
            delta = (
                f"{r['delta_delta']:+.3f} [{r['delta_delta_low']:+.3f}, "
                f"{r['delta_delta_high']:+.3f}]{noise}"
            )
            p = f"{r['delta_p_value']:.3f}"
        else:
            delta, p = "(reference)", "·"
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "defaults"
        lines.append(
            f"| {r['configuration']} | {tune} | {held} | {delta} | {p} "
            f"| {r['context_tokens']:.0f} | {params} |"
        )
    return "\n".join(lines)


def trials_frame(study: Any) -> Any:
    """One row per trial: number, state, value(s), parameters, seconds, index reuse."""
    import pandas as pd

    rows = []
    for t in study.trials:
        values = t.values or []
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "value": values[0] if values else None,
                "second": values[1] if len(values) > 1 else None,
                **t.params,
                "seconds": t.user_attrs.get("seconds"),
                "index_reused": t.user_attrs.get("index_reused"),
            }
        )
    return pd.DataFrame(rows)


def study_summary(result: TuneResult) -> dict[str, Any]:
    """What ``smolrag-lab tune`` writes to JSON: split sizes, trials, timing, held-out rows."""
    frame = trials_frame(result.study)
    seconds = frame["seconds"].dropna()
    return {
        "objective": result.objective,
        "tune_questions": len(result.tune.items),
        "held_out_questions": len(result.held_out.items),
        "trials": json.loads(frame.to_json(orient="records")),
        "states": frame["state"].value_counts().to_dict(),
        "seconds_per_trial": {
            "mean": float(seconds.mean()) if len(seconds) else None,
            "median": float(seconds.median()) if len(seconds) else None,
            "total": float(seconds.sum()),
        },
        "best_params": result.best_params,
        "held_out": result.rows,
    }
