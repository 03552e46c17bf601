"""Workspaces: a folder with ``conveyor.toml`` and the DuckDB file it names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from conveyor.config import CONFIG_FILE, Settings, default_toml, load_settings
from conveyor.data.engine import ENGINES, Engine, engine_class
from conveyor.data.store import Store
from conveyor.errors import ConfigError, WorkspaceError

if TYPE_CHECKING:
    from conveyor.data.spark import SparkStore
    from conveyor.state import StateStore

__all__ = [
    "ENV_WORKSPACE",
    "Workspace",
    "init_workspace",
    "open_workspace",
    "resolve_workspace_dir",
    "workspace_root",
]

ENV_WORKSPACE = "CONVEYOR_WORKSPACE"


@dataclass
class Workspace:
    """An open workspace: its folder, settings, store and analysis engine.

    ``store`` is always the embedded DuckDB store (catalog, ingest, quarantine); ``engine`` is
    what analyses run on: the same store, or a Spark store over the published Parquet layout.
    Close it (or use ``with``) when done.
    """

    root: Path
    settings: Settings
    store: Store
    engine_name: str = "duckdb"
    _spark: Any = None
    _shared: bool = False
    _state: Any = None
    _owns_state: bool = False

    @property
    def state(self) -> StateStore:
        """The operational state store (automations, decisions, queue, audit, tokens); opened on
        first use and shared by this workspace's sessions."""
        from conveyor.state import open_state

        if self._state is None:
            self._state = open_state(self.root)
            self._owns_state = True
        return cast("StateStore", self._state)

    @property
    def warehouse(self) -> str:
        """The Spark warehouse (absolute for a folder, as given for a URI)."""
        where = self.settings.spark.warehouse
        return where if "://" in where else str((self.root / where).resolve())

    @property
    def engine(self) -> Engine:
        """The engine analyses run on: the store itself, or a Spark store over the warehouse."""
        if self.engine_name == "duckdb":
            return self.store
        engine_class(self.engine_name)  # a name the registry knows
        return self.spark

    @property
    def spark(self) -> SparkStore:
        """The Spark engine (whatever this workspace's default engine is)."""
        from conveyor.data.spark import SparkStore

        if self._spark is None:
            self._spark = SparkStore(self.warehouse, master=self.settings.spark.master, conf=self.settings.spark.conf)
        return cast(SparkStore, self._spark)

    def publish(self, stream: str) -> None:
        """Write ``stream``'s layout to the Spark warehouse (after ingest on the Spark engine)."""
        from conveyor.data.spark import publish_stream

        publish_stream(self.store, stream, self.warehouse)
        if self._spark is not None:
            self._spark.refresh(stream)

    def session(self) -> Workspace:
        """The same workspace on its own store connection (see :meth:`Store.cursor`): one per
        request in the web server. Close it when done; the Spark engine, if any, is shared."""
        return Workspace(
            self.root,
            self.settings,
            self.store.cursor(),
            self.engine_name,
            _spark=self._spark,
            _shared=True,
            _state=self._state,
        )

    def close(self) -> None:
        if self._owns_state:
            self._state.close()
            self._state, self._owns_state = None, False
        if self._shared:
            self.store.close()
            return
        if self._spark is not None:
            self._spark.stop()
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_workspace_dir(path: str | Path | None = None) -> Path:
    """The folder a command works in: the argument, else ``$CONVEYOR_WORKSPACE``, else ``.``."""
    if path is None or str(path) == "":
        path = os.environ.get(ENV_WORKSPACE) or "."
    return Path(path).expanduser().resolve()


def init_workspace(path: str | Path | None = None) -> Path:
    """Create a workspace (settings file and empty store) in ``path``; idempotent."""
    root = resolve_workspace_dir(path)
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is not a folder", path=str(root), hint="choose another path")
    root.mkdir(parents=True, exist_ok=True)
    config = root / CONFIG_FILE
    if not config.exists():
        config.write_text(default_toml(), encoding="utf-8")
    settings = load_settings(root)
    try:
        Store(root / settings.store.path).close()
    except WorkspaceError as exc:
        served = _served(root)
        if served is None:
            raise
        raise served from exc
    return root


def _served(root: Path) -> WorkspaceError | None:
    """The error to give when a running `conveyor serve` holds the store, else None."""
    from conveyor.state import SERVER_FILE

    if not (root / SERVER_FILE).is_file():
        return None
    return WorkspaceError(
        f"`conveyor serve` owns this workspace's store ({root}); this command cannot go through it",
        path=str(root),
        hint="stop the server (Ctrl-C where it runs), run the command, then start the server again",
    )


def workspace_root(path: str | Path | None = None) -> Path:
    """The folder of an existing workspace (see :func:`resolve_workspace_dir`), or WorkspaceError."""
    root = resolve_workspace_dir(path)
    if not (root / CONFIG_FILE).is_file():
        raise WorkspaceError(
            f"{root} is not a conveyor workspace (it has no {CONFIG_FILE})",
            path=str(root),
            hint=f"run `conveyor init DIR` (or `conveyor demo DIR`), then pass --workspace DIR or set {ENV_WORKSPACE}",
        )
    return root


def open_workspace(path: str | Path | None = None, *, read_only: bool = False, engine: str | None = None) -> Workspace:
    """Open the workspace at ``path`` (see :func:`resolve_workspace_dir`); ``engine`` overrides
    the workspace's ``store.engine`` setting."""
    root = workspace_root(path)
    settings = load_settings(root)
    store_path = root / settings.store.path
    try:
        store = Store(
            store_path,
            threads=settings.store.threads,
            memory_limit=settings.store.memory_limit,
            read_only=read_only and store_path.exists(),
        )
    except WorkspaceError as exc:
        served = _served(root)
        if served is None:
            raise
        raise served from exc
    name = engine or settings.store.engine
    if name not in ENGINES:
        store.close()
        raise ConfigError(f"--engine {name!r} is not an engine conveyor has", hint=f"use one of: {', '.join(ENGINES)}")
    return Workspace(root=root, settings=settings, store=store, engine_name=name)
