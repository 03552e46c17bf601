"""How trained models do once they decide for real: per model, the decisions its versions made
behind automations, how many got a final answer (a reviewer's or a recorded outcome) and the
latest ones where that answer differed from the model's (its live mistakes)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.state import StateStore

__all__ = ["live_records"]

_SETTLED = ("accepted", "overridden", "confirmed", "corrected")


def live_records(state: StateStore, cards: Sequence[Mapping[str, Any]], *, limit: int = 8) -> dict[str, dict[str, Any]]:
    """For each model card (triage or risk): ``{"decided", "settled", "wrong", "automations",
    "mistakes": [{"decision_id", "automation", "version", "text", "label", "confidence",
    "final_label", "final_by", "final_at"}]}`` (latest mistakes first); models with no live
    decision are left out."""
    out: dict[str, dict[str, Any]] = {}
    for card in cards:
        name = str(card["name"])
        kind = "sla_risk" if card.get("kind") == "risk" else "triage"
        like = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-v%"
        where = "decider = ? AND decider_version LIKE ? ESCAPE '\\'"
        counts = state.execute(
            f"SELECT automation, count(*) AS n, "
            f"sum(CASE WHEN label IS NOT NULL AND outcome IN {_SETTLED} THEN 1 ELSE 0 END) AS settled, "
            f"sum(CASE WHEN label IS NOT NULL AND outcome IN {_SETTLED} AND final_label <> label THEN 1 ELSE 0 END) "
            f"AS wrong FROM decisions WHERE {where} GROUP BY automation ORDER BY automation",
            (kind, like),
        )
        if not counts:
            continue
        rows = state.execute(
            f"SELECT id, automation, decider_version, input, label, confidence, final_label, final_by, final_at "
            f"FROM decisions WHERE {where} AND label IS NOT NULL AND outcome IN {_SETTLED} "
            f"AND final_label <> label ORDER BY final_at DESC LIMIT ?",
            (kind, like, limit),
        )
        fields = list((card.get("reads") or {}).get("text") or [])
        out[name] = {
            "decided": sum(int(r["n"]) for r in counts),
            "settled": sum(int(r["settled"] or 0) for r in counts),
            "wrong": sum(int(r["wrong"] or 0) for r in counts),
            "automations": [r["automation"] for r in counts],
            "mistakes": [_mistake(r, fields) for r in rows],
        }
    return out


def _mistake(row: Mapping[str, Any], fields: list[str]) -> dict[str, Any]:
    item = json.loads(row["input"] or "{}")
    text = " · ".join(str(item[f]) for f in fields if item.get(f)) or ", ".join(f"{k}={v}" for k, v in item.items())
    return {
        "decision_id": row["id"],
        "automation": row["automation"],
        "version": row["decider_version"],
        "text": text,
        "label": row["label"],
        "confidence": float(row["confidence"] or 0),
        "final_label": row["final_label"],
        "final_by": row["final_by"],
        "final_at": row["final_at"],
    }
