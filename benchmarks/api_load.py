"""A bounded load run against ``smolrag-lab serve`` on loopback: concurrent HTTP clients sending
``POST /query`` (answers included, query cache off) over the demo corpus; throughput, latency
p50/p95 and error rate per concurrency level.

usage: python -m benchmarks.api_load [--levels 1 4 16] [--requests 200] [--out FILE]
The server runs in its own process, as it would in use; the clients are threads in this one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks._results import default_out, publish
from smolrag_lab.eval.metrics import latency_summary

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TOKEN = "load-test-token"
MODES = ("standard", "local_kg", "global_kg", "hybrid_kg", "mix")


def start_server(data_dir: Path, root: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "SMOLRAG_API_TOKEN": TOKEN,
        "SMOLRAG_QUERY_CACHE": "false",
        "SMOLRAG_API_RATE_LIMIT_PER_MINUTE": "0",
        "SMOLRAG_LOG_TO_FILE": "false",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smolrag_lab.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--documents-root",
            str(root),
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def level(client: httpx.Client, questions: list[str], clients: int, requests: int) -> dict:
    outcomes: list[tuple[float, int]] = []

    def one(i: int) -> None:
        started = time.perf_counter()
        try:
            status = client.post(
                "/query",
                json={"text": questions[i % len(questions)], "query_type": MODES[i % len(MODES)]},
            ).status_code
        except httpx.HTTPError:
            status = 0
        outcomes.append((1000 * (time.perf_counter() - started), status))

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    latency = latency_summary([ms for ms, _ in outcomes])
    errors = sum(status != 200 for _, status in outcomes)
    return {
        "clients": clients,
        "requests": requests,
        "throughput_rps": round(requests / wall, 1),
        "p50_ms": latency["p50"],
        "p95_ms": latency["p95"],
        "errors": errors,
        "error_rate": round(errors / requests, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", default=default_out("api_load"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smolrag-api-load-"))
    server, url = start_server(work / "index", SHARED / "corpus")
    try:
        client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=300,
            limits=httpx.Limits(max_connections=64),
        )
        started = time.perf_counter()
        assert client.post("/documents", json={"path": "smolrag_docs"}).status_code == 200
        ingest_s = round(time.perf_counter() - started, 1)
        questions = [
            json.loads(line)["query"] for line in (SHARED / "eval" / "smolrag_docs_qa.jsonl").open()
        ][:40]
        level(client, questions, 1, 20)  # warm up
        rows = [level(client, questions, n, args.requests) for n in args.levels]
        for row in rows:
            print(row, flush=True)
        publish(
            {
                "server": "smolrag-lab serve (uvicorn, 1 process)",
                "ingest_via_api_s": ingest_s,
                "levels": rows,
            },
            args.out,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
