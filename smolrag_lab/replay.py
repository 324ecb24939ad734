"""Replaying recorded model exchanges through the simulator, so that parsing, re-asking and
fall-back are tested on what a real model wrote, in CI, without the model.

A transcript is the JSONL that ``--log-model-io FILE`` writes (:mod:`.providers.model_io`): one
line per chat call with the whole request and the reply. :class:`Transcript` answers a request
with the reply recorded for the same messages; a request nobody recorded (the prompts changed
since the recording) is counted in ``misses`` and answered by ``fallback``, so a test can say
that the transcript needs recording again instead of silently testing the simulator.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .providers.cache import request_key
from .simulator import simulated_reply


def messages_key(messages: Sequence[dict[str, str]]) -> str:
    """A request's identity for replay: its roles and contents, nothing else (not the model,
    temperature or ``max_tokens``, which a replay may set differently).
    """
    return request_key("replay", messages=[[m["role"], m["content"]] for m in messages])


class Transcript:
    """Recorded replies by request; the same request asked twice gets its replies in order."""

    def __init__(
        self,
        exchanges: Iterable[dict[str, Any]],
        fallback: Callable[[list[dict[str, str]]], str] = simulated_reply,
    ) -> None:
        self.replies: dict[str, collections.deque[str]] = collections.defaultdict(collections.deque)
        for exchange in exchanges:
            if not exchange.get("cached"):  # a cache hit was never sent to the model
                self.replies[messages_key(exchange["messages"])].append(exchange["reply"])
        self.fallback = fallback
        self.hits = 0
        self.misses: list[str] = []  # the last message of each request nobody recorded

    @classmethod
    def load(cls, *paths: str | Path, **kwargs: Any) -> Transcript:
        lines = (
            json.loads(line)
            for path in paths
            for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
        return cls(lines, **kwargs)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.replies.values())

    def reply(self, messages: list[dict[str, str]]) -> str:
        """The recorded reply to ``messages`` (the last one again when asked more often)."""
        queue = self.replies.get(messages_key(messages))
        if not queue:
            self.misses.append(messages[-1]["content"][:200])
            return self.fallback(messages)
        self.hits += 1
        return queue.popleft() if len(queue) > 1 else queue[0]

    def responder(self, body: dict[str, Any]) -> str:
        """For :attr:`SimulatedEndpoint.responder`: the reply to a chat request's body."""
        return self.reply(body["messages"])
