import dataclasses
import json
import logging
import os
from pathlib import Path

import pytest

from smolrag_lab import SmolRag, cli
from smolrag_lab.lab.tables import settings_table
from smolrag_lab.query.cache import RESULT_SETTINGS
from smolrag_lab.settings import (
    CONCERNS,
    INDEX_SETTINGS,
    QUERY_SETTINGS,
    Settings,
    SettingsError,
    reveal,
    settings_of,
)
from smolrag_lab.settings_values import mask_url


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


def test_a_retired_setting_warns_and_is_dropped(tmp_path):
    config = tmp_path / "smolrag.toml"
    config.write_text("graph_save_interval_s = 5\nchunk_size = 90\n")
    with pytest.warns(UserWarning, match="graph_save_interval_s is ignored"):
        loaded = Settings.load(config, env={})
    assert loaded.chunk_size == 90 and not hasattr(loaded, "graph_save_interval_s")
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.load(env={}, graph_save_interval=5)


def test_describe_masks_the_api_key():
    described = Settings(openai_api_key="sk-secret-value").describe()
    assert "secret" not in str(described["openai_api_key"]["value"])
    assert described["chunk_size"]["lo"] == 16


# Concerns -----------------------------------------------------------------------------------
def test_every_setting_has_exactly_one_concern_and_the_tuples_derive_from_it():
    names = [f.name for f in dataclasses.fields(Settings)]
    by_concern = [settings_of(c) for c in CONCERNS]
    assert sorted(n for group in by_concern for n in group) == sorted(names)
    assert settings_of("index") == INDEX_SETTINGS and settings_of("query") == QUERY_SETTINGS
    assert {"chunk_size", "chunk_overlap", "chunk_strategy", "embedding_model"} <= set(
        INDEX_SETTINGS
    )
    assert {"excerpt_top_k", "prune_min_degree", "query_cache"} <= set(QUERY_SETTINGS)
    assert Settings().describe()["chunk_size"]["concern"] == "index"
    assert set(QUERY_SETTINGS) <= set(RESULT_SETTINGS)  # every override is in the cache key


def test_query_overrides_name_the_allowed_keys():
    s = Settings(data_dir="/tmp/unused")
    assert s.for_query(excerpt_top_k=9).excerpt_top_k == 9 and s.for_query() is s
    with pytest.raises(SettingsError) as info:
        s.for_query(chunk_size=80, excerpt_top_k=2)
    text = str(info.value)
    assert "chunk_size" in text and all(name in text for name in QUERY_SETTINGS)
    assert "excerpt_top_k" not in text.split(";")[0]


# Secrets ------------------------------------------------------------------------------------
SECRETS = {
    "OPENAI_API_KEY": "sk-live-do-not-print-4242",
    "SMOLRAG_API_TOKEN": "token-do-not-print-1717",
    "SMOLRAG_DATABASE_URL": "postgresql://smol:pw-do-not-print-9393@db.internal:5432/rag",
}
LEAKS = ("do-not-print",)


def assert_no_secret(text):
    assert not any(word in text for word in LEAKS), text


def test_secrets_are_masked_in_repr_str_and_describe():
    s = Settings.load(env=SECRETS)
    assert_no_secret(repr(s))
    assert_no_secret(str(s))
    assert_no_secret(json.dumps(s.describe(), default=str))
    assert_no_secret(repr(s.postgres_options))
    assert reveal(s.openai_api_key) == SECRETS["OPENAI_API_KEY"]
    assert reveal(s.api_token) == SECRETS["SMOLRAG_API_TOKEN"]
    assert reveal(s.database_url) == SECRETS["SMOLRAG_DATABASE_URL"]
    assert s.postgres_options.dsn == SECRETS["SMOLRAG_DATABASE_URL"]
    # the URL keeps what says where the index is, masking only the password
    assert str(s.database_url) == "postgresql://smol:**********@db.internal:5432/rag"
    assert s.replace(chunk_size=100) == s.replace(chunk_size=100)  # secrets still compare


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://u:p%40ss@h/db", "postgresql://u:**********@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("host=h user=u password=hunter2 dbname=x", "host=h user=u password=********** dbname=x"),
        (
            "postgresql://u:p@[::1]:5433/db?sslmode=require",
            "postgresql://u:**********@[::1]:5433/db?sslmode=require",
        ),
    ],
)
def test_database_urls_show_everything_but_the_password(url, shown):
    assert mask_url(url) == shown


def test_errors_about_other_settings_carry_no_secret():
    with pytest.raises(SettingsError) as info:
        Settings.load(env={**SECRETS, "SMOLRAG_CHUNK_SIZE": "5"})
    assert_no_secret(str(info.value))


def test_settings_command_masks_secrets(monkeypatch, capsys):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    for args in (["settings"], ["settings", "--json"]):
        assert cli.main(args) == 0
        out = capsys.readouterr().out
        assert_no_secret(out)
        assert "db.internal" in out and "**********" in out


def test_logs_carry_no_secret(tmp_path, caplog):
    env = {k: v for k, v in SECRETS.items() if k != "SMOLRAG_DATABASE_URL"}
    settings = Settings.load(
        env=env, data_dir=tmp_path / "data", log_level="DEBUG", completion_backend="local"
    )
    (tmp_path / "doc.md").write_text("# Notes\n\nThe GraphStore keeps entities.\n")
    with caplog.at_level(logging.DEBUG), SmolRag(settings) as rag:
        logging.getLogger("smolrag_lab").info("settings in force: %r", rag.settings)
        rag.ingest(tmp_path / "doc.md", progress=False)
        rag.query("What keeps entities?")
    assert caplog.records
    assert_no_secret(caplog.text)
    log_file = tmp_path / "data" / "logs" / "smolrag_lab.log"
    assert "settings in force" in log_file.read_text()
    assert_no_secret(log_file.read_text())


def test_notebook_00_settings_table_masks_secrets():
    table = settings_table(Settings.load(env=SECRETS))
    assert (
        list(table.columns) == ["concern", "value"]
        and table.loc["chunk_size", "concern"] == "index"
    )
    assert_no_secret(table.to_string())
    assert_no_secret(table.to_html())


def test_notebook_00_executed_shows_no_secret(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    root = Path(__file__).resolve().parents[1]
    notebook = nbformat.read(root / "notebooks" / "00-check-setup.ipynb", as_version=4)
    env = {**SECRETS, "SMOLRAG_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(root)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        nbclient.NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(root)}},
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    rendered = nbformat.writes(notebook)
    assert "db.internal" in rendered  # the table was rendered, with the host
    assert_no_secret(rendered)
