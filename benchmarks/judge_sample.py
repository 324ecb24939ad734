"""The LLM judge on a sample of the demo questions: the local (extractive) answers of every mode,
judged three times through an OpenAI-compatible endpoint — by default the simulated one on
127.0.0.1, so the figures check the plumbing and the simulator's overlap-based grader, not a model.

usage: python -m benchmarks.judge_sample [--data-dir DIR] [--sample 10] [--base-url URL]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval.dataset import load_dataset
from smolrag_lab.eval.judge import Case, judge_table, run_judge
from smolrag_lab.providers import Providers
from smolrag_lab.query.retrieval import MODES
from smolrag_lab.simulator import SimulatedEndpoint

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--base-url", default=None, help="a real endpoint (default: simulated)")
    parser.add_argument("--out", default=default_out("judge_sample"))
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="smolrag-judge-"))
    dataset = load_dataset(
        SHARED / "eval" / "smolrag_docs_qa.jsonl", SHARED / "corpus" / "smolrag_docs", args.sample
    )
    settings = Settings.load(data_dir=data_dir, query_cache=False, completion_backend="local")
    with SmolRag(settings) as rag:
        rag.ingest(dataset.paths, progress=False)
        cases = []
        for mode in MODES:
            for item in dataset.items:
                result = rag.query(item.query, mode)
                texts = tuple(s.text for s in result.sources)
                cases.append(Case(mode, item.query, result.answer, texts, item.reference_answer))
    server = None if args.base_url else SimulatedEndpoint().start()
    try:
        judge_settings = settings.replace(
            openai_base_url=args.base_url or server.base_url,
            openai_api_key=settings.openai_api_key or "sk-simulated",
            completion_backend="openai",
        )
        judged = run_judge(Providers(judge_settings).client, cases, judge_settings, args.runs)
    finally:
        if server is not None:
            server.stop()
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(judge_table(judged) + "\n")
    endpoint = "simulated" if server is not None else "configured"
    publish({"dataset": dataset.name, "endpoint": endpoint, **judged}, args.out)


if __name__ == "__main__":
    main()
