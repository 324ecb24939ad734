"""A real API server on 127.0.0.1 for the tests: uvicorn in a background thread on a free port,
configured as `smolrag-lab serve` configures it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from smolrag_lab.api import create_app
from smolrag_lab.api.server import uvicorn_config
from smolrag_lab.settings import Settings

TOKEN = "test-token-0123456789"
LONG_TOKEN = "test-token-long-enough-for-any-address-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def guarded_settings(data_dir: Path, token: str, root: Path, **overrides: Any) -> Settings:
    """A token-guarded server over ``root`` with the per-client limit off (tests send bursts)."""
    values: dict[str, Any] = dict(
        data_dir=data_dir,
        api_token=token,
        api_documents_root=root,
        log_to_file=False,
        api_rate_limit_per_minute=0,
        api_failed_logins_per_minute=10_000,
    )
    return Settings(**{**values, **overrides})


@contextmanager
def running(settings: Settings, app: Any = None) -> Iterator[str]:
    """Serve ``settings`` (or an ``app`` already built) until the block ends; yields its URL."""
    port = free_port()
    app = app if app is not None else create_app(settings)
    server = uvicorn.Server(uvicorn_config(app, settings, "127.0.0.1", port))
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


@contextmanager
def cli_server(data_dir: Path, token: str = LONG_TOKEN, **env: str) -> Iterator[tuple[int, int]]:
    """`smolrag-lab serve` in its own process (``env``: extra SMOLRAG_* variables); yields its port
    and process id once /health answers.
    """
    port = free_port()
    variables = {k: v for k, v in os.environ.items() if not k.startswith("SMOLRAG_")}
    variables |= {"SMOLRAG_API_TOKEN": token, "SMOLRAG_LOG_TO_FILE": "false", **env}
    command = [sys.executable, "-m", "smolrag_lab.cli", "serve", "--data-dir", str(data_dir)]
    server = subprocess.Popen([*command, "--port", str(port)], env=variables)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)
        yield port, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
