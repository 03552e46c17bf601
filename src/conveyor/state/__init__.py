"""Operational state: small, frequent writes that must survive a crash (tokens, sessions,
automations, decisions, the review queue, deliveries and the audit chain).

An OLTP store, not DuckDB. Embedded default: SQLite in the workspace (``conveyor-state.sqlite``)
in WAL mode with full sync, so the web server and CLI commands can use it at the same time and
a committed write survives a crash. For a shared deployment, PostgreSQL: set ``[state] url`` in
``conveyor.toml`` (or ``$CONVEYOR_STATE_URL``) to ``postgresql://user@host/db``. This module is
the only one that connects; callers write portable SQL with ``?`` placeholders.

    with open_state(root) as state:
        state.execute("SELECT count(*) AS n FROM tokens")
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError

__all__ = ["ENV_STATE_URL", "SERVER_FILE", "STATE_FILE", "StateError", "StateStore", "open_state", "state_url"]

STATE_FILE = "conveyor-state.sqlite"
ENV_STATE_URL = "CONVEYOR_STATE_URL"
#: Where a running `conveyor serve` says how to reach it (URL, pid, a token for the CLI; mode 0600).
SERVER_FILE = ".conveyor-server.json"

# Portable DDL: the same text runs on SQLite and PostgreSQL (booleans are 0/1 integers, JSON is
# text, times are ISO 8601 text in UTC so that they sort).
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
CREATE TABLE IF NOT EXISTS automation_status (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT,
    changed_at TEXT NOT NULL,
    changed_by TEXT,
    live_since TEXT,
    shadow_since TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    automation TEXT NOT NULL,
    status TEXT NOT NULL,
    decider TEXT NOT NULL,
    decider_version TEXT NOT NULL,
    input TEXT NOT NULL,
    case_id TEXT,
    label TEXT,
    confidence DOUBLE PRECISION,
    explanation TEXT,
    similar_cases TEXT,
    policy_tier TEXT NOT NULL,
    tier TEXT NOT NULL,
    reasons TEXT,
    error TEXT,
    latency_ms DOUBLE PRECISION NOT NULL,
    actor TEXT,
    created_at TEXT NOT NULL,
    final_label TEXT,
    final_by TEXT,
    final_at TEXT,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_automation ON decisions (automation, created_at);
CREATE TABLE IF NOT EXISTS queue (
    decision_id TEXT PRIMARY KEY,
    automation TEXT NOT NULL,
    state TEXT NOT NULL,
    assignee TEXT,
    created_at TEXT NOT NULL,
    due_at TEXT,
    resolved_at TEXT,
    resolved_by TEXT,
    outcome TEXT,
    final_label TEXT,
    reason TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS queue_open ON queue (state, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    decision_id TEXT,
    automation TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_at);
CREATE TABLE IF NOT EXISTS trigger_marks (
    automation TEXT PRIMARY KEY,
    mark TEXT NOT NULL,
    ran_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT,
    automation TEXT,
    kind TEXT NOT NULL,
    decision_id TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
"""


class StateError(ConveyorError, RuntimeError):
    """The operational store cannot be reached or set up."""


def state_url(root: Path) -> str:
    """Where the workspace keeps its state: ``$CONVEYOR_STATE_URL``, else ``[state] url`` of
    ``conveyor.toml``, else "" (SQLite in the workspace folder)."""
    env = os.environ.get(ENV_STATE_URL)
    if env is not None:
        return env
    from conveyor.config import load_settings

    return load_settings(root).state.url


def open_state(root: str | Path) -> StateStore:
    """The state store of the workspace at ``root`` (SQLite there, or the configured PostgreSQL)."""
    root = Path(root)
    return StateStore(root, url=state_url(root))


class StateStore:
    """The workspace's operational database (thread-safe: one connection and one lock per store).

    ``execute`` takes ``?`` placeholders on both backends; ``transaction`` groups statements so
    that they commit together (writers queue, never interleave).
    """

    def __init__(self, root: str | Path, *, url: str = "") -> None:
        self._lock = threading.RLock()
        self._depth = 0
        if url:
            self.dialect = "postgres"
            self.path: Path | None = None
            self.url = url
            self._con: Any = _connect_postgres(url)
            with self._con.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(7210431)")  # one process creates the tables at a time
                cur.execute(_SCHEMA)
                cur.execute("SELECT pg_advisory_unlock(7210431)")
        else:
            self.dialect = "sqlite"
            self.path = Path(root) / STATE_FILE
            self.url = ""
            con = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = FULL")
            con.execute("PRAGMA busy_timeout = 30000")
            con.executescript(_SCHEMA)
            self._con = con
        self.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING", ("0" * 64,))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            if self.dialect == "sqlite":
                rows = self._con.execute(sql, params).fetchall()
                return [dict(r) for r in rows]
            with self._con.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
                if cur.description is None:
                    return []
                names = [d.name for d in cur.description]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            if self.dialect == "sqlite":
                self._con.executemany(sql, rows)
                return
            with self._con.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside commit together; nested uses join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._con.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._con.execute("ROLLBACK")
                raise
            self._depth = 0
            self._con.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect_postgres(url: str) -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        raise StateError("PostgreSQL state needs psycopg", hint="pip install 'psycopg[binary]'") from None
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        safe = url.rsplit("@", maxsplit=1)[-1]
        raise StateError(
            f"cannot connect to the state database at {safe}: {str(exc).strip().splitlines()[0]}",
            hint=f"check [state] url in conveyor.toml (or ${ENV_STATE_URL}), or leave it empty for SQLite",
        ) from None
