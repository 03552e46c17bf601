"""The server's background loop: deliver due actions (the outbox) and run scheduled triggers.

One thread, a pass every second (sooner when a decision wakes it); a failing pass is kept on the
loop's ``last_error`` and the next pass tries again. Stopping waits for the pass in progress.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from conveyor.workspace import Workspace

__all__ = ["Background"]


class Background:
    def __init__(self, ws: Workspace, *, every: float = 1.0) -> None:
        self.ws = ws
        self.every = every
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="conveyor-background", daemon=True)
        self.passes = 0
        self.last_error: str | None = None
        self.last: dict[str, Any] = {}

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        self._warm_up()
        while not self._stop.is_set():
            try:
                self.last = self.run_once()
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.passes += 1
            self._wake.wait(self.every)
            self._wake.clear()

    @staticmethod
    def _warm_up() -> None:
        """Load what the first delivery would (DuckDB's Arrow scan brings in pandas, ~0.3 s of
        imports): at start-up rather than in the middle of a stream of decisions."""
        import duckdb
        import pyarrow as pa

        con = duckdb.connect()
        try:
            con.register("_warm", pa.table({"x": [1]}))
            con.execute("SELECT count(*) FROM _warm").fetchall()
        finally:
            con.close()

    def run_once(self) -> dict[str, Any]:
        from conveyor.automation import deliver_due, list_automations, run_triggers

        if not list_automations(self.ws.root):
            return {}
        session = self.ws.session()
        try:
            state = self.ws.state
            started = time.perf_counter()
            delivered = deliver_due(state, session)
            scheduled = run_triggers(session, state, kind="schedule")
            return {"deliveries": delivered, "scheduled": scheduled, "seconds": time.perf_counter() - started}
        finally:
            session.close()
