"""The demo's SLA risk model: trained on the support tickets' own history (their ``sla_deadline``),
tested on a time split, kept in the workspace as ``ticket-sla``; the models page and the review
list the open tickets most likely to miss their deadline."""

from __future__ import annotations

from typing import Any

from conveyor.workspace import Workspace

__all__ = ["NAME", "STREAM", "run_risk"]

STREAM = "ticket-to-resolution"
NAME = "ticket-sla"


def run_risk(ws: Workspace) -> dict[str, Any]:
    """Train and keep the model; its time-split figures and the riskiest open tickets."""
    from conveyor.service import risk_save

    if not ws.store.has_stream(STREAM):
        return {}
    result = risk_save(ws, STREAM, deadline="sla_deadline", save=NAME, limit=5)
    ev = result["evaluation"] or {}
    return {
        "model": NAME,
        "version": result["version"],
        "stream": STREAM,
        "as_of": result["as_of"],
        "open_cases": result["open_cases"],
        "at_risk": result["at_risk"],
        "riskiest": result["cases"],
        "evaluation": {k: ev.get(k) for k in ("auc", "precision_top_10", "breach_rate", "test_cases", "naive", "note")},
    }
