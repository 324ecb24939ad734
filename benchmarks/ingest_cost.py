"""Ingestion cost and time with the ``openai`` backends against ``smolrag-lab simulate-endpoint`` at
200 ms per request, for the upstream-faithful pipeline (``call_unit=excerpt``) and grouped calls
(``call_unit=group``), beside the peers' published figures; plus the cost of a one-paragraph edit
and retrieval quality on the demo questions for both.

usage: python -m benchmarks.ingest_cost [--latency-ms 200] [--out FILE]
The endpoint runs in its own process (as a real one would), so the client's CPU time is its own. The
timing run uses hashed embeddings (a remote service computes embeddings on its own hardware, and the
MiniLM work would otherwise load these 2 cores); quality and the edit use a second, latency-free
endpoint with real MiniLM embeddings.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PEERS = {
    "LightRAG 1.5.7": {"chat_calls": 91, "prompt_chars": 1_260_000, "wall_s": 13.7},
    "nano-graphrag 0.0.8.2": {"chat_calls": 107, "prompt_chars": 1_450_000, "wall_s": 9.3},
}


def start_endpoint(latency_ms: float, hashed: bool = False) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "simulate-endpoint",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            *(["--hashed-embeddings"] if hashed else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()
    return process, f"http://127.0.0.1:{port}/v1"


def settings_for(data_dir: Path, base_url: str, unit: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        openai_api_key="sk-sim",
        openai_base_url=base_url,
        completion_backend="openai",
        embedding_backend="openai",
        embedding_model="sim-minilm",
        completion_model="sim-chat",
        call_unit=unit,
        log_to_file=False,
        query_cache=False,
    )


def ingest(data_dir: Path, corpus: Path, base_url: str, unit: str, latency_s: float) -> dict:
    with SmolRag(settings_for(data_dir, base_url, unit)) as rag:
        rag.providers.embedder.embed(["warm up"])  # the dimension probe is not part of the run
        before = {k: dict(v) for k, v in rag.providers.stats().items()}
        wall, cpu = time.perf_counter(), time.process_time()
        report = rag.ingest(corpus, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = rag.providers.stats()
    delta = {
        k: {
            m: after[k].get(m, 0) - before.get(k, {}).get(m, 0)
            for m in ("calls", "requests", "prompt_chars")
        }
        for k in after
    }
    chat, emb = delta.get("chat", {}), delta.get("embeddings", {})
    requests = chat.get("requests", 0) + emb.get("requests", 0)
    concurrency = settings_for(data_dir, base_url, unit).max_concurrent_requests
    return {
        "documents": len(report.added),
        "failed": len(report.failed),
        "chat_calls": chat.get("calls", 0),
        "client_cpu_s": round(cpu, 2),
        "embedding_requests": emb.get("requests", 0),
        "prompt_chars": chat.get("prompt_chars", 0),
        "wall_s": round(wall, 2),
        "ideal_wall_s": round(requests * latency_s / concurrency, 2),
        "client_cpu_ms_per_request": round(1000 * cpu / max(requests, 1), 2),
        "excerpts": report.excerpts,
        "entities": report.entities,
    }


def edit_cost(data_dir: Path, corpus: Path, base_url: str, unit: str) -> dict:
    """Change one paragraph of one document and re-ingest: calls made, and no stale copy left."""
    target = sorted(corpus.glob("*.md"))[3]
    text = target.read_text(encoding="utf-8")
    paragraphs = text.split("\n\n")

    def first_sentence(paragraph: str) -> str:
        found = re.match(r"(.+?[.!?])(?:\s|$)", paragraph.strip(), re.DOTALL)
        return found.group(1) if found else ""

    middle, old_sentence = next(
        (i, first_sentence(p))
        for i in range(len(paragraphs) // 2, len(paragraphs))
        for p in [paragraphs[i]]
        if len(first_sentence(p).split()) >= 8
        and not p.lstrip().startswith(("#", "```", "-", "*", "|"))
        and text.count(first_sentence(p)) == 1
    )
    paragraphs[middle] = paragraphs[middle].replace(
        old_sentence, old_sentence[:-1] + " (as revised in this edit).", 1
    )
    target.write_text("\n\n".join(paragraphs), encoding="utf-8")
    with SmolRag(settings_for(data_dir, base_url, unit)) as rag:
        before = rag.providers.stats().get("chat", {}).get("calls", 0)
        report = rag.ingest(corpus, progress=False)
        calls = rag.providers.stats().get("chat", {}).get("calls", 0) - before
        records = [e for _, e in rag.index.excerpts.items()]
        stale = sum(old_sentence in e["text"] for e in records)
        excerpts = sum(e["source"] == str(target.resolve()) for e in records)
    return {
        "document": target.name,
        "excerpts_in_document": excerpts,
        "chat_calls": calls,
        "updated": len(report.updated),
        "stale_copies_of_old_paragraph": stale,
    }


def quality(data_dir: Path, base_url: str, unit: str) -> dict:
    questions = [json.loads(line) for line in (SHARED / "eval" / "smolrag_docs_qa.jsonl").open()]
    out = {}
    with SmolRag(settings_for(data_dir, base_url, unit)) as rag:
        for mode in ("standard", "mix"):
            hits = 0
            for item in questions:
                sources = rag.retrieve(item["query"], mode, excerpt_top_k=10).sources
                hits += any(s.document in item["relevant"] for s in sources[:5])
            out[f"{mode}_hit@5"] = round(hits / len(questions), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--out", default=default_out("ingest_cost"))
    args = parser.parse_args()
    slow, slow_url = start_endpoint(
        args.latency_ms, hashed=True
    )  # timing: the endpoint's own work is free
    fast, fast_url = start_endpoint(0)  # quality and edits: real MiniLM embeddings
    work = Path(tempfile.mkdtemp(prefix="smolrag-cost-"))
    results: dict = {"latency_ms": args.latency_ms, "peers": PEERS, "pipelines": {}}
    try:
        for unit in ("excerpt", "group"):
            corpus = Path(
                shutil.copytree(SHARED / "corpus" / "smolrag_docs", work / f"corpus-{unit}")
            )
            run = ingest(work / f"{unit}-timing", corpus, slow_url, unit, args.latency_ms / 1000)
            ingest(
                work / unit, corpus, fast_url, unit, 0.0
            )  # the same pipeline with real embeddings
            run["quality"] = quality(work / unit, fast_url, unit)
            run["edit"] = edit_cost(
                work / unit, corpus, fast_url, unit
            )  # same endpoint: its cache applies
            results["pipelines"][unit] = run
    finally:
        for process in (slow, fast):
            process.terminate()
        shutil.rmtree(work, ignore_errors=True)
    light = PEERS["LightRAG 1.5.7"]
    group = results["pipelines"]["group"]
    results["targets"] = {
        "prompt_chars_vs_lightrag": round(group["prompt_chars"] / light["prompt_chars"], 3),
        "wall_vs_lightrag": round(group["wall_s"] / light["wall_s"], 3),
        "wall_vs_nano_graphrag": round(
            group["wall_s"] / PEERS["nano-graphrag 0.0.8.2"]["wall_s"], 3
        ),
        "wall_vs_ideal": round(group["wall_s"] / max(group["ideal_wall_s"], 1e-9), 2),
    }
    publish(results, args.out)


if __name__ == "__main__":
    main()
