"""Operational state: small, frequent writes that must survive a crash (tokens, sessions, jobs;
later automations, decisions, the review queue and the audit chain).

An OLTP store, not DuckDB: SQLite in the workspace (``conveyor-state.sqlite``), in WAL mode with
full sync, so the web server and CLI commands can use it at the same time. This module is the
only one that opens it.

    with StateStore(root) as state:
        state.execute("SELECT count(*) FROM tokens")
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["SERVER_FILE", "STATE_FILE", "StateStore"]

STATE_FILE = "conveyor-state.sqlite"
#: Where a running `conveyor serve` says how to reach it (URL, pid, a token for the CLI; mode 0600).
SERVER_FILE = ".conveyor-server.json"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    secret_hash TEXT PRIMARY KEY,
    token_id TEXT,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_codes (
    secret_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
"""


class StateStore:
    """The workspace's SQLite database of operational state (thread-safe: one lock per store)."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root) / STATE_FILE
        self._con = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._con.execute("PRAGMA journal_mode = WAL")
        self._con.execute("PRAGMA synchronous = FULL")
        self._con.execute("PRAGMA busy_timeout = 30000")
        self._con.executescript(_SCHEMA)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._con.execute(sql, params).fetchall()
        return [dict(r) for r in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together (BEGIN IMMEDIATE: writers queue, never interleave)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
