"""Workspace settings: one typed object read from ``conveyor.toml``.

Plain frozen dataclasses with a small validator rather than pydantic models: building pydantic
models costs ~0.2 s at import, and every CLI command reads these settings first (`conveyor map`
should answer in under half a second). Errors still name the setting, the value and the fix.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from conveyor.data.engine import ENGINES
from conveyor.data.store import DEFAULT_MEMORY_LIMIT
from conveyor.errors import ConfigError

__all__ = [
    "CONFIG_FILE",
    "DraftingSettings",
    "IngestSettings",
    "Settings",
    "SparkSettings",
    "StateSettings",
    "StoreSettings",
    "default_toml",
    "load_settings",
]

CONFIG_FILE = "conveyor.toml"


@dataclass(frozen=True)
class StoreSettings:
    """Where and how the workspace keeps its data."""

    path: str = "conveyor.duckdb"
    """The DuckDB file, relative to the workspace folder."""

    engine: str = "duckdb"
    """The engine analyses run on: "duckdb" (embedded) or "spark" (see [spark])."""

    threads: int = 0
    """Worker threads for DuckDB; 0 lets DuckDB use every core."""

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    """DuckDB's memory limit, e.g. "4GB" or "40%" of RAM; empty lets DuckDB pick (80% of RAM).
    The default leaves room for a second process (`conveyor serve` and a CLI command) and the OS."""


@dataclass(frozen=True)
class IngestSettings:
    """Defaults for `conveyor ingest`; each can be overridden by a flag."""

    timezone: str = "UTC"
    """Timezone assumed for timestamps that carry no offset. Stored values are always UTC."""

    dedupe: bool = False
    """Quarantine rows that repeat an earlier row of the same file exactly. Off by default:
    real logs (and PM4Py) count such repeats as separate events."""


@dataclass(frozen=True)
class SparkSettings:
    """The Spark engine: where it runs and where the streams' Parquet layout lives."""

    master: str = "local[*]"
    """Spark master: "local[*]" on this machine, "spark://host:7077", "yarn", "k8s://..."."""

    warehouse: str = "spark"
    """Folder or URI (hdfs://, s3a://, abfss://) for the Parquet layout, relative to the workspace."""

    conf: dict[str, str] = field(default_factory=dict)
    """Extra Spark settings, e.g. {"spark.executor.memory" = "8g"}."""


@dataclass(frozen=True)
class StateSettings:
    """Where automations, decisions, the review queue, the audit chain and tokens are kept."""

    url: str = ""
    """Empty: SQLite in the workspace (conveyor-state.sqlite). For a shared deployment, a
    PostgreSQL URL such as "postgresql://conveyor@db.internal/conveyor"."""


@dataclass(frozen=True)
class DraftingSettings:
    """Suggested replies through an OpenAI-compatible chat endpoint (personal data redacted first)."""

    url: str = ""
    """Empty: no endpoint; the suggestion is the closest resolved case's reply. Else the API's
    base URL, e.g. "http://127.0.0.1:8080/v1" (it must answer POST {url}/chat/completions)."""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding the key (sent as a Bearer token when set)."""
    names_file: str = ""
    """A text file of names (one a line, relative to the workspace) to redact besides emails,
    phone numbers and IBANs."""
    timeout_seconds: int = 30


@dataclass(frozen=True)
class Settings:
    """Everything `conveyor.toml` can say."""

    store: StoreSettings = field(default_factory=StoreSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    spark: SparkSettings = field(default_factory=SparkSettings)
    state: StateSettings = field(default_factory=StateSettings)
    drafting: DraftingSettings = field(default_factory=DraftingSettings)


def _section(path: Path, name: str, cls: type[Any], raw: object) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: [{name}] must be a table of settings, got {raw!r}", hint="see the comments in conveyor.toml"
        )
    known = {f.name: f for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"{path}: unknown setting {name}.{key}",
                hint=f"the [{name}] settings are: {', '.join(known)}",
            )
    values = {}
    for key, value in raw.items():
        expected = type(getattr(cls(), key))
        if expected is dict:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {name}.{key} must be a table, got {value!r}", hint=f"e.g. [{name}.{key}]")
            values[key] = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
            continue
        if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{path}: {name}.{key} must be a whole number, got {value!r}", hint=f"e.g. {key} = 0")
        if expected is not int and not isinstance(value, expected):
            raise ConfigError(
                f"{path}: {name}.{key} must be {expected.__name__}, got {value!r}",
                hint=f"e.g. {key} = {'true' if expected is bool else chr(34) + '...' + chr(34)}",
            )
        values[key] = value
    return cls(**values)


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
    for key in raw:
        if key not in ("store", "ingest", "spark", "state", "drafting"):
            raise ConfigError(
                f"{path}: unknown section [{key}]",
                hint="the sections are [store], [ingest], [spark], [state] and [drafting]",
            )
    settings = Settings(
        store=_section(path, "store", StoreSettings, raw.get("store", {})),
        ingest=_section(path, "ingest", IngestSettings, raw.get("ingest", {})),
        spark=_section(path, "spark", SparkSettings, raw.get("spark", {})),
        state=_section(path, "state", StateSettings, raw.get("state", {})),
        drafting=_section(path, "drafting", DraftingSettings, raw.get("drafting", {})),
    )
    if settings.store.engine not in ENGINES:
        raise ConfigError(
            f"{path}: store.engine {settings.store.engine!r} is not an engine conveyor has",
            hint=f"use one of: {', '.join(ENGINES)}",
        )
    if settings.store.threads < 0:
        raise ConfigError(
            f"{path}: store.threads must be 0 or more, got {settings.store.threads}", hint="0 uses every core"
        )
    return settings


def default_toml() -> str:
    """The commented ``conveyor.toml`` a new workspace starts with."""
    return """\
