"""Structured (JSON) output: the schemas of the extraction, group, summary and keyword tasks, the
``response_format`` each server kind understands, and reading JSON replies, truncated ones included.

Servers differ: OpenAI and vLLM take ``{"type": "json_schema", "json_schema": {...}}``; llama.cpp's
``llama_cpp.server`` answers that with a 500 but constrains decoding with its own
``{"type": "json_object", "schema": {...}}``. ``structured_output=auto`` probes which one works
(:meth:`OpenAIClient.structured_mode`); ``off`` keeps the delimiter records for servers without.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from .base import Extraction, ProviderError

log = logging.getLogger(__name__)

MODES = ("json_schema", "json_object")  # in the order ``auto`` tries them


def _object(**properties: dict) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_TEXT, _NUMBER = {"type": "string"}, {"type": "number"}
_WORDS = {"type": "array", "items": _TEXT}
_ENTITY = _object(name=_TEXT, type=_TEXT, description=_TEXT)
_RELATIONSHIP = _object(
    source=_TEXT, target=_TEXT, description=_TEXT, keywords=_WORDS, strength=_NUMBER
)
_RECORDS: dict[str, dict[str, Any]] = {
    # At least one entity: with an empty list allowed, a small model under constrained decoding
    # (Qwen2.5-0.5B on llama.cpp) answered ``[]`` for 19 of 24 excerpts.
    "entities": {"type": "array", "items": _ENTITY, "minItems": 1},
    "relationships": {"type": "array", "items": _RELATIONSHIP},
    "content_keywords": _WORDS,
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "summary": _object(summary=_TEXT),
    "extraction": _object(**_RECORDS),
    "group": _object(
        summaries={"type": "array", "items": _object(excerpt=_TEXT, summary=_TEXT)}, **_RECORDS
    ),
    "keywords": _object(high_level_keywords=_WORDS, low_level_keywords=_WORDS),
    "probe": _object(ok={"type": "boolean"}),
}
PROBE_MESSAGES = [{"role": "user", "content": 'Reply with the JSON object {"ok": true}.'}]


def response_format(mode: str, task: str) -> dict[str, Any]:
    """The ``response_format`` parameter asking a server of ``mode`` for ``task``'s schema."""
    schema = SCHEMAS[task]
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": f"smolrag_{task}", "schema": schema, "strict": True},
        }
    return {"type": "json_object", "schema": schema}


async def probe(chat: Callable[..., Awaitable[str]]) -> str:
    """The first ``response_format`` kind the server honours, else ``off``. A 500 is the server's
    answer here (llama.cpp's to a kind it lacks), not retried; replies are cached like any other,
    so a second run does not probe again.
    """
    for mode in MODES:
        try:
            reply = await chat(
                PROBE_MESSAGES,
                final=(500,),
                max_tokens=20,
                temperature=0,
                response_format=response_format(mode, "probe"),
            )
        except ProviderError as exc:
            log.info("structured output: %s refused (%s)", mode, exc)
            continue
        data = read_json(reply)
        if isinstance(data, dict) and isinstance(data.get("ok"), bool):
            log.info("structured output: %s", mode)
            return mode
    log.info("structured output: off, the server honours no response_format")
    return "off"


_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_FLAT_OBJECT = re.compile(r"\{[^{}]*\}")


def read_json(text: str) -> Any:
    """The JSON value in a reply (bare or in a ``` fence); None when there is none."""
    for candidate in [m.group(1) for m in _FENCE.finditer(text)] or [text]:
        try:
            return json.loads(candidate.strip())
        except ValueError:
            continue
    return None


def flat_objects(text: str) -> list[dict[str, Any]]:
    """Every complete innermost ``{...}`` object in ``text``: the records a reply cut off at
    ``max_tokens`` did finish (an entity or relationship object holds no nested object).
    """
    found = []
    for match in _FLAT_OBJECT.finditer(text):
        try:
            item = json.loads(match.group())
        except ValueError:
            continue
        if isinstance(item, dict):
            found.append(item)
    return found


def summary_text(text: str) -> str:
    """The sentence of a JSON summary reply, or the reply itself when it is not JSON."""
    data = read_json(text)
    if isinstance(data, dict) and isinstance(data.get("summary"), str):
        return data["summary"].strip()
    return text.strip()


def json_summaries(text: str, n_excerpts: int) -> dict[int, str]:
    """Group summaries by excerpt number from ``{"excerpt": "E2", "summary": ...}`` objects."""
    found: dict[int, str] = {}
    for item in flat_objects(text):
        number = re.fullmatch(r"\s*E?(\d+)\s*", str(item.get("excerpt", "")), re.IGNORECASE)
        summary = str(item.get("summary") or "").strip()
        if number and summary and 1 <= int(number.group(1)) <= n_excerpts:
            found.setdefault(int(number.group(1)), summary)
    return found


# Rendering (the simulator answers a structured request as a constrained model would) -----------
def extraction_json(extraction: Extraction, summaries: dict[int, str] | None = None) -> str:
    """An extraction (and a group's summaries) as the JSON the task schemas describe."""
    data: dict[str, Any] = {}
    if summaries is not None:
        data["summaries"] = [{"excerpt": f"E{n}", "summary": s} for n, s in summaries.items()]
    data["entities"] = [
        {"name": e.name, "type": e.type, "description": e.description} for e in extraction.entities
    ]
    data["relationships"] = [
        {
            "source": r.source,
            "target": r.target,
            "description": r.description,
            "keywords": list(r.keywords),
            "strength": r.weight,
        }
        for r in extraction.relationships
    ]
    data["content_keywords"] = list(extraction.content_keywords)
    return json.dumps(data)


def schema_instance(schema: dict[str, Any]) -> Any:
    """The plainest value a schema allows: what a constrained decoder yields for a prompt it does
    not understand (a probe's ``ok`` becomes ``true``).
    """
    kind = str(schema.get("type"))
    if kind == "object":
        props = schema.get("properties", {})
        return {key: schema_instance(props[key]) for key in schema.get("required", props)}
    if kind == "array":
        return [schema_instance(schema["items"]) for _ in range(schema.get("minItems", 0))]
    return {"string": "", "number": 0, "integer": 0, "boolean": True}.get(kind)


def requested_kind(body: dict[str, Any]) -> str:
    """The ``response_format`` kind a chat request asks for (``text`` when it names none)."""
    return str((body.get("response_format") or {}).get("type", "text"))


def requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a chat request's ``response_format`` asks for (``{}``: JSON of any shape), or
    None when it asks for plain text: the server side of :func:`response_format`.
    """
    asked, kind = body.get("response_format") or {}, requested_kind(body)
    if kind == "json_schema":
        return dict((asked.get("json_schema") or {}).get("schema") or {})
    if kind == "json_object":
        return dict(asked.get("schema") or {})
    return None
