"""Under CI=true a test that needs the shared data, PM4Py or PySpark fails instead of skipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_pytest(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_needs.py"
    test.write_text(
        "from tests.conftest import need\n\n"
        "def test_needs_a_missing_package():\n"
        "    need('conveyor_no_such_package', 'a dependency the suite needs')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": "true"} if ci else {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), str(test)],
        cwd=ROOT,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_missing_dependency_skips_locally_and_fails_in_ci(tmp_path: Path) -> None:
    local = run_pytest(tmp_path, ci=False)
    assert local.returncode == 0, local.stdout
    assert "1 skipped" in local.stdout
    ci = run_pytest(tmp_path, ci=True)
    assert ci.returncode == 1, ci.stdout
    assert "must not skip" in ci.stdout
