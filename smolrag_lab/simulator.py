"""A simulated OpenAI-compatible endpoint on 127.0.0.1 for cost and throughput rehearsals.

Chat completions answer each of the engine's four prompts with well-formed output computed by the
local backends (an extractive summary, extraction records in the upstream delimiter format, keyword
JSON, an extractive answer citing [n]), in JSON when ``response_format`` asks for it; embeddings
come from the local embedder (or, for tests, from a seeded hash of the text). Every request can be
delayed (latency plus uniform jitter), failed at a given rate (500, or 429 with
``Retry-After: 0``), or given a scripted fault from a queue: ``{"status": 429, "retry_after":
"1"}``, ``{"status": 500}``, ``{"stall": 2.0}``, ``{"body": "raw"}``, ``{"json": {...}}``,
``{"reset": True}`` (connection reset), ``{"dim": 8}`` (wrong-size embeddings); ``{}`` in the
queue means "answer normally".
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import itertools
import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from .prompts import (
    COMPLETE_TAG,
    CONTEXT_CLOSE,
    CONTEXT_OPEN,
    GROUP_GOAL,
    JUDGE_GOAL,
    QUESTION_LABEL,
    RECORD_SEP,
    TUPLE_SEP,
)
from .providers import local_tasks
from .providers.base import Extraction
from .providers.structured import (
    extraction_json,
    requested_kind,
    requested_schema,
    schema_instance,
)
from .text import clean_markdown, headings

_SOURCE_HEAD = re.compile(r"^\[(\d+)\] .*$", re.MULTILINE)
_MODEL = {"id": "simulated", "object": "model", "owned_by": "smolrag_lab"}


def hashed_vector(text: str, dim: int) -> list[float]:
    """A deterministic unit vector per text (no model), for tests that need stable embeddings."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dim)
    return (vector / np.linalg.norm(vector)).tolist()


def render_extraction(extraction: Extraction) -> str:
    """An extraction in the delimiter format the engine's prompt asks a model for."""
    records = [
        f'("entity"{TUPLE_SEP}{e.name}{TUPLE_SEP}{e.type}{TUPLE_SEP}{e.description})'
        for e in extraction.entities
    ]
    records += [
        f'("relationship"{TUPLE_SEP}{r.source}{TUPLE_SEP}{r.target}{TUPLE_SEP}{r.description}'
        f"{TUPLE_SEP}{', '.join(r.keywords)}{TUPLE_SEP}{r.weight:g})"
        for r in extraction.relationships
    ]
    if extraction.content_keywords:
        records.append(f'("content_keywords"{TUPLE_SEP}{", ".join(extraction.content_keywords)})')
    return RECORD_SEP.join(records) + COMPLETE_TAG


def simulated_reply(messages: list[dict[str, str]], schema: dict | None = None) -> str:
    """What a capable model would answer to one of the engine's prompts, computed locally; in
    JSON when the request asked for a ``schema`` (``{}``: any JSON), as a constrained decoder would.
    """
    system = messages[0]["content"]
    # The task's own message: a re-ask appends the problem after it (and the reply before that).
    user = next(
        (m["content"] for m in messages[1:] if m["role"] == "user"), messages[-1]["content"]
    )
    if "<full-document>" in user:
        document = user.split("<full-document>\n", 1)[1].split("\n</full-document>", 1)[0]
        excerpt = user.split("<excerpt>\n", 1)[1].split("\n</excerpt>", 1)[0]
        summary = local_tasks.summarize(document, excerpt)
        return summary if schema is None else json.dumps({"summary": summary})
    if system.startswith(GROUP_GOAL):
        summaries, merged = _group_records(user)
        if schema is not None:
            return extraction_json(merged, summaries)
        records = [f'("summary"{TUPLE_SEP}E{n}{TUPLE_SEP}{s})' for n, s in summaries.items()]
        return RECORD_SEP.join(records) + RECORD_SEP + render_extraction(merged)
    if system.startswith(JUDGE_GOAL):
        return _judge_reply(system.split("\n", 1)[0].removeprefix(JUDGE_GOAL).strip(), user)
    if system.startswith("-Goal-"):
        excerpt = user.split("Text: ", 1)[-1].rsplit("\nOutput:", 1)[0]
        extracted = local_tasks.extract(excerpt)
        return render_extraction(extracted) if schema is None else extraction_json(extracted)
    if '"high_level_keywords"' in system:
        found = local_tasks.keywords(user.split("Question: ", 1)[-1].rsplit("\nJSON:", 1)[0])
        return json.dumps(
            {"high_level_keywords": found.high_level, "low_level_keywords": found.low_level}
        )
    if system.startswith("---Role---"):
        context = user.split(CONTEXT_OPEN + "\n", 1)[-1].split("\n" + CONTEXT_CLOSE, 1)[0]
        user = user.rsplit(QUESTION_LABEL, 1)[-1]
        starts = [m.start() for m in _SOURCE_HEAD.finditer(context)] + [len(context)]
        sources = [context[a:b].split("\n", 1)[-1] for a, b in itertools.pairwise(starts)]
        return local_tasks.extractive_answer(user, sources)
    if schema is not None:
        return json.dumps(schema_instance(schema))
    return "This endpoint simulates the smolrag_lab prompts only."


