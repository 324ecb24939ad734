"""What was said to the model and what it answered: DEBUG log lines (truncated) and, with
``model_io_log`` (``--log-model-io FILE``), one JSON line per chat call with the whole exchange, so
a failed document can be understood and the exchange replayed through the simulator later. Secrets
(the API key, bearer tokens, ``sk-`` keys) are masked in both.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..settings import Settings, reveal

log = logging.getLogger(__name__)
DEBUG_CHARS = 600  # per message in the DEBUG log; the JSONL file keeps everything
_SECRET_SHAPES = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}")
_lock = threading.Lock()


def mask(text: str, settings: Settings) -> str:
    key = reveal(settings.openai_api_key)
    if key and len(key) >= 4:
        text = text.replace(key, "***")
    return _SECRET_SHAPES.sub("***", text)


def _short(text: str) -> str:
    return text if len(text) <= DEBUG_CHARS else f"{text[:DEBUG_CHARS]}... [{len(text)} chars]"


def record_chat(
    settings: Settings,
    model: str,
    messages: Sequence[dict[str, str]],
    params: dict[str, Any],
    reply: str,
    latency_s: float,
    cached: bool,
) -> None:
    """Log one chat exchange at DEBUG and append it to ``model_io_log`` when that is set."""
    if log.isEnabledFor(logging.DEBUG):
        for m in messages:
            log.debug("chat %s %s: %s", model, m["role"], mask(_short(m["content"]), settings))
        log.debug(
            "chat %s reply (%.2fs%s): %s",
            model,
            latency_s,
            ", cached" if cached else "",
            mask(_short(reply), settings),
        )
    path: Path | None = settings.model_io_log
    if path is None:
        return
    line = json.dumps(
        {
            "time": time.time(),
            "model": model,
            "params": params,
            "messages": [{**m, "content": mask(m["content"], settings)} for m in messages],
            "reply": mask(reply, settings),
            "latency_s": round(latency_s, 4),
            "cached": cached,
        },
        ensure_ascii=False,
    )
    with _lock, open(path, "a", encoding="utf-8") as out:  # O_APPEND: whole lines across processes
        out.write(line + "\n")
