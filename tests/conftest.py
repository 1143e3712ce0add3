"""Shared fixtures: settings and migrated databases (SQLite always, PostgreSQL when configured).

PostgreSQL tests run whenever BUGHOUND_TEST_POSTGRES_URL is set (e.g.
postgresql://postgres@127.0.0.1:5432/test): a template database is migrated once per session
and every test gets its own copy (CREATE DATABASE ... TEMPLATE).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bughound.config import Settings
from bughound.storage.db import create_engine, migrate, sqlalchemy_url
from bughound.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BUGHOUND_SHARED_DIR", ROOT.parent / "shared"))
POSTGRES_URL = os.environ.get("BUGHOUND_TEST_POSTGRES_URL", "")
# CI sets this: PostgreSQL tests must run there, never skip.
REQUIRE_POSTGRES = os.environ.get("BUGHOUND_REQUIRE_POSTGRES") == "1"
_counter = itertools.count()


def shared_path(*parts: str) -> Path:
    """A path under ../shared/, or skip: it holds Sentry's data and is absent from users' clones."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared reference data is not part of this repository)")
    return path


def _admin_url(url: str, database: str) -> str:
    return sa.make_url(sqlalchemy_url(url)).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("BUGHOUND_REQUIRE_POSTGRES=1 but BUGHOUND_TEST_POSTGRES_URL is not set")
        pytest.skip("BUGHOUND_TEST_POSTGRES_URL is not set")
    name = f"bughound_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(_admin_url(POSTGRES_URL, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = create_engine(_admin_url(POSTGRES_URL, name), poolclass=sa.pool.NullPool)
    migrate(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def new_postgres_database(template: str) -> tuple[str, object]:
    name = f"bughound_t_{os.getpid()}_{next(_counter)}"
    admin = sa.create_engine(_admin_url(POSTGRES_URL, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return _admin_url(POSTGRES_URL, name).replace("postgresql+psycopg://", "postgresql://"), drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'bughound.sqlite3'}"
        engine = create_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    template = request.getfixturevalue("postgres_template")
    url, drop = new_postgres_database(template)
    yield url
    drop()  # type: ignore[operator]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, url="http://testserver")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    engine = create_engine(
        settings.database_url, **({"poolclass": sa.pool.NullPool} if not settings.is_sqlite else {})
    )
    yield Store(engine)
    engine.dispose()