def _tag(text: str, tag: str) -> str:
    if f"<{tag}>\n" not in text:
        return ""
    return text.split(f"<{tag}>\n", 1)[1].split(f"\n</{tag}>", 1)[0]


def _judge_reply(metric: str, user: str) -> str:
    """A grader's verdicts computed by word overlap (eval/answers.py), in the JSON the judging
    prompts ask for: deterministic, so the simulated judge has no variance of its own.
    """
    from .eval.answers import claims, is_no_answer, lexical_coverage
    from .text import content_words, split_sentences

    answer, reference = _tag(user, "ANSWER"), _tag(user, "REFERENCE")
    context = _tag(user, "CONTEXT") or _tag(user, "EXCERPTS")
    if metric == "faithfulness":
        found = [
            {"statement": c.text, "supported": lexical_coverage(c.text, [context]) >= 0.7}
            for c in claims(answer)
        ]
        return json.dumps({"statements": found})
    if metric == "answer_relevance":
        asked = set(content_words(_tag(user, "QUESTION")))
        share = len(asked & set(content_words(answer))) / len(asked) if asked else 0.0
        score = 1 if is_no_answer(answer) else 1 + round(4 * share)
        return json.dumps({"score": score, "reason": "word overlap with the question"})
    if metric == "context_precision":
        starts = [m.start() for m in _SOURCE_HEAD.finditer(context)] + [len(context)]
        excerpts = [context[a:b] for a, b in zip(starts, starts[1:], strict=False)]
        verdicts = [
            {"excerpt": n, "useful": lexical_coverage(reference, [text]) >= 0.5}
            for n, text in enumerate(excerpts, 1)
        ]
        return json.dumps({"verdicts": verdicts})
    sentences = [
        {"sentence": s, "attributed": lexical_coverage(s, [context]) >= 0.5}
        for s in split_sentences(reference)
    ]
    return json.dumps({"sentences": sentences})


def _section_before(outline: list[str], text: str) -> str:
    """The outline entry the group starts in (the one before the first heading inside it), as a
    heading line, as a model reading the outline would infer it.
    """
    inside = [clean_markdown(h[2]) for h in headings(text)]
    if inside and inside[0] in outline:
        position = outline.index(inside[0])
        return f"## {outline[position - 1]}\n\n" if position > 0 else ""
    return ""


def _group_records(user: str) -> tuple[dict[int, str], Extraction]:
    """A summary for each [En] excerpt and the merged extraction of all of them."""
    context = user.split("<document-context>\n", 1)[1].split("\n</document-context>", 1)[0]
    title = context.split("\n", 1)[0].removeprefix("Title: ")
    body = user.split("<excerpts>\n", 1)[1].rsplit("\n</excerpts>", 1)[0]
    parts = re.split(r"(?:^|\n\n)\[E(\d+)\]\n", body)
    excerpts = {int(number): text for number, text in zip(parts[1::2], parts[2::2], strict=True)}
    outline = [line.strip()[2:] for line in context.split("\n") if line.strip().startswith("- ")]
    pseudo = (
        f"# {title}\n\n"
        + _section_before(outline, "\n\n".join(excerpts.values()))
        + "\n\n".join(excerpts.values())
    )
    summaries, merged, seen = {}, Extraction(), set[str]()
    for number, excerpt in excerpts.items():
        summaries[number] = local_tasks.summarize(pseudo, excerpt)
        found = local_tasks.extract(excerpt)
        fresh = [e for e in found.entities if e.name not in seen]
        seen.update(e.name for e in fresh)
        merged.entities += fresh
        merged.relationships += found.relationships
        merged.content_keywords += [
            k for k in found.content_keywords if k not in merged.content_keywords
        ]
    return summaries, merged


