from pathlib import Path

import pytest

from smolrag_lab.settings import Settings, SettingsError, reveal


def test_defaults_are_offline_and_valid():
    s = Settings()
    assert s.resolved_completion_backend == "local"
    assert s.embedding_backend == "local"
    assert s.chunk_size <= 256  # fits MiniLM's input limit
    assert isinstance(s.data_dir, Path)


def test_environment_variables_are_read_and_coerced():
    env = {
        "SMOLRAG_CHUNK_SIZE": "120",
        "SMOLRAG_EXCERPT_THRESHOLD": "0.3",
        "SMOLRAG_QUERY_CACHE": "false",
        "SMOLRAG_ENTITY_TYPES": "person, place",
        "OPENAI_API_KEY": "sk-x",
        "OPENAI_BASE_URL": "http://h/v1",
        "SMOLRAG_DATA_DIR": "/tmp/somewhere",
    }
    s = Settings.load(env=env)
    assert s.chunk_size == 120 and s.excerpt_threshold == 0.3 and s.query_cache is False
    assert s.entity_types == ("person", "place")
    assert reveal(s.openai_api_key) == "sk-x" and s.openai_base_url == "http://h/v1"
    assert s.resolved_completion_backend == "openai"
    assert s.data_dir == Path("/tmp/somewhere")


def test_precedence_toml_then_env_then_kwargs(tmp_path):
    toml = tmp_path / "smolrag.toml"
    toml.write_text('[smolrag]\nchunk_size = 150\nexcerpt_top_k = 7\nlog_level = "INFO"\n')
    s = Settings.load(toml, env={"SMOLRAG_EXCERPT_TOP_K": "9"}, log_level="DEBUG")
    assert (s.chunk_size, s.excerpt_top_k, s.log_level) == (150, 9, "DEBUG")
    via_env = Settings.load(env={"SMOLRAG_CONFIG": str(toml)})
    assert via_env.chunk_size == 150


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"chunk_size": 5}, ["chunk_size", "16"]),
        ({"excerpt_threshold": 1.5}, ["excerpt_threshold", "1.0"]),
        ({"chunk_strategy": "paragraphs"}, ["chunk_strategy", "markdown"]),
        ({"chunk_size": 100, "chunk_overlap": 100}, ["chunk_overlap", "chunk_size"]),
        ({"max_concurrent_requests": "many"}, ["max_concurrent_requests", "int"]),
        ({"no_such_knob": 1}, ["no_such_knob"]),
    ],
)
def test_invalid_values_name_the_setting_and_range(kwargs, words):
    with pytest.raises(SettingsError) as info:
        Settings.load(env={}, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_bad_toml_file_is_reported(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("chunk_size = = 3")
    with pytest.raises(SettingsError, match="bad.toml"):
        Settings.load(bad, env={})


def test_describe_masks_the_api_key():
    described = Settings(openai_api_key="sk-secret-value").describe()
    assert "secret" not in str(described["openai_api_key"]["value"])
    assert described["chunk_size"]["lo"] == 16
