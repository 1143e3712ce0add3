"""Fixtures of the in-process integration tests: the app with its worker, and a project."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bughound.config import Settings
from bughound.storage.store import Store
from tests.factories import Harness, Project, harness, make_project


@pytest.fixture
def h(settings: Settings, store: Store) -> Iterator[Harness]:
    with harness(settings, store) as running:
        yield running


@pytest.fixture
def project(store: Store) -> Project:
    return make_project(store)
