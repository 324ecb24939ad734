"""The simulated endpoint: the engine's own prompts get well-formed answers over real HTTP."""

import socket
import subprocess
import sys

import openai
import pytest
from fake_openai import simulated
from test_engine import write_corpus

from smolrag_lab import Settings, SmolRag
from smolrag_lab.simulator import SimulatedEndpoint


@pytest.fixture(scope="module")
def endpoint():
    server = SimulatedEndpoint(latency_ms=5, jitter_ms=2).start()  # local MiniLM embeddings
    yield server
    server.stop()


def test_engine_on_the_simulated_endpoint_gets_well_formed_output(endpoint, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        openai_api_key="sk-sim",
        openai_base_url=endpoint.base_url,
        completion_backend="openai",
        embedding_backend="openai",
        embedding_model="sim-embed",
        completion_model="sim-chat",
        chunk_size=40,
        chunk_overlap=0,
    )
    with SmolRag(settings) as rag:
        report = rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
        assert report.failed == [] and len(report.added) == 3
        assert rag.providers.embedder.dim == 384
        assert rag.index.graph.number_of_nodes() > 3 and rag.index.graph.number_of_edges() > 0
        stats = rag.providers.stats()
        assert stats.get("extraction_parse", {}).get("errors", 0) == 0
        summary = next(v for _, v in rag.index.excerpts.items())["summary"]
        assert summary.startswith("From ")
        result = rag.query("Which store keeps entities?", "mix")
        assert "[1]" in result.answer and result.sources
    assert endpoint.count("/chat/completions") > 0 and endpoint.count("/embeddings") > 0


def test_error_rate_is_absorbed_by_retries(tmp_path):
    retries = dict(retry_base_delay_s=0.001, retry_max_delay_s=0.01, max_retries=8)
    endpoint = SimulatedEndpoint(error_rate=0.3, seed=7)
    with (
        simulated(endpoint, tmp_path / "data", **retries) as (_, settings),
        SmolRag(settings) as rag,
    ):
        assert rag.ingest(write_corpus(tmp_path / "corpus"), progress=False).failed == []
        assert rag.providers.stats()["chat"]["retries"] > 0


def test_command_line_server(tmp_path):
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
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening on" in process.stdout.readline()
        client = openai.OpenAI(
            api_key="sk-sim", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
        )
        assert client.models.list().data[0].id == "simulated"
        reply = client.chat.completions.create(
            model="m",
            messages=[
                {
                    "role": "system",
                    "content": 'You extract search keywords... "high_level_keywords"',
                },
                {"role": "user", "content": "Question: How does the QueryCache work?\nJSON:"},
            ],
        )
        assert "low_level_keywords" in reply.choices[0].message.content
    finally:
        process.terminate()
        process.wait(timeout=10)
