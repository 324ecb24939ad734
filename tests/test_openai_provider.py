"""The openai backends against a real HTTP server on 127.0.0.1, through the real openai client."""

import asyncio
import base64
import time

import numpy as np
import pytest
from fake_openai import fake_vector

from smolrag_lab.progress import IngestProgress
from smolrag_lab.providers import OpenAIClient, ProviderError, Providers
from smolrag_lab.providers.embedding_response import embedding_matrix
from smolrag_lab.providers.openai_client import _whole
from smolrag_lab.providers.openai_embedder import OpenAIEmbedder

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


def client_for(settings, **changes):
    return OpenAIClient(settings.replace(completion_cache=False, **changes))


def test_chat_round_trip_and_accounting(openai_server, server_settings):
    client = client_for(server_settings)
    assert client.chat_sync(MESSAGES) == "echo: hello there"
    stats = client.stats.get("chat")
    assert (stats.calls, stats.requests, stats.retries, stats.errors) == (1, 1, 0, 0)
    assert stats.prompt_tokens == 4 and stats.completion_tokens == 3 and stats.latency_s > 0
    path, body = openai_server.requests[0]
    assert (
        path == "/v1/chat/completions"
        and body["model"] == "test-chat"
        and body["messages"] == MESSAGES
    )


def test_429_is_retried_after_the_retry_after_delay(openai_server, server_settings):
    openai_server.faults.append({"status": 429, "retry_after": "1"})
    client = client_for(server_settings)
    started = time.perf_counter()
    assert client.chat_sync(MESSAGES).startswith("echo")
    assert time.perf_counter() - started >= 1.0
    stats = client.stats.get("chat")
    assert (stats.requests, stats.retries, stats.calls) == (2, 1, 1)


def test_500s_and_malformed_bodies_are_retried(openai_server, server_settings):
    openai_server.faults.extend(
        [{"status": 500}, {"body": "{not json"}, {"json": {"choices": []}}, {"status": 503}]
    )
    client = client_for(server_settings)
    assert client.chat_sync(MESSAGES) == "echo: hello there"
    assert client.stats.get("chat").retries == 4
    assert openai_server.count("/chat/completions") == 5


def test_stall_past_timeout_is_retried(openai_server, server_settings):
    openai_server.faults.append({"stall": 2.0})
    client = client_for(server_settings, request_timeout_s=0.3)
    assert client.chat_sync(MESSAGES) == "echo: hello there"
    assert client.stats.get("chat").retries == 1


def test_gives_up_after_max_retries_with_a_clear_error(openai_server, server_settings):
    openai_server.faults.extend([{"status": 500}] * 3)
    client = client_for(server_settings, max_retries=2)
    with pytest.raises(ProviderError, match="failed after 3 attempts.*500"):
        client.chat_sync(MESSAGES)
    stats = client.stats.get("chat")
    assert (stats.errors, stats.requests, stats.calls) == (1, 3, 0)


def test_client_errors_are_not_retried(openai_server, server_settings):
    openai_server.faults.append({"status": 400})
    client = client_for(server_settings)
    with pytest.raises(ProviderError, match="rejected"):
        client.chat_sync(MESSAGES)
    assert openai_server.count() == 1


def test_concurrency_is_bounded(openai_server, server_settings):
    openai_server.latency_s = 0.1  # seconds per request
    client = client_for(server_settings, max_concurrent_requests=2)

    async def many():
        return await asyncio.gather(
            *(client.chat([{"role": "user", "content": f"q{i}"}]) for i in range(8))
        )

    assert len(asyncio.run(many())) == 8
    assert openai_server.max_in_flight == 2


def test_requests_per_minute_limit_holds_back_the_excess(openai_server, server_settings):
    client = client_for(
        server_settings, requests_per_minute=60
    )  # a burst of 60, then one per second

    async def many():
        await asyncio.gather(
            *(client.chat([{"role": "user", "content": f"r{i}"}]) for i in range(62))
        )

    started = time.perf_counter()
    asyncio.run(many())
    assert time.perf_counter() - started >= 1.5
    assert openai_server.count() == 62


def test_embeddings_are_batched_ordered_and_normalised(openai_server, server_settings):
    client = client_for(server_settings, openai_embedding_batch_size=32)
    embedder = OpenAIEmbedder(client, "test-embed", dim=16)
    texts = [f"text number {i}" for i in range(70)]
    vectors = embedder.embed(texts)
    assert vectors.shape == (70, 16) and vectors.dtype == np.float32
    assert openai_server.count("/embeddings") == 3
    expected = np.asarray([fake_vector(t, 16) for t in texts], dtype=np.float32)
    assert np.allclose(vectors, expected, atol=1e-6)
    assert client.stats.get("embeddings").items == 70


def test_embedding_dimension_is_probed_and_checked(openai_server, server_settings):
    client = client_for(server_settings)
    embedder = OpenAIEmbedder(client, "test-embed")
    assert embedder.dim == 16
    openai_server.faults.append({"dim": 8})
    with pytest.raises(ProviderError, match="8-d vectors, expected 16-d"):
        embedder.embed(["one", "two"])


