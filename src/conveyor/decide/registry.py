"""Model versions in the workspace: ``models/NAME/vN/`` holds ``model.joblib`` (the fitted
model) and ``card.json`` (who trained it, on what data and when, what it reads, its held-out
metrics). A new training adds a version; deciders use the newest unless told otherwise.

The model file is a pickle: load only models from workspaces you trust (your own).
"""

from __future__ import annotations

import getpass
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor.decide import DecideError, ModelNotFoundError

__all__ = ["load", "model_cards", "save", "versions"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CACHE: dict[tuple[str, int, float], Any] = {}
_CARDS: dict[tuple[str, float], dict[str, Any]] = {}


def _dir(root: Path, name: str) -> Path:
    if not _NAME.match(name):
        raise DecideError(
            f"model name {name!r}: use letters, digits, '-', '_' or '.' (up to 64)", hint="e.g. --name ticket-triage"
        )
    return root / "models" / name


def versions(root: Path, name: str) -> list[int]:
    d = _dir(root, name)
    if not d.is_dir():
        return []
    return sorted(int(p.name[1:]) for p in d.glob("v*") if p.name[1:].isdigit() and (p / "card.json").is_file())


def save(root: Path, name: str, model: Any, card: dict[str, Any]) -> dict[str, Any]:
    """Store a new version; the card as written (with ``version``, ``trained_at``, ``trained_by``)."""
    import joblib

    known = versions(root, name)
    version = (known[-1] + 1) if known else 1
    d = _dir(root, name) / f"v{version}"
    d.mkdir(parents=True)
    joblib.dump(model, d / "model.joblib", compress=3)
    full = {
        "name": name,
        "version": version,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trained_by": getpass.getuser(),
        **card,
    }
    tmp = d / "card.json.tmp"
    tmp.write_text(json.dumps(full, indent=1, default=str), encoding="utf-8")
    tmp.replace(d / "card.json")  # the card last: a version without one is not listed
    return full


def card(root: Path, name: str, version: int | None = None) -> dict[str, Any]:
    known = versions(root, name)
    if not known:
        names = sorted(p.name for p in (root / "models").glob("*") if p.is_dir()) if (root / "models").is_dir() else []
        raise ModelNotFoundError(
            f"no model named {name!r} in this workspace",
            hint=f"models: {', '.join(names) or 'none yet'}; train one with `conveyor triage train`",
        )
    v = known[-1] if version is None else version
    if v not in known:
        raise ModelNotFoundError(f"model {name!r} has no version {v}", hint=f"versions: {', '.join(map(str, known))}")
    path = _dir(root, name) / f"v{v}" / "card.json"
    key = (str(path), path.stat().st_mtime)  # a decider reads the card before every decision
    if key not in _CARDS:
        _CARDS[key] = json.loads(path.read_text(encoding="utf-8"))
    return dict(_CARDS[key])


def load(root: Path, name: str, version: int | None = None) -> tuple[Any, dict[str, Any]]:
    """The fitted model and its card (cached per file, so deciders load it once)."""
    import joblib

    c = card(root, name, version)
    path = _dir(root, name) / f"v{c['version']}" / "model.joblib"
    key = (str(path), int(c["version"]), path.stat().st_mtime)
    if key not in _CACHE:
        _CACHE[key] = joblib.load(path)
    return _CACHE[key], c


def model_cards(root: Path) -> list[dict[str, Any]]:
    """Every model's newest card, with how many versions it has."""
    out: list[dict[str, Any]] = []
    base = root / "models"
    if not base.is_dir():
        return out
    for d in sorted(p for p in base.iterdir() if p.is_dir()):
        known = versions(root, d.name)
        if known:
            c = card(root, d.name)
            out.append({**c, "versions": known})
    return out
