"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests, with scriptable faults.

Serves ``POST /v1/chat/completions`` and ``POST /v1/embeddings``. Faults are queued and consumed
one per request: ``{"status": 429, "retry_after": "1"}``, ``{"status": 500}``, ``{"stall": 2.0}``,
``{"body": "not json"}`` (a 200 with that raw body), ``{"json": {...}}`` (a 200 with that JSON),
``{"reset": True}`` (the connection is reset without an answer) or ``{"dim": 8}`` (embeddings of
the wrong dimension).
"""

from __future__ import annotations

import collections
import hashlib
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import numpy as np


def fake_vector(text: str, dim: int) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dim)
    return (vector / np.linalg.norm(vector)).tolist()


class FakeOpenAIServer:
    def __init__(self, dim: int = 16, latency_s: float = 0.0) -> None:
        self.dim = dim
        self.latency_s = latency_s
        self.faults: collections.deque[dict[str, Any]] = collections.deque()
        self.requests: list[tuple[str, dict]] = []
        self.responder: Callable[[dict], str] = lambda body: "echo: " + body["messages"][-1]["content"][:60]
        self.fail_if: Callable[[dict], int | None] = lambda body: None  # a status code to answer with
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def count(self, path_suffix: str = "") -> int:
        return sum(1 for path, _ in self.requests if path.endswith(path_suffix))

    # Request handling -------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def finish(self) -> None:
                try:
                    super().finish()
                except OSError:
                    pass  # the connection was reset on purpose

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append((self.path, body))
                    fault = server.faults.popleft() if server.faults else None
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    server._serve(self, body, fault)
                finally:
                    with server._lock:
                        server.in_flight -= 1

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, body: dict, fault: dict | None) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)
        if fault and "stall" in fault:
            time.sleep(fault["stall"])
        if fault and fault.get("reset"):
            handler.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.request.close()
            handler.close_connection = True
            return None
        if not fault and self.fail_if(body):
            fault = {"status": self.fail_if(body)}
        if fault and "status" in fault:
            headers = {"retry-after": fault["retry_after"]} if "retry_after" in fault else {}
            return self._send(handler, fault["status"], json.dumps({"error": {"message": "injected"}}), headers)
        if fault and "body" in fault:
            return self._send(handler, 200, fault["body"])
        if fault and "json" in fault:
            return self._send(handler, 200, json.dumps(fault["json"]))
        if handler.path.endswith("/chat/completions"):
            return self._send(handler, 200, json.dumps(self._chat(body)))
        if handler.path.endswith("/embeddings"):
            return self._send(handler, 200, json.dumps(self._embeddings(body, fault)))
        return self._send(handler, 404, json.dumps({"error": {"message": "not found"}}))

    def _chat(self, body: dict) -> dict:
        text = self.responder(body)
        prompt_words = sum(len(m["content"].split()) for m in body["messages"])
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(text.split()),
                          "total_tokens": prompt_words + len(text.split())}}

    def _embeddings(self, body: dict, fault: dict | None) -> dict:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = fault.get("dim", self.dim) if fault else self.dim
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(t, dim)} for i, t in enumerate(inputs)]
        return {"object": "list", "data": data[::-1], "model": body["model"],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}}

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, text: str, headers: dict | None = None) -> None:
        payload = text.encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
