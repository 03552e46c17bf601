"""Long work (an ingest, a review) runs in a background thread with its progress visible, so the
server keeps answering while it runs. Jobs live in memory: they are the server's own work."""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from conveyor.errors import ConveyorError

__all__ = ["Jobs"]


class Jobs:
    """Start work in a thread; ask how it goes."""

    def __init__(self) -> None:
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, work: Callable[[Callable[[str, float], None]], Any]) -> dict[str, Any]:
        job_id = uuid.uuid4().hex[:12]
        job: dict[str, Any] = {
            "id": job_id,
            "kind": kind,
            "status": "running",
            "step": "starting",
            "progress": 0.0,
            "started": time.time(),
            "finished": None,
            "result": None,
            "error": None,
        }
        with self._lock:
            self._jobs[job_id] = job

        def progress(label: str, fraction: float) -> None:
            job["step"], job["progress"] = label, max(0.0, min(1.0, float(fraction)))

        def run() -> None:
            try:
                job["result"] = work(progress)
                job["status"], job["progress"] = "done", 1.0
            except ConveyorError as exc:
                job["status"], job["error"] = (
                    "failed",
                    {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint},
                )
            except Exception as exc:  # the server must survive any job
                job["status"] = "failed"
                job["error"] = {
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "hint": "a bug in conveyor: " + traceback.format_exc(limit=3),
                }
            job["finished"] = time.time()

        threading.Thread(target=run, name=f"job-{job_id}", daemon=True).start()
        return self.get(job_id) or job

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
        return None if job is None else dict(job)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(j) for j in self._jobs.values()]
