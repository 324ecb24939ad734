"""The four completion tasks on an OpenAI-compatible chat endpoint, with the upstream formats."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .. import prompts
from ..ingest.grouping import attribute
from .base import CompletionTasks, Extraction, QueryKeywords
from .local_tasks import summarize as local_summarize
from .openai_client import OpenAIClient
from .records import (
    check_extraction,
    check_group_output,
    grounded,
    parse_extraction,
    parse_group_output,
    parse_keywords,
)

log = logging.getLogger(__name__)


def _usable(text: str) -> None:
    check_extraction(text, parse_extraction(text)[1])


class OpenAITasks(CompletionTasks):
    backend = "openai"

    def __init__(self, client: OpenAIClient, entity_types: Sequence[str]) -> None:
        super().__init__()
        self.client = client
        self.stats = client.stats
        self.model = client.settings.completion_model
        self.entity_types = tuple(entity_types)

    def _cap(self, task: str) -> dict[str, int]:
        """``max_tokens`` for a task from ``max_output_tokens_<task>`` (nothing when 0)."""
        limit = getattr(self.client.settings, f"max_output_tokens_{task}")
        return {"max_tokens": limit} if limit else {}

    async def summarize(self, document: str, excerpt: str) -> str:
        return (
            await self.client.chat(
                prompts.excerpt_summary(document, excerpt), **self._cap("summary")
            )
        ).strip()

    async def extract(self, excerpt: str) -> Extraction:
        text = await self.client.chat(
            prompts.entity_extraction(excerpt, self.entity_types),
            validate=_usable,
            **self._cap("extraction"),
        )
        extraction, report = parse_extraction(text)
        if report.skipped:
            self.stats.add("extraction_parse", errors=report.skipped, items=report.records)
            log.warning("extraction output: %d unreadable record(s) skipped", report.skipped)
        return self._grounded(extraction, excerpt)

    def _grounded(self, extraction: Extraction, source_text: str) -> Extraction:
        kept, dropped = grounded(extraction, source_text)
        if dropped:
            self.stats.add("extraction_ungrounded", errors=dropped, items=dropped)
            log.warning(
                "extraction output: %d record(s) naming nothing in the text dropped", dropped
            )
        return kept

    async def process_group(
        self, document: str, context: str, excerpts: Sequence[str]
    ) -> list[tuple[str, Extraction]]:
        """One chat call for the group. An excerpt whose summary the model left out gets the local
        extractive summary (counted as a parse error), so a group never half-fails.
        """
        n = len(excerpts)
        text = await self.client.chat(
            prompts.group_processing(context, excerpts, self.entity_types),
            validate=lambda t: check_group_output(t, n),
            **self._cap("extraction"),
        )
        summaries, extraction, report = parse_group_output(text, n)
        missing = [i for i in range(1, n + 1) if i not in summaries]
        if missing or report.skipped:
            self.stats.add("group_parse", errors=len(missing) + report.skipped, items=n)
            log.warning(
                "group output: %d summaries missing, %d unreadable records",
                len(missing),
                report.skipped,
            )
        extraction = self._grounded(extraction, "\n".join([context, *excerpts]))
        per_excerpt = attribute(extraction, excerpts)
        return [
            (summaries.get(i + 1) or local_summarize(document, e), per_excerpt[i])
            for i, e in enumerate(excerpts)
        ]

    async def keywords(self, query: str) -> QueryKeywords:
        return parse_keywords(
            await self.client.chat(prompts.query_keywords(query), **self._cap("keywords"))
        )

    async def answer(self, question: str, context: str, sources: Sequence[str], mode: str) -> str:
        return (
            await self.client.chat(prompts.answer(question, context, mode), **self._cap("answer"))
        ).strip()