class SimulatedEndpoint:
    """The server. ``embed`` turns texts into vectors (default: the local MiniLM embedder)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        error_rate: float = 0.0,
        seed: int = 0,
        embed: Callable[[list[str]], np.ndarray | list[list[float]]] | None = None,
        dim: int | None = None,
        structured: tuple[str, ...] = ("json_schema", "json_object"),
    ) -> None:
        self.latency_s, self.jitter_s, self.error_rate = (
            latency_ms / 1000,
            jitter_ms / 1000,
            error_rate,
        )
        self.faults: collections.deque[dict[str, Any]] = collections.deque()
        self.requests: list[tuple[str, dict]] = []
        self.responder: Callable[[dict], str] = lambda body: simulated_reply(
            body["messages"], requested_schema(body)
        )
        # A status to answer with; by default llama.cpp's 500 to a response_format kind it lacks.
        self.structured = frozenset(structured)
        self.fail_if: Callable[[dict], int | None] = lambda body: (
            500 if requested_kind(body) not in {*self.structured, "text"} else None
        )
        self.in_flight = self.max_in_flight = 0
        self._embed, self._dim = embed, dim
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/v1"

    def start(self) -> SimulatedEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def count(self, path_suffix: str = "") -> int:
        return sum(1 for path, _ in self.requests if path.endswith(path_suffix))

    def embed(self, texts: list[str], dim: int | None = None) -> list[list[float]]:
        if self._embed is None:
            from .providers.local_embedder import LocalEmbedder

            embedder = LocalEmbedder()
            self._embed, self._dim = embedder.embed, embedder.dim
        if dim is not None and dim != self._dim:  # a scripted wrong-dimension fault
            return [hashed_vector(t, dim) for t in texts]
        return np.asarray(self._embed(texts), dtype=np.float32).tolist()

    # Request handling -----------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def finish(self) -> None:
                with contextlib.suppress(OSError):  # the connection was reset on purpose
                    super().finish()

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    return server._send(
                        self,
                        200,
                        json.dumps({"object": "list", "data": [_MODEL]}),
                    )
                return server._send(self, 404, json.dumps({"error": {"message": "not found"}}))

            def do_POST(self) -> None:
                body = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                )
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

    def _delay(self) -> tuple[float, bool]:
        """The latency of the request being served, and whether it is one of the random errors."""
        with self._lock:
            return max(
                0.0, self.latency_s + self._random.uniform(-self.jitter_s, self.jitter_s)
            ), self._random.random() < self.error_rate

    def _serve(self, handler: BaseHTTPRequestHandler, body: dict, fault: dict | None) -> None:
        delay, random_error = self._delay()
        time.sleep(delay + (fault or {}).get("stall", 0.0))
        if fault and fault.get("reset"):
            handler.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.request.close()
            handler.close_connection = True
            return None
        if not fault and self.fail_if(body):
            fault = {"status": self.fail_if(body)}
        if not fault and random_error:
            fault = (
                {"status": 500}
                if self._random.random() < 0.5
                else {"status": 429, "retry_after": "0"}
            )
        if fault and "status" in fault:
            headers = {"retry-after": fault["retry_after"]} if "retry_after" in fault else {}
            return self._send(
                handler, fault["status"], json.dumps({"error": {"message": "injected"}}), headers
            )
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
        return {
            "id": "chatcmpl-sim",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": len(text.split()),
                "total_tokens": prompt_words + len(text.split()),
            },
        }

    def _embeddings(self, body: dict, fault: dict | None) -> dict:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors: list[Any] = self.embed(inputs, (fault or {}).get("dim"))
        if body.get("encoding_format") == "base64":  # what the openai SDK asks for (numpy decodes)
            vectors = [
                base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii")
                for v in vectors
            ]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return {
            "object": "list",
            "data": data[::-1],
            "model": body["model"],
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, text: str, headers: dict | None = None
    ) -> None:
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
