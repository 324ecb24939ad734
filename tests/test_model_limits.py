"""Model limits: output caps sent as ``max_tokens``, budgets that fit the model's window, and a
per-call deadline that cancels a stalled call instead of re-sending it to a busy server."""

import time

import pytest
from fake_openai import simulated
from test_engine import write_corpus

from smolrag_lab import Settings, SmolRag
from smolrag_lab.providers import OpenAIClient, ProviderError
from smolrag_lab.providers.structured import PROBE_MESSAGES
from smolrag_lab.query.context import PROMPT_RESERVE_TOKENS, token_budgets
from smolrag_lab.simulator import SimulatedEndpoint

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


def test_every_chat_request_carries_its_task_output_cap(tmp_path):
    limits = dict(
        max_output_tokens_extraction=777,
        max_output_tokens_summary=111,
        max_output_tokens_keywords=55,
        max_output_tokens_answer=333,
    )
    endpoint = SimulatedEndpoint(dim=16)
    with simulated(endpoint, tmp_path / "data", completion_model="sim-chat", **limits) as (
        server,
        settings,
    ):
        with SmolRag(settings) as rag:
            assert rag.ingest(write_corpus(tmp_path / "corpus"), progress=False).failed == []
            rag.query("Which store keeps entities?", "mix")
        chats = [
            body
            for path, body in server.requests
            if path.endswith("/chat/completions") and body["messages"] != PROBE_MESSAGES
        ]
        caps = {body.get("max_tokens") for body in chats}
        assert chats and None not in caps
        assert caps <= {777, 111, 55, 333} and {55, 333} <= caps and caps & {777, 111}


def test_budgets_shrink_to_fit_the_model_window():
    wide = Settings(model_context_tokens=0)
    assert token_budgets(wide, "mix")["excerpts"] == wide.excerpt_token_budget
    small = Settings(model_context_tokens=8192, max_output_tokens_answer=1000)
    for mode in ("standard", "local_kg", "global_kg", "hybrid_kg", "mix"):
        budgets = token_budgets(small, mode)
        assert sum(budgets.values()) + 1000 + PROMPT_RESERVE_TOKENS <= 8192
        assert all(
            b > 0
            for name, b in budgets.items()
            if mode != "standard" or "kg" in name or name == "excerpts"
        )
    roomy = Settings(model_context_tokens=200_000)
    assert token_budgets(roomy, "mix") == token_budgets(wide, "mix")


def test_mix_context_fits_an_8k_model(tmp_path):
    limits = dict(model_context_tokens=2000, max_output_tokens_answer=500)
    with simulated(SimulatedEndpoint(dim=16), tmp_path / "data", **limits) as (_, settings):
        with SmolRag(settings) as rag:
            rag.ingest(write_corpus(tmp_path / "corpus"), progress=False)
            result = rag.query("Which store keeps entities?", "mix")
        assert result.token_counts["total"] <= 2000 - 500 - PROMPT_RESERVE_TOKENS + 50


def test_a_stalled_call_is_cancelled_at_its_deadline_and_not_re_sent(
    openai_server, server_settings
):
    openai_server.faults.extend([{"stall": 3.0}, {"stall": 3.0}])
    client = OpenAIClient(
        server_settings.replace(completion_cache=False, request_deadline_s=0.5, max_retries=3)
    )
    started = time.perf_counter()
    with pytest.raises(ProviderError, match="deadline"):
        client.chat_sync(MESSAGES)
    assert time.perf_counter() - started < 2.5
    assert openai_server.count("/chat/completions") == 1
    stats = client.stats.get("chat")
    assert (stats.requests, stats.retries, stats.errors) == (1, 0, 1)


def test_sdk_timeout_is_not_retried_when_a_deadline_is_set(openai_server, server_settings):
    openai_server.faults.append({"stall": 3.0})
    client = OpenAIClient(
        server_settings.replace(
            completion_cache=False, request_deadline_s=10.0, request_timeout_s=0.3, max_retries=3
        )
    )
    with pytest.raises(ProviderError):
        client.chat_sync(MESSAGES)
    assert openai_server.count("/chat/completions") == 1
