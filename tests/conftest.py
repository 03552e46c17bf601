"""Shared fixtures: a real DuckDB file per test, the shared data folder, a clean environment."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from conveyor.data.store import Store

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOGS = DATA / "logs"


#: Under CI a missing data folder or test dependency is an error, never a quiet skip.
IN_CI = os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip on a developer's machine; under ``CI=true`` fail, so no check goes missing unseen."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not skip)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_data() -> Path:
    if not LOGS.is_dir():
        skip_or_fail(f"real data folder {LOGS} is absent (CI has it; see shared/data/README.md)")
    return LOGS


def need(module: str, reason: str) -> Any:
    """Import a test-only dependency (PM4Py, PySpark), or skip (fail under CI) saying why."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        skip_or_fail(f"{module} is not installed: {reason}")


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


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal, floats within 1e-9 relative (engines and append orders sum in different orders)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a is not None, path
        assert b is not None, path
        assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6), f"{path}: {a} != {b}"
    elif isinstance(a, dict):
        assert isinstance(b, dict), path
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list), path
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
