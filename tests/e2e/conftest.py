from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `videosynth serve` (with its embedded worker) shared by the e2e tests."""
    running = Server(tmp_path_factory.mktemp("serve")).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def key(server: Server) -> str:
    return server.create_key("e2e")


@pytest.fixture(scope="session")
def other_key(server: Server) -> str:
    return server.create_key("someone-else")


@pytest.fixture(scope="session")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with no worker, so tasks stay PENDING (cancel, list, idempotency)."""
    running = Server(tmp_path_factory.mktemp("api-only"), {}, worker=False).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def api_only_key(api_only: Server) -> str:
    return api_only.create_key("api-only")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path