def test_second_identical_run_sends_zero_requests(openai_server, server_settings):
    texts = ["alpha", "beta", "gamma"]

    def run():
        providers = Providers(server_settings)
        vectors = providers.embedder.embed(texts)
        answer = asyncio.run(providers.tasks.summarize("the whole document", "an excerpt"))
        return providers, vectors, answer

    first, v1, a1 = run()
    sent = openai_server.count()
    # dimension probe, one embedding batch, two structured-output probes (this server echoes, so
    # neither response_format kind is honoured), one chat call
    assert sent == 5
    second, v2, a2 = run()
    assert openai_server.count() == sent + 1  # only the dimension probe of the new embedder
    assert np.array_equal(v1, v2) and a1 == a2
    stats = second.stats()
    assert stats["embeddings"]["cache_hits"] == 3 and stats["chat"]["cache_hits"] == 3


def test_cache_key_covers_system_prompt_and_model(openai_server, server_settings):
    client = OpenAIClient(
        server_settings,
        cache=Providers(server_settings.replace(embedding_backend="local")).client.cache,
    )
    client.chat_sync(MESSAGES)
    client.chat_sync(MESSAGES)
    client.chat_sync([{"role": "system", "content": "be verbose"}, MESSAGES[1]])
    client.chat_sync(MESSAGES, model="other-model")
    assert openai_server.count("/chat/completions") == 3


def test_extraction_and_keywords_parse_model_output(openai_server, server_settings):
    replies = {
        "extract": '("entity"<|>smolrag<|>feature<|>A small RAG system.)+|+'
        '("relationship"<|>SmolRAG<|>LightRAG<|>Inspired by it.<|>lineage, design<|>7)<|COMPLETE|>',
        "keywords": 'Sure: {"high_level_keywords": ["caching"], '
        '"low_level_keywords": ["cache key"]}',
    }
    openai_server.responder = lambda body: replies[
        "extract" if "-Goal-" in body["messages"][0]["content"] else "keywords"
    ]
    providers = Providers(server_settings.replace(embedding_backend="local"))
    extraction = asyncio.run(providers.tasks.extract("SmolRAG was inspired by LightRAG."))
    # the undeclared endpoint is created, flagged (issue 23)
    assert [(e.name, e.type) for e in extraction.entities] == [
        ("Smolrag", "feature"),
        ("LightRAG", "undeclared"),
    ]
    assert extraction.relationships[0].weight == 7.0 and extraction.relationships[0].keywords == [
        "lineage",
        "design",
    ]
    keywords = asyncio.run(providers.tasks.keywords("How is the cache keyed?"))
    assert keywords.high_level == ["caching"] and keywords.low_level == ["cache key"]


def test_tokens_per_minute_limit_holds_back_the_excess(openai_server, server_settings):
    client = client_for(
        server_settings, tokens_per_minute=6000
    )  # a burst of 6000 tokens, then 100/s
    prompt = " ".join(["token"] * 99)  # 100 prompt tokens a request with its counter

    async def many():
        await asyncio.gather(
            *(client.chat([{"role": "user", "content": f"{i} {prompt}"}]) for i in range(62))
        )

    assert client.tokens.count(f"1 {prompt}") == 100
    started = time.perf_counter()
    asyncio.run(many())
    assert time.perf_counter() - started >= 1.5


def test_embedding_bodies_in_base64_or_lists_give_the_same_unit_vectors():
    vectors = np.array([[3.0, 4.0], [1.0, 0.0]], dtype="<f4")
    as_base64 = [base64.b64encode(v.tobytes()).decode("ascii") for v in vectors]
    for encoded in (as_base64, vectors.tolist()):
        body = {
            "data": [{"index": 1, "embedding": encoded[1]}, {"index": 0, "embedding": encoded[0]}]
        }
        np.testing.assert_allclose(embedding_matrix(body, 2, 2), [[0.6, 0.8], [1.0, 0.0]])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"object": "list"}, "no list of vectors"),
        ({"data": [{"embedding": "not base64!"}] * 2}, "undecodable"),
        ({"data": [{"embedding": [1.0, 0.0]}]}, "1 vectors for 2 inputs"),
        ({"data": [{"embedding": [1.0]}, {"embedding": [1.0, 0.0]}]}, "different lengths"),
        ({"data": [{"embedding": [1.0, 0.0, 0.0]}] * 2}, "3-d vectors, expected 2-d"),
    ],
)
def test_malformed_embedding_bodies_are_provider_errors(body, message):
    with pytest.raises(ProviderError, match=message):
        embedding_matrix(body, 2, 2)


def test_the_graph_stage_keeps_as_many_embedding_requests_in_flight_as_the_client_may(
    openai_server, server_settings
):
    """Its progress slices used to run two at a time, so at most four requests were in flight
    whatever ``max_concurrent_requests`` allowed."""
    openai_server.latency_s = 0.05
    settings = server_settings.replace(max_concurrent_requests=6, openai_embedding_batch_size=64)
    embedder = OpenAIEmbedder(client_for(settings), "test-embed", dim=16)
    bars = IngestProgress(("embeddings",), 0, enabled=False)
    texts = [f"relationship {i} - {i + 1}: depends on" for i in range(2_000)]
    vectors = asyncio.run(bars.graph_embedder(embedder).aembed(texts))
    assert vectors.shape[0] == 2_000 and openai_server.max_in_flight == 6


def test_embedding_bodies_with_missing_values_or_odd_usage():
    with pytest.raises(ProviderError, match="non-finite"):
        embedding_matrix({"data": [{"embedding": [1.0, None]}] * 2}, 2, 2)
    with pytest.raises(ProviderError, match="0-d vectors"):
        embedding_matrix({"data": [{"embedding": ""}] * 2}, 2, None)
    assert _whole("12") is None and _whole(True) is None and _whole(-1) is None and _whole(7) == 7
