"""Async client for any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server).

Adds what the ``openai`` package leaves to the caller: bounded concurrency, retries with
exponential backoff and full jitter that honour ``Retry-After`` on 429/5xx/timeouts/connection
faults, a client-side rate limit in requests and tokens per minute, a persistent response cache,
and per-call accounting. The SDK's own retries are switched off so that every attempt is counted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NoReturn

import numpy as np
import openai
from aiolimiter import AsyncLimiter

from ..aio import run_async, run_sync
from ..settings import Settings, reveal
from ..tokens import TokenCounter
from .base import ProviderError
from .cache import CompletionCache, request_key
from .embedding_response import embedding_matrix
from .http_errors import describe, retry_after
from .model_io import record_chat
from .stats import ProviderStats
from .structured import probe

log = logging.getLogger(__name__)

RETRYABLE = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)


class MalformedResponse(ProviderError):
    """The server answered 2xx with a body that is not a usable completion or embedding."""


class OpenAIClient:
    """Chat completions and embeddings with retries, limits, cache and statistics."""

    def __init__(
        self,
        settings: Settings,
        cache: CompletionCache | None = None,
        stats: ProviderStats | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache if settings.completion_cache else None
        self.stats = stats or ProviderStats()
        self.tokens = TokenCounter(settings.tokenizer_encoding)
        self.base_url = settings.openai_base_url or "https://api.openai.com/v1"
        self._client: openai.AsyncOpenAI | None = None
        self._structured: asyncio.Future[str] | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._rpm = (
            AsyncLimiter(settings.requests_per_minute, 60) if settings.requests_per_minute else None
        )
        self._tpm = (
            AsyncLimiter(settings.tokens_per_minute, 60) if settings.tokens_per_minute else None
        )

    def _sdk(self) -> openai.AsyncOpenAI:
        # Created on first use, on the background loop that runs every request.
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=reveal(self.settings.openai_api_key) or "not-needed",
                base_url=self.base_url,
                max_retries=0,
                timeout=self.settings.request_timeout_s,
            )
            self._semaphore = asyncio.Semaphore(self.settings.max_concurrent_requests)
        return self._client

    # Chat ---------------------------------------------------------------------------------
    async def chat(
        self,
        messages: Sequence[dict[str, str]],
        validate: Callable[[str], None] | None = None,
        final: tuple[int, ...] = (),
        **params: Any,
    ) -> str:
        """The assistant's text for ``messages``; cached by backend, model and the whole request.
        ``validate`` raises on text that cannot be used: such text is neither cached nor returned.
        A status in ``final`` is the server's answer, raised at once instead of retried.
        """
        return await run_async(self._chat(list(messages), params, validate, final))

    def chat_sync(self, messages: Sequence[dict[str, str]], **params: Any) -> str:
        return run_sync(self._chat(list(messages), params))

    async def _chat(
        self,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        validate: Callable[[str], None] | None = None,
        final: tuple[int, ...] = (),
    ) -> str:
        model = params.pop("model", self.settings.completion_model)
        if self.settings.completion_temperature is not None:
            params.setdefault("temperature", self.settings.completion_temperature)
        key = request_key(
            "chat",
            backend="openai",
            base_url=self.base_url,
            model=model,
            messages=messages,
            params=params,
        )
        cached = self._cached_chat(key, model, messages, params, validate)
        if cached is not None:
            return cached
        prompt_tokens = self._estimate(m["content"] for m in messages)
        self.stats.add("chat", prompt_chars=sum(len(m["content"]) for m in messages))

        async def call() -> Any:
            return await self._sdk().chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]  # plain role/content dicts are the SDK's message shape
                **params,
            )

        response, latency = await self._with_retries("chat", call, prompt_tokens, final)
        text = _chat_text(response)
        record_chat(self.settings, model, messages, params, text, latency, False)
        self._count_chat(response, latency, messages, text)
        if validate is not None:
            validate(text)
        if self.cache is not None:
            self.cache.put(key, {"text": text, "model": model})
        return text

    def _cached_chat(
        self,
        key: str,
        model: str,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        validate: Callable[[str], None] | None,
    ) -> str | None:
        """The cached text for ``key`` when there is one that ``validate`` accepts; counts the hit
        or miss (and records a hit in the model I/O log, as a call would be).
        """
        if self.cache is None:
            return None
        hit = self.cache.get(key)
        if hit is not None and _valid(hit["text"], validate):
            self.stats.add("chat", cache_hits=1)
            record_chat(self.settings, model, messages, params, hit["text"], 0.0, True)
            return hit["text"]
        self.stats.add("chat", cache_misses=1)
        return None

    def _count_chat(
        self, response: Any, latency: float, messages: list[dict[str, str]], text: str
    ) -> None:
        """An answered call in the statistics: the usage the endpoint reports, else counted here."""
        usage = getattr(response, "usage", None)
        self.stats.add(
            "chat",
            calls=1,
            items=1,
            latency_s=latency,
            prompt_tokens=getattr(usage, "prompt_tokens", None)
            or self._count(m["content"] for m in messages),
            completion_tokens=getattr(usage, "completion_tokens", None) or self.tokens.count(text),
        )

    async def structured_mode(self) -> str:
        """``structured_output`` resolved; ``auto`` probes the server once per client."""
        if self.settings.structured_output != "auto":
            return self.settings.structured_output
        return await run_async(self._resolve_structured())

    async def _resolve_structured(self) -> str:
        if self._structured is None:  # set before any await: concurrent callers share one probe
            self._structured = asyncio.ensure_future(probe(self.chat))
        return await self._structured

    # Embeddings ---------------------------------------------------------------------------
    async def embed(self, texts: Sequence[str], model: str, dim: int | None = None) -> np.ndarray:
        return await run_async(self._embed(list(texts), model, dim))

    async def _embed(self, texts: list[str], model: str, dim: int | None) -> np.ndarray:
        size = self.settings.openai_embedding_batch_size
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        parts = await asyncio.gather(*(self._embed_batch(b, model, dim) for b in batches))
        return np.concatenate(parts) if parts else np.zeros((0, dim or 0), dtype=np.float32)

    async def _embed_batch(self, texts: list[str], model: str, dim: int | None) -> np.ndarray:
        prompt_tokens = self._estimate(texts)

        async def call() -> Any:
            # The raw body, decoded here: the SDK would turn each base64 vector into a list of
            # floats and a pydantic object (a third of the client's CPU in a grouped ingestion).
            raw = await self._sdk().embeddings.with_raw_response.create(
                model=model, input=texts, encoding_format="base64"
            )
            return raw.http_response.json()

        response, latency = await self._with_retries("embeddings", call, prompt_tokens)
        vectors = embedding_matrix(response, len(texts), dim)
        usage = response.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        self.stats.add(
            "embeddings",
            calls=1,
            items=len(texts),
            latency_s=latency,
            prompt_tokens=_whole(usage.get("prompt_tokens")) or self._count(texts),
        )
        return vectors

    # Retries and limits -------------------------------------------------------------------
    async def _with_retries(
        self,
        kind: str,
        call: Callable[[], Awaitable[Any]],
        tokens: int,
        final: tuple[int, ...] = (),
    ) -> tuple[Any, float]:
        self._sdk()
        last_error: Exception | None = None
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                delay = self._backoff(attempt, last_error)
                self.stats.add(kind, retries=1)
                log.warning(
                    "%s call failed (%s); retry %d in %.2fs",
                    kind,
                    describe(last_error),
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
            assert self._semaphore is not None, "created with the client, before any call"
            try:
                async with self._semaphore:
                    await self._acquire(tokens)
                    started = time.perf_counter()
                    self.stats.add(kind, requests=1)
                    response = await self._within_deadline(kind, call)
                    _check_shape(kind, response)
                    return response, time.perf_counter() - started
            except (*RETRYABLE, MalformedResponse) as exc:
                if self.settings.request_deadline_s and isinstance(exc, openai.APITimeoutError):
                    self._give_up(kind, exc)
                if getattr(exc, "status_code", None) in final:
                    self._reject(kind, exc)
                last_error = exc
            except openai.APIStatusError as exc:  # 4xx other than 429: retrying will not help
                self._reject(kind, exc)
            except (
                openai.APIResponseValidationError,
                ValueError,
            ) as exc:  # JSONDecodeError is a ValueError
                last_error = MalformedResponse(f"unreadable response body: {exc}")
        self.stats.add(kind, errors=1)
        raise ProviderError(
            f"{kind} request to {self.base_url} failed after "
            f"{self.settings.max_retries + 1} attempts: {describe(last_error)}"
        ) from last_error

    async def _within_deadline(self, kind: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """The call, cancelled (its connection closed) at ``request_deadline_s``: a timed-out call
        is never sent again, since a server still busy with it would only queue the duplicate.
        """
        deadline = self.settings.request_deadline_s
        if not deadline:
            return await call()
        try:
            return await asyncio.wait_for(call(), deadline)
        except TimeoutError as exc:
            self._give_up(kind, exc)

    def _reject(self, kind: str, error: Exception) -> NoReturn:
        self.stats.add(kind, errors=1)
        raise ProviderError(
            f"{kind} request to {self.base_url} rejected: {describe(error)}"
        ) from error

    def _give_up(self, kind: str, error: Exception) -> None:
        self.stats.add(kind, errors=1)
        raise ProviderError(
            f"{kind} request to {self.base_url} passed its {self.settings.request_deadline_s:g}s "
            "deadline; cancelled, not re-sent"
        ) from error

    def _count(self, texts: Iterable[str]) -> int:
        return sum(self.tokens.count_many(list(texts)))

    def _estimate(self, texts: Iterable[str]) -> int:
        """Tokens a request will use, for the tokens-per-minute limit only: counted with tiktoken
        when that limit is set (0 otherwise: counting every prompt client-side was the biggest CPU
        cost of a fast ingestion; the statistics use the usage the endpoint reports).
        """
        return self._count(texts) if self.settings.tokens_per_minute else 0

    async def _acquire(self, tokens: int) -> None:
        if self._rpm is not None:
            await self._rpm.acquire()
        if self._tpm is not None:
            await self._tpm.acquire(min(max(tokens, 1), self.settings.tokens_per_minute))

    def _backoff(self, attempt: int, error: Exception | None) -> float:
        ceiling = min(
            self.settings.retry_max_delay_s, self.settings.retry_base_delay_s * 2 ** (attempt - 1)
        )
        jittered = random.uniform(0, ceiling)
        asked = retry_after(error)
        return max(jittered, asked) if asked is not None else jittered

    async def aclose(self) -> None:
        if self._client is not None:
            await run_async(self._client.close())
            self._client = None


def _whole(value: Any) -> int | None:
    """A count reported by the server, when it is one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _check_shape(kind: str, response: Any) -> None:
    if kind == "chat":
        _chat_text(response)
    elif not isinstance(response, dict) or not isinstance(response.get("data"), list):
        raise MalformedResponse(f"embeddings response has no data list: {str(response)[:200]}")


def _valid(text: str, validate: Callable[[str], None] | None) -> bool:
    try:
        if validate is not None:
            validate(text)
        return True
    except ProviderError:
        return False


def _chat_text(response: Any) -> str:
    choices = getattr(response, "choices", None)
    if not choices or getattr(choices[0], "message", None) is None:
        raise MalformedResponse(f"chat response has no choices: {str(response)[:200]}")
    content = choices[0].message.content
    if not isinstance(content, str):
        raise MalformedResponse("chat response has no text content")
    return content
