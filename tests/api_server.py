"""A real API server on 127.0.0.1 for the tests: uvicorn in a background thread on a free port,
configured as `smolrag-lab serve` configures it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from smolrag_lab.api import create_app
from smolrag_lab.api.server import uvicorn_config
from smolrag_lab.settings import Settings

TOKEN = "test-token-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(settings: Settings) -> Iterator[str]:
    """Serve ``settings`` until the block ends; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