# conveyor workspace settings. Every setting is optional; the values shown are the defaults.

[store]
# The embedded DuckDB file holding every stream, relative to this folder.
path = "conveyor.duckdb"
# The engine analyses run on: "duckdb" (embedded, the default) or "spark" (see [spark]).
# Any command can override it: `conveyor --engine spark map STREAM`.
engine = "duckdb"
# DuckDB worker threads; 0 uses every core.
threads = 0
# DuckDB memory limit such as "4GB" or "40%" (of RAM); empty lets DuckDB choose (80% of RAM).
# Work bigger than the limit spills to disk: a lower limit trades speed for memory. The default,
# 40%, lets a server and a command share the machine and leaves the rest to everything else.
memory_limit = "40%"

[ingest]
# Timezone assumed for timestamps without an offset ("UTC", "Europe/Amsterdam", ...).
# Stored timestamps are always UTC with microsecond precision.
timezone = "UTC"
# Quarantine rows that exactly repeat an earlier row of the same file (reason "duplicate").
# Off by default: real logs contain such repeats and PM4Py counts them as events.
dedupe = false

[state]
# Automations, decisions, the review queue, the audit chain and tokens: small writes that must
# survive a crash. Empty keeps them in SQLite in this folder (conveyor-state.sqlite); a shared
# deployment points this at PostgreSQL, e.g. "postgresql://conveyor@db.internal/conveyor".
# $CONVEYOR_STATE_URL overrides it.
url = ""

[drafting]
# Suggested replies for tickets (`conveyor triage draft`). Empty url: the suggestion is the closest
# resolved ticket's reply. Else an OpenAI-compatible API, e.g. "http://127.0.0.1:8080/v1" (a local
# model server) or "https://api.openai.com/v1"; emails, phone numbers, IBANs and the names in
# names_file are replaced by placeholders before anything leaves the machine and put back after.
url = ""
model = ""
api_key_env = "OPENAI_API_KEY"
names_file = ""
timeout_seconds = 30

[spark]
# Used when the engine is "spark". Ingest still validates and lays streams out in the DuckDB file,
# then writes the layout as Parquet to the warehouse; analyses run there as Spark SQL.
# The Spark master: "local[*]" (this machine), "spark://host:7077", "yarn", "k8s://https://...".
master = "local[*]"
# Where the Parquet layout lives: a folder relative to this one, or a URI the cluster reaches
# (hdfs://..., s3a://bucket/conveyor, abfss://...).
warehouse = "spark"

[spark.conf]
# Any Spark setting, passed to the session as is, for example:
# "spark.executor.memory" = "8g"
# "spark.hadoop.fs.s3a.endpoint" = "https://s3.eu-west-1.amazonaws.com"
"""
