"""conveyor.toml: defaults, documented template, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config import Settings, default_toml, load_settings
from conveyor.errors import ConfigError


def test_template_parses_to_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "conveyor.toml").write_text(default_toml())
    assert load_settings(tmp_path) == Settings()
    assert load_settings(tmp_path / "missing") == Settings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[store]\nthreads = 'two'\n", "store.threads must be a whole number, got 'two'"),
        ("[store]\nthread = 2\n", "unknown setting store.thread"),
        ("[ingest]\ndedupe = 'yes'\n", "ingest.dedupe must be bool"),
        ("[store]\nengine = 'oracle'\n", "store.engine 'oracle' is not an engine"),
        ("[stores]\n", "unknown section [stores]"),
        ("[store\n", "not valid TOML"),
    ],
)
def test_bad_settings_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "conveyor.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert message in str(info.value)
    assert "conveyor.toml" in str(info.value)
