"""The loopback OpenAI-compatible server the tests drive: smolrag_lab's simulated endpoint with
hash-seeded 16-dimensional embeddings (fast, no model) and an echoing chat by default; faults are
scripted through ``faults``, ``fail_if`` and ``responder`` (see :mod:`smolrag_lab.simulator`)."""

from __future__ import annotations

import numpy as np

from smolrag_lab.simulator import SimulatedEndpoint, hashed_vector

fake_vector = hashed_vector


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
