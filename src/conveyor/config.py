"""Workspace settings: one typed object read from ``conveyor.toml``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conveyor.errors import ConfigError

__all__ = ["CONFIG_FILE", "IngestSettings", "Settings", "StoreSettings", "default_toml", "load_settings"]

CONFIG_FILE = "conveyor.toml"


class StoreSettings(BaseModel):
    """Where and how the workspace keeps its data."""

    model_config = ConfigDict(extra="forbid")

    path: str = "conveyor.duckdb"
    """The DuckDB file, relative to the workspace folder."""

    engine: Literal["duckdb"] = "duckdb"
    """The engine analyses run on. Only the embedded DuckDB engine exists for now."""

    threads: int = Field(default=0, ge=0)
    """Worker threads for DuckDB; 0 lets DuckDB use every core."""

    memory_limit: str = ""
    """DuckDB's memory limit, e.g. "4GB"; empty lets DuckDB pick (80% of RAM)."""


class IngestSettings(BaseModel):
    """Defaults for `conveyor ingest`; each can be overridden by a flag."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    """Timezone assumed for timestamps that carry no offset. Stored values are always UTC."""

    dedupe: bool = False
    """Quarantine rows that repeat an earlier row of the same file exactly. Off by default:
    real logs (and PM4Py) count such repeats as separate events."""


class Settings(BaseModel):
    """Everything `conveyor.toml` can say."""

    model_config = ConfigDict(extra="forbid")

    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()


def load_settings(folder: Path) -> Settings:
    """Read ``folder/conveyor.toml``; a missing file gives the defaults."""
    path = folder / CONFIG_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}", hint="fix the file or delete it to use the defaults"
        ) from exc
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}", hint="see the comments in conveyor.toml for each setting") from exc


def default_toml() -> str:
    """The commented ``conveyor.toml`` a new workspace starts with."""
    return """\
# conveyor workspace settings. Every setting is optional; the values shown are the defaults.

[store]
# The embedded DuckDB file holding every stream, relative to this folder.
path = "conveyor.duckdb"
# The engine analyses run on: "duckdb" (embedded, the default).
engine = "duckdb"
# DuckDB worker threads; 0 uses every core.
threads = 0
# DuckDB memory limit such as "4GB"; empty lets DuckDB choose (80% of RAM).
memory_limit = ""

[ingest]
# Timezone assumed for timestamps without an offset ("UTC", "Europe/Amsterdam", ...).
# Stored timestamps are always UTC with microsecond precision.
timezone = "UTC"
# Quarantine rows that exactly repeat an earlier row of the same file (reason "duplicate").
# Off by default: real logs contain such repeats and PM4Py counts them as events.
dedupe = false
"""
