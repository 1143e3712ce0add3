from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.server import Server
from tests.conftest import new_postgres_database

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running server per module and database kind."""
    url = None
    drop = None
    if request.param == "postgres":
        url, drop = new_postgres_database(request.getfixturevalue("postgres_template"))
    srv = Server(Path(tmp_path_factory.mktemp("server")), url)
    srv.start()
    yield srv
    srv.stop()
    if drop:
        drop()  # type: ignore[operator]
