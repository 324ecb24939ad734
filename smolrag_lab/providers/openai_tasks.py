"""The four completion tasks on an OpenAI-compatible chat endpoint, with the upstream formats."""

from __future__ import annotations

import logging
from typing import Sequence

from .. import prompts
from .base import CompletionTasks, Extraction, QueryKeywords
from .openai_client import OpenAIClient
from .records import check_extraction, parse_extraction, parse_keywords

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

    async def summarize(self, document: str, excerpt: str) -> str:
        return (await self.client.chat(prompts.excerpt_summary(document, excerpt))).strip()

    async def extract(self, excerpt: str) -> Extraction:
        text = await self.client.chat(prompts.entity_extraction(excerpt, self.entity_types), validate=_usable)
        extraction, report = parse_extraction(text)
        if report.skipped:
            self.stats.add("extraction_parse", errors=report.skipped, items=report.records)
            log.warning("extraction output: %d unreadable record(s) skipped", report.skipped)
        return extraction

    async def keywords(self, query: str) -> QueryKeywords:
        return parse_keywords(await self.client.chat(prompts.query_keywords(query)))

    async def answer(self, question: str, context: str, sources: Sequence[str], mode: str) -> str:
        return (await self.client.chat(prompts.answer(question, context, mode))).strip()
