from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_profile.core.store import Store
from fakegithub import DEFAULT_TOKEN, FakeGitHub


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        yield fake
        assert fake.errors == [], "the fake GitHub server raised internally"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "ci-profile.duckdb") as opened:
        yield opened


@pytest.fixture
def token() -> str:
    return DEFAULT_TOKEN
