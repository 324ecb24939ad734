"""Every prompt and response: DEBUG log lines (truncated, secrets masked) and the
``--log-model-io FILE`` JSONL record, written by a real CLI process against a loopback server."""

import json
import logging
import os
import subprocess
import sys

from test_engine import write_corpus

from smolrag_lab.providers import OpenAIClient
from smolrag_lab.simulator import simulated_reply

SECRET = "sk-very-secret-key-0123456789"


def test_cli_writes_every_exchange_as_jsonl_with_the_key_masked(openai_server, tmp_path):
    openai_server.responder = lambda body: simulated_reply(body["messages"])
    log_file = tmp_path / "model-io.jsonl"
    env = {
        **os.environ,
        "OPENAI_API_KEY": SECRET,
        "OPENAI_BASE_URL": openai_server.base_url,
        "SMOLRAG_COMPLETION_BACKEND": "openai",
        "SMOLRAG_EMBEDDING_BACKEND": "openai",
        "SMOLRAG_EMBEDDING_MODEL": "test-embed",
        "SMOLRAG_CHUNK_SIZE": "40",
        "SMOLRAG_CHUNK_OVERLAP": "0",
        "SMOLRAG_LOG_TO_FILE": "false",
    }
    env.pop("SMOLRAG_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "smolrag_lab.cli", "--log-model-io", str(log_file), "ingest",
         str(write_corpus(tmp_path / "corpus")), "--data-dir", str(tmp_path / "data")],
        env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    chats = openai_server.count("/chat/completions")
    assert chats > 0 and len(lines) == chats
    for line in lines:
        assert line["messages"] and line["reply"] and line["params"].get("max_tokens")
    assert SECRET not in log_file.read_text(encoding="utf-8")


def test_debug_log_shows_prompt_and_reply_truncated_and_masked(
    openai_server, server_settings, caplog
):
    openai_server.responder = lambda body: f"the key is {SECRET} " + "x" * 5000
    client = OpenAIClient(server_settings.replace(openai_api_key=SECRET, completion_cache=False))
    prompt = [{"role": "user", "content": f"Bearer abcdefghijklmnop {'y' * 3000}"}]
    with caplog.at_level(logging.DEBUG, logger="smolrag_lab.providers.model_io"):
        client.chat_sync(prompt)
    text = caplog.text
    assert "chat test-chat user:" in text and "chat test-chat reply" in text
    assert SECRET not in text and "abcdefghijklmnop" not in text and "***" in text
    assert "[3024 chars]" in text and "[5041 chars]" in text and "x" * 1000 not in text
