"""Shared fixtures: a real DuckDB file per test, the shared data folder, a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.data.store import Store

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOGS = DATA / "logs"


def require_data() -> Path:
    if not LOGS.is_dir():
        pytest.skip(f"real data folder {LOGS} is absent (CI has it; see shared/data/README.md)")
    return LOGS


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell must not change results."""
    for key in list(os.environ):
        if key.startswith("CONVEYOR_"):
            monkeypatch.delenv(key)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "test.duckdb") as s:
        yield s


@pytest.fixture
def logs() -> Path:
    return require_data()
