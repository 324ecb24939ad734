"""The four completion tasks on an OpenAI-compatible chat endpoint, with the upstream formats."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from typing import Any

from .. import prompts
from ..ingest.grouping import attribute
from ..query.citations import check_citations
from .base import CompletionTasks, Extraction, ProviderError, QueryKeywords
from .local_tasks import extract as local_extract
from .local_tasks import summarize as local_summarize
from .openai_client import OpenAIClient
from .record_checks import RecordChecker
from .record_shapes import parse_loose, parse_loose_summaries, strip_summaries
from .records import (
    check_extraction,
    check_group_cutoff,
    parse_extraction,
    parse_group_output,
    parse_keywords,
    without_summaries,
)
from .structured import json_summaries, response_format, summary_text

log = logging.getLogger(__name__)


class UnusableOutput(ProviderError):
    """The model answered, but with text that cannot be used: re-asked, never cached."""


def _usable(text: str) -> None:
    """Refuse (and so never cache) output cut off mid-record; other shapes are read loosely."""
    extraction, report = parse_extraction(text)
    if extraction.entities or extraction.relationships:
        try:
            check_extraction(text, report)
        except ProviderError as exc:
            raise UnusableOutput(str(exc)) from exc


def _group_usable(n: int) -> Callable[[str], None]:
    def check(text: str) -> None:
        try:
            check_group_cutoff(text, n)
        except ProviderError as exc:
            raise UnusableOutput(str(exc)) from exc

    return check


def _reask(messages: list[dict[str, str]], error: str, as_json: bool) -> list[dict[str, str]]:
    return [*messages, {"role": "user", "content": prompts.reask(error, as_json)}]


def _with_quality(
    extraction: Extraction, quality: collections.Counter[str], checker: RecordChecker | None
) -> Extraction:
    counts = collections.Counter(extraction.quality) + quality
    if checker is not None:
        for key in ("kept", "endpoint_created", "repaired_punctuation"):
            counts[key] += checker.reasons[key]
        counts.update({f"dropped_{k}": v for k, v in checker.dropped.items()})
    extraction.quality = dict(counts)
    return extraction


class OpenAITasks(CompletionTasks):
    backend = "openai"

    def __init__(self, client: OpenAIClient, entity_types: Sequence[str]) -> None:
        super().__init__()
        self.client = client
        self.stats = client.stats
        self.model = client.settings.completion_model
        self.entity_types = tuple(entity_types)

    def _cap(self, task: str) -> dict[str, Any]:
        """``max_tokens`` for a task from ``max_output_tokens_<task>`` (nothing when 0)."""
        limit = getattr(self.client.settings, f"max_output_tokens_{task}")
        return {"max_tokens": limit} if limit else {}

    async def _request(self, task: str) -> tuple[bool, dict[str, Any]]:
        """Whether ``task`` is asked for JSON (``structured_output``), and its call parameters:
        ``max_tokens`` and, for JSON, the ``response_format`` with the task's schema.
        """
        mode = await self.client.structured_mode()
        params = self._cap("extraction" if task == "group" else task)
        if mode != "off":
            params["response_format"] = response_format(mode, task)
        return mode != "off", params

    async def summarize(self, document: str, excerpt: str) -> str:
        as_json, params = await self._request("summary")
        text = await self.client.chat(prompts.excerpt_summary(document, excerpt, as_json), **params)
        return summary_text(text) if as_json else text.strip()

    async def extract(self, excerpt: str) -> Extraction:
        """Records for one excerpt: re-asked once with the problem when nothing usable came back,
        then the local extractor; bad records dropped with counted reasons (``quality``).
        """
        as_json, params = await self._request("extraction")
        messages = prompts.entity_extraction(excerpt, self.entity_types, as_json)
        checker = RecordChecker(excerpt, self.entity_types, example=messages[0]["content"])
        extraction, error = await self._ask_records(messages, checker, params)
        quality: collections.Counter[str] = collections.Counter()
        if error:
            quality["reasked"] += 1
            again = _reask(messages, error, as_json)
            extraction, error = await self._ask_records(again, checker, params)
        if error:
            quality["fallback_local"] += 1
            log.warning("extraction: no usable records (%s); local extractor used", error)
            extraction = checker.check(local_extract(excerpt))
            quality["kept_local"] += len(extraction.entities) + len(extraction.relationships)
        return _with_quality(extraction, quality, checker)

    async def _ask_records(
        self, messages: list[dict[str, str]], checker: RecordChecker, params: dict[str, Any]
    ) -> tuple[Extraction, str | None]:
        """One call's validated records, or the reason nothing usable came back."""
        try:
            text = await self.client.chat(messages, validate=_usable, **params)
        except UnusableOutput as exc:
            return Extraction(), str(exc)
        return self._records(text, checker)

    def _records(self, text: str, checker: RecordChecker) -> tuple[Extraction, str | None]:
        extraction, report = parse_extraction(text)
        if not (extraction.entities or extraction.relationships):
            extraction = parse_loose(text)
        elif report.skipped:
            self.stats.add("extraction_parse", errors=report.skipped, items=report.records)
        before = checker.reasons["not_in_text"] + checker.reasons["relationship_not_in_text"]
        kept = checker.check(extraction)
        ungrounded = checker.reasons["not_in_text"] + checker.reasons["relationship_not_in_text"]
        if ungrounded - before:
            self.stats.add(
                "extraction_ungrounded", errors=ungrounded - before, items=ungrounded - before
            )
        if not kept.entities:
            return kept, f"no usable record ({dict(checker.dropped) or 'none readable'})"
        return kept, None

    async def process_group(
        self, document: str, context: str, excerpts: Sequence[str]
    ) -> list[tuple[str, Extraction]]:
        """One chat call for the group; re-asked once with the problem, then per-excerpt calls,
        then the local extractor. Summary lines the model did write are kept; an excerpt whose
        summary is missing gets the local extractive summary, so a group never fails whole.
        """
        n = len(excerpts)
        as_json, params = await self._request("group")
        messages = prompts.group_processing(context, excerpts, self.entity_types, as_json)
        checker = RecordChecker(
            "\n".join([context, *excerpts]), self.entity_types, example=messages[0]["content"]
        )
        quality: collections.Counter[str] = collections.Counter()
        summaries, extraction, error = await self._ask_group(messages, checker, n, params)
        if error:
            quality["reasked"] += 1
            again = _reask(messages, error, as_json)
            more, extraction, error = await self._ask_group(again, checker, n, params)
            summaries = {**more, **summaries}
        if error:
            quality["fallback_excerpts"] += 1
            log.warning("group output unusable (%s); per-excerpt calls", error)
            per_excerpt = [await self.extract(e) for e in excerpts]
        else:
            per_excerpt = attribute(extraction, excerpts)
        missing = [i for i in range(1, n + 1) if i not in summaries]
        if missing:
            self.stats.add("group_parse", errors=len(missing), items=n)
        per_excerpt[0] = _with_quality(per_excerpt[0], quality, checker)
        return [
            (summaries.get(i + 1) or local_summarize(document, e), per_excerpt[i])
            for i, e in enumerate(excerpts)
        ]

    async def _ask_group(
        self, messages: list[dict[str, str]], checker: RecordChecker, n: int, params: dict[str, Any]
    ) -> tuple[dict[int, str], Extraction, str | None]:
        try:
            text = await self.client.chat(messages, validate=_group_usable(n), **params)
        except UnusableOutput as exc:
            return {}, Extraction(), str(exc)
        summaries, _, _ = parse_group_output(text, n)
        summaries.update(parse_loose_summaries(text, n))
        summaries.update(json_summaries(text, n))
        own = {i: text for i, text in summaries.items() if not checker.copied(text)}
        if len(own) < len(summaries):  # the example's summaries read back: local ones instead
            checker.reasons["copied_summary"] += len(summaries) - len(own)
        body = strip_summaries(without_summaries(text))
        extraction, error = self._records(body, checker)
        return own, extraction, error

    async def keywords(self, query: str) -> QueryKeywords:
        _, params = await self._request("keywords")
        return parse_keywords(await self.client.chat(prompts.query_keywords(query), **params))

    async def answer(self, question: str, context: str, sources: Sequence[str], mode: str) -> str:
        """The answer; re-asked once with the problem when it cites a source that does not exist
        or has a sentence without a citation (the engine marks one still failing as uncited).
        """
        messages = prompts.answer(question, context, mode)
        reply = (await self.client.chat(messages, **self._cap("answer"))).strip()
        check = check_citations(reply, len(sources))
        if check.ok:
            return reply
        self.stats.add("answer_citations", errors=1, items=1)
        again = [
            *messages,
            {"role": "assistant", "content": reply},
            {"role": "user", "content": prompts.recite(check.problem())},
        ]
        retry = (await self.client.chat(again, **self._cap("answer"))).strip()
        return retry if check_citations(retry, len(sources)).ok or not reply else reply
