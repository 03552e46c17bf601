"""The public surface is what __all__ says, and every name in it exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["conveyor", "conveyor.data", "conveyor.errors", "conveyor.config", "conveyor.workspace", "conveyor.demo"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, name
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.{member}"


def test_error_tree() -> None:
    from conveyor import errors

    for cls_name in errors.__all__:
        assert issubclass(getattr(errors, cls_name), errors.ConveyorError)
    assert issubclass(errors.SourceError, ValueError)
    assert issubclass(errors.WorkspaceError, FileNotFoundError)
