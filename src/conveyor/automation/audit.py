"""The audit log: every decision and every human action, hash-chained.

Record ``n`` stores the SHA-256 of its own fields and of record ``n-1``'s hash, and a one-row head
keeps the last sequence number and hash (updated in the same transaction). So editing a record
breaks its hash, deleting or inserting one breaks the sequence and the next record's link,
reordering breaks the links, and cutting the tail disagrees with the head. ``verify`` walks the
chain and names the first bad record. Appends serialize on the head row (SQLite: the write lock;
PostgreSQL: the row lock of ``UPDATE ... RETURNING``), inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.state import StateStore

__all__ = [
    "GENESIS",
    "append",
    "export",
    "iter_records",
    "read_export",
    "recent",
    "record_hash",
    "verify",
    "verify_records",
]

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "actor", "automation", "kind", "decision_id", "data", "prev_hash")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def record_hash(rec: dict[str, Any]) -> str:
    """The hash of a record's fields (``data`` as stored text) and its link."""
    body = json.dumps([rec[f] for f in _FIELDS], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    state: StateStore,
    kind: str,
    data: dict[str, Any],
    *,
    automation: str | None = None,
    actor: str | None = None,
    decision_id: str | None = None,
    at: str | None = None,
) -> int:
    """Add a record to the chain (joins the caller's transaction, if any); its sequence number."""
    with state.transaction():
        head = state.execute("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")[0]
        rec = {
            "seq": int(head["seq"]),
            "at": at or now(),
            "actor": actor,
            "automation": automation,
            "kind": kind,
            "decision_id": decision_id,
            "data": json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str),
            "prev_hash": head["hash"],
        }
        rec["hash"] = record_hash(rec)
        state.execute(
            "INSERT INTO audit (seq, at, actor, automation, kind, decision_id, data, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [rec[f] for f in (*_FIELDS, "hash")],
        )
        state.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (rec["hash"],))
    return int(rec["seq"])


def iter_records(state: StateStore, *, batch: int = 5000, automation: str | None = None) -> Iterator[dict[str, Any]]:
    """Every record in sequence order (read in batches)."""
    last = 0
    while True:
        rows = state.execute(
            "SELECT seq, at, actor, automation, kind, decision_id, data, prev_hash, hash FROM audit "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (last, batch),
        )
        if not rows:
            return
        for r in rows:
            r["seq"] = int(r["seq"])
            if automation is None or r["automation"] == automation:
                yield r
        last = rows[-1]["seq"]


def verify_records(records: Iterable[dict[str, Any]], head: tuple[int, str] | None = None) -> dict[str, Any]:
    """Check a chain: ``{"ok", "records", "first_bad", "problem"}`` (``first_bad`` is a sequence number)."""
    prev, expected, n = GENESIS, 1, 0
    for rec in records:
        n += 1
        seq = int(rec["seq"])
        problem = None
        if seq != expected:
            problem = f"record {expected} is missing (found {seq} next)" if seq > expected else f"record {seq} repeats"
        elif rec["prev_hash"] != prev:
            problem = f"record {seq} does not link to record {seq - 1} (inserted, deleted or reordered)"
        elif record_hash(rec) != rec["hash"]:
            problem = f"record {seq} was changed after it was written"
        if problem:
            return {"ok": False, "records": n, "first_bad": min(seq, expected), "problem": problem}
        prev, expected = rec["hash"], expected + 1
    if head is not None and (head[0] != expected - 1 or (head[0] and head[1] != prev)):
        return {
            "ok": False,
            "records": n,
            "first_bad": expected,
            "problem": f"the chain ends at record {expected - 1} but its head says {head[0]}: records were cut",
        }
    return {"ok": True, "records": n, "first_bad": None, "problem": None}


def verify(state: StateStore) -> dict[str, Any]:
    """Walk the whole chain of the store against its head."""
    head = state.execute("SELECT seq, hash FROM audit_head WHERE id = 1")[0]
    return verify_records(iter_records(state), (int(head["seq"]), head["hash"]))


def export(state: StateStore, out: Path, *, automation: str | None = None) -> dict[str, Any]:
    """Write the chain as JSON Lines (each record with its hashes: verifiable elsewhere)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as f:
        for rec in iter_records(state, automation=automation):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return {"out": str(out), "records": n, "automation": automation}


def read_export(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def recent(state: StateStore, *, automation: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The latest records (newest first), their data decoded."""
    where = "WHERE automation = ? " if automation else ""
    rows = state.execute(
        f"SELECT seq, at, actor, automation, kind, decision_id, data FROM audit {where}ORDER BY seq DESC LIMIT ?",
        (automation, limit) if automation else (limit,),
    )
    for r in rows:
        r["data"] = json.loads(r["data"])
    return rows
