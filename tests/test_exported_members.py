"""The public surface is what __all__ says, and every name in it exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "conveyor",
    "conveyor.data",
    "conveyor.errors",
    "conveyor.config",
    "conveyor.workspace",
    "conveyor.demo",
    "conveyor.mining",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, name
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.{member}"


@pytest.mark.parametrize("name", MODULES)
def test_public_names_are_not_shadowed_by_submodules(name: str) -> None:
    """A submodule named like its function must not replace the function on the package."""
    import types

    module = importlib.import_module(name)
    for sub in ("variants", "rework", "handoffs", "bottlenecks", "durations", "ingest", "conformance", "export"):
        try:
            importlib.import_module(f"{name}.{sub}")
        except ModuleNotFoundError:
            continue
    for member in module.__all__:
        assert not isinstance(getattr(module, member), types.ModuleType), f"{name}.{member} is a module"


def test_error_tree() -> None:
    from conveyor import errors

    for cls_name in errors.__all__:
        assert issubclass(getattr(errors, cls_name), errors.ConveyorError)
    assert issubclass(errors.SourceError, ValueError)
    assert issubclass(errors.WorkspaceError, FileNotFoundError)
