"""The loopback OpenAI-compatible server the tests drive: smolrag_lab's simulated endpoint with
hash-seeded 16-dimensional embeddings (fast, no model) and an echoing chat by default; faults are
scripted through ``faults``, ``fail_if`` and ``responder`` (see :mod:`smolrag_lab.simulator`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from smolrag_lab.settings import Settings
from smolrag_lab.simulator import SimulatedEndpoint, hashed_vector

fake_vector = hashed_vector


def openai_settings(base_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings whose openai backends talk to the loopback test server at ``base_url``."""
    values: dict[str, Any] = dict(
        data_dir=data_dir,
        openai_api_key="sk-test",
        openai_base_url=base_url,
        completion_backend="openai",
        completion_model="test-chat",
        embedding_backend="openai",
        embedding_model="test-embed",
        retry_base_delay_s=0.01,
        retry_max_delay_s=0.05,
        request_timeout_s=5.0,
    )
    return Settings(**{**values, **overrides})


@contextmanager
def simulated(
    endpoint: SimulatedEndpoint, data_dir: Path, **overrides: Any
) -> Iterator[tuple[SimulatedEndpoint, Settings]]:
    """``endpoint`` started, with settings whose completions go to it (small excerpts keep an
    ingestion fast); stopped when the block ends."""
    endpoint.start()
    values: dict[str, Any] = dict(
        data_dir=data_dir,
        openai_api_key="sk-sim",
        openai_base_url=endpoint.base_url,
        completion_backend="openai",
        chunk_size=40,
        chunk_overlap=0,
    )
    try:
        yield endpoint, Settings(**{**values, **overrides})
    finally:
        endpoint.stop()


class FakeOpenAIServer(SimulatedEndpoint):
    def __init__(self, dim: int = 16, latency_s: float = 0.0) -> None:
        super().__init__(
            latency_ms=1000 * latency_s,
            dim=dim,
            embed=lambda texts: np.asarray(
                [hashed_vector(t, dim) for t in texts], dtype=np.float32
            ),
        )
        self.responder = lambda body: "echo: " + body["messages"][-1]["content"][:60]
