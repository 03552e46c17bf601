"""Shared fixtures: a real DuckDB file per test, the shared data folder, a clean environment."""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
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


def demo_streams(target: Path, *, cases: int, seed: int) -> Path:
    """The demo company's three streams and metric definitions in a new workspace, without the
    rest of `conveyor demo` (trained models, planning, the review): for tests that compare what
    the engines compute on the streams. Returns the workspace's store file."""
    from conveyor.data.ingest import ingest
    from conveyor.demo import write_demo_sources
    from conveyor.demo.metrics import DEMO_METRICS
    from conveyor.workspace import init_workspace

    root = init_workspace(target)
    sources = write_demo_sources(root / "sources", cases=cases, seed=seed)
    with Store(root / "conveyor.duckdb") as store:
        for name, path in sources.items():
            ingest(store, path, stream=name)
    (root / "metrics").mkdir(exist_ok=True)
    for name, text in DEMO_METRICS.items():
        (root / "metrics" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return root / "conveyor.duckdb"


#: the installed command line, as a command prefix
CONVEYOR = [str(Path(sys.executable).parent / "conveyor")]


def cli(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``conveyor ARGS`` on the workspace ``root`` (its exit status checked unless ``check``)."""
    env = {**os.environ, "CONVEYOR_WORKSPACE": str(root), "COLUMNS": "200"}
    proc = subprocess.run([*CONVEYOR, *args], capture_output=True, text=True, env=env, timeout=600, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def cli_json(root: Path, *args: str) -> Any:
    """What ``conveyor ARGS --json`` prints on the workspace ``root``."""
    return json.loads(cli(root, *args, "--json").stdout)


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


# -- PostgreSQL for the operational store's second backend -----------------------------------


def _as_postgres() -> list[str]:
    """How to run PostgreSQL's programs: as ourselves, or (as root, which initdb refuses) as ``postgres``."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A running PostgreSQL server for this test session; its admin URL (socket only)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        skip_or_fail("PostgreSQL is not installed (`make install` installs Debian's postgresql)")
    bindir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="conveyor-pg-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, sock = folder / "data", folder
    run = _as_postgres()
    subprocess.run(
        [*run, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    opts = f"-k {sock} -c listen_addresses='' -c max_connections=100"
    subprocess.run(
        [*run, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql:///postgres?host={sock}&user=postgres"
    finally:
        subprocess.run(
            [*run, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(admin_url: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return admin_url.replace("/postgres?", f"/{name}?", 1)
