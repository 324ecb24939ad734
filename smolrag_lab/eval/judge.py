"""An LLM judge of answers, when an OpenAI-compatible endpoint is configured.

Four figures per answer, each in [0, 1], from the prompts in :mod:`smolrag_lab.prompts`:

- **faithfulness** — the share of the answer's statements that the retrieved context supports;
- **answer relevance** — the grader's 1-5 rating of how directly the answer addresses the
  question, mapped to (rating - 1) / 4;
- **context precision** — the excerpts judged useful for the reference answer, weighted by rank:
  the mean of precision@k over the ranks k of the useful excerpts (0 when none is useful);
- **context recall** — the share of the reference answer's sentences the context supports.

The last two need a reference answer. Calls run at temperature 0 and go through the client's
completion cache like every other call; run ``r`` of a repeated judgement also sends ``seed=r`` so
that three runs are three requests (the judge's own variance) and a re-run of the same run is free.
A reply that is not the JSON asked for scores ``None`` and is counted, never guessed.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import prompts
from ..tokens import TokenCounter

COMPLETION_TOKENS_ESTIMATE = 120  # per judging call: a short JSON list of verdicts
_JSON = re.compile(r"\{.*\}", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One answer to judge."""

    mode: str
    question: str
    answer: str
    excerpts: tuple[str, ...]
    reference: str | None = None

    @property
    def metrics(self) -> tuple[str, ...]:
        return prompts.JUDGE_METRICS if self.reference else prompts.JUDGE_METRICS[:2]

    def requests(self) -> list[tuple[str, list[dict[str, str]]]]:
        return [
            (m, prompts.judge(m, self.question, self.answer, self.excerpts, self.reference or ""))
            for m in self.metrics
        ]


def estimate_cost(
    cases: Sequence[Case],
    runs: int,
    price_prompt_per_1k: float,
    price_completion_per_1k: float,
    counter: TokenCounter | None = None,
) -> dict[str, float]:
    """Calls, tokens and dollars the judging costs before any cache hit: shown before it runs."""
    counter = counter or TokenCounter()
    prompt = sum(
        counter.count(m["content"]) for case in cases for _, msgs in case.requests() for m in msgs
    )
    calls = sum(len(case.metrics) for case in cases)
    completion = calls * COMPLETION_TOKENS_ESTIMATE
    return {
        "calls": calls * runs,
        "prompt_tokens": prompt * runs,
        "completion_tokens": completion * runs,
        "estimated_cost_usd": round(
            runs * (prompt * price_prompt_per_1k + completion * price_completion_per_1k) / 1000, 6
        ),
    }


def _json(text: str) -> dict[str, Any] | None:
    found = _JSON.search(text)
    try:
        value = json.loads(found.group(0)) if found else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _share(items: Any, key: str) -> float | None:
    if not isinstance(items, list) or not items:
        return None
    flags = [bool(i.get(key)) for i in items if isinstance(i, dict)]
    return sum(flags) / len(flags) if flags else None


def _average_precision(verdicts: Any) -> float | None:
    if not isinstance(verdicts, list) or not verdicts:
        return None
    useful = [bool(v.get("useful")) for v in verdicts if isinstance(v, dict)]
    hits, total = 0, 0.0
    for rank, flag in enumerate(useful, 1):
        if flag:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def parse_verdict(metric: str, text: str) -> float | None:
    """The figure in [0, 1] a judging reply gives for ``metric``; None when it is unreadable."""
    data = _json(text)
    if data is None:
        return None
    if metric == "faithfulness":
        return _share(data.get("statements"), "supported")
    if metric == "context_recall":
        return _share(data.get("sentences"), "attributed")
    if metric == "context_precision":
        return _average_precision(data.get("verdicts"))
    try:
        return min(max((float(data["score"]) - 1) / 4, 0.0), 1.0)
    except (KeyError, TypeError, ValueError):
        return None


class Judge:
    """Judges cases through an :class:`~smolrag_lab.providers.openai_client.OpenAIClient`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.unreadable = 0

    async def score(self, case: Case, run: int = 0) -> dict[str, float | None]:
        requests = case.requests()
        replies = await asyncio.gather(
            *(self.client.chat(msgs, temperature=0, seed=run) for _, msgs in requests)
        )
        out = {m: parse_verdict(m, reply) for (m, _), reply in zip(requests, replies, strict=True)}
        self.unreadable += sum(v is None for v in out.values())
        return out

    async def judge(self, cases: Sequence[Case], runs: int = 3) -> dict[str, Any]:
        """Per mode and metric: the mean over cases in each run, their mean and their standard
        deviation across runs (the judge's own variance).
        """
        per_run = []
        for run in range(runs):
            per_run.append(await asyncio.gather(*(self.score(c, run) for c in cases)))
        modes: dict[str, dict[str, Any]] = {}
        for mode in dict.fromkeys(c.mode for c in cases):
            chosen = [i for i, c in enumerate(cases) if c.mode == mode]
            modes[mode] = {}
            for metric in prompts.JUDGE_METRICS:
                found = [_mean([scores[i].get(metric) for i in chosen]) for scores in per_run]
                means = [m for m in found if m is not None]
                if means:
                    modes[mode][metric] = {
                        "mean": round(statistics.fmean(means), 4),
                        "std_across_runs": round(statistics.pstdev(means), 4),
                        "runs": [round(m, 4) for m in means],
                    }
        return {"runs": runs, "cases": len(cases), "unreadable": self.unreadable, "modes": modes}


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


def judge_table(judged: dict[str, Any]) -> str:
    """Markdown: per mode, each judged metric as mean ± standard deviation across runs."""
    lines = [
        "| mode | " + " | ".join(prompts.JUDGE_METRICS) + " |",
        "|---" * (len(prompts.JUDGE_METRICS) + 1) + "|",
    ]
    for mode, metrics in judged["modes"].items():
        cells = [
            f"{metrics[m]['mean']:.3f} ± {metrics[m]['std_across_runs']:.3f}"
            if m in metrics
            else ""
            for m in prompts.JUDGE_METRICS
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_judge(
    client: Any,
    cases: Sequence[Case],
    settings: Any,
    runs: int = 3,
    announce: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Show the cost, then judge ``cases`` ``runs`` times: the report's ``judge`` section."""
    from ..aio import run_sync

    cost = estimate_cost(
        cases, runs, settings.price_prompt_per_1k, settings.price_completion_per_1k
    )
    announce(
        f"judge: {cost['calls']} calls, about {cost['prompt_tokens']} prompt and "
        f"{cost['completion_tokens']} completion tokens, about ${cost['estimated_cost_usd']:.4f} "
        "before cache hits"
    )
    judged = run_sync(Judge(client).judge(cases, runs))
    return {"cost": cost, **judged}
