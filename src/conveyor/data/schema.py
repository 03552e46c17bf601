"""The standard event model and how a source's columns map onto it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from conveyor.errors import MappingError

__all__ = ["CASE_PREFIX", "STANDARD_NAMES", "ColumnMapping", "resolve_mapping"]

#: Columns whose name starts with this are case attributes (the XES/PM4Py convention).
CASE_PREFIX = "case:"

#: The names conveyor writes on export, and reads back without flags.
STANDARD_NAMES = {
    "case_id": "case:concept:name",
    "activity": "concept:name",
    "timestamp": "time:timestamp",
    "resource": "org:resource",
    "lifecycle": "lifecycle:transition",
}

# Normalised (lowercase, letters and digits only) names recognised for each role, best first:
# XES keys, Disco/ProM exports, then plain names.
_KNOWN: dict[str, tuple[str, ...]] = {
    "case_id": ("caseconceptname", "caseid", "case", "caseidentifier", "casekey", "casenumber"),
    "activity": ("conceptname", "activity", "activityname", "eventname", "event", "task"),
    "timestamp": (
        "timetimestamp",
        "completetimestamp",
        "timestamp",
        "endtimestamp",
        "completetime",
        "eventtime",
        "datetime",
        "time",
        "date",
    ),
    "resource": ("orgresource", "resource", "user", "agent", "performer", "employee"),
    "lifecycle": ("lifecycletransition", "lifecycle", "transition", "eventtype"),
}

_FLAG = {
    "case_id": "--case-id",
    "activity": "--activity",
    "timestamp": "--timestamp",
    "resource": "--resource",
    "lifecycle": "--lifecycle",
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which source column plays which role. ``resource`` and ``lifecycle`` are optional."""

    case_id: str
    activity: str
    timestamp: str
    resource: str | None = None
    lifecycle: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def roles(self) -> dict[str, str]:
        """Role -> column, for the roles that are mapped."""
        return {k: v for k, v in self.as_dict().items() if v is not None}


def resolve_mapping(
    columns: list[str],
    *,
    file: str,
    case_id: str | None = None,
    activity: str | None = None,
    timestamp: str | None = None,
    resource: str | None = None,
    lifecycle: str | None = None,
) -> ColumnMapping:
    """Map ``columns`` onto the event model; explicit names win over detection.

    >>> resolve_mapping(["Case ID", "Activity", "Complete Timestamp"], file="x.csv").case_id
    'Case ID'
    """
    given = {
        "case_id": case_id,
        "activity": activity,
        "timestamp": timestamp,
        "resource": resource,
        "lifecycle": lifecycle,
    }
    present = set(columns)
    chosen: dict[str, str | None] = {}
    for role, name in given.items():
        if name is not None:
            if name not in present:
                raise MappingError(
                    f"column {name!r} given by {_FLAG[role]} is not in the file; its columns are: {', '.join(columns)}",
                    file=file,
                    columns=columns,
                    hint=f"pass {_FLAG[role]} with one of the columns listed",
                )
            chosen[role] = name
    taken = {v for v in chosen.values() if v}
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    for role, known in _KNOWN.items():
        if role in chosen:
            continue
        chosen[role] = None
        for candidate in known:
            found = by_norm.get(candidate)
            if found is not None and found not in taken:
                chosen[role] = found
                taken.add(found)
                break
    missing = [r for r in ("case_id", "activity", "timestamp") if chosen[r] is None]
    if missing:
        flags = " ".join(f"{_FLAG[r]} COLUMN" for r in missing)
        raise MappingError(
            f"cannot tell which column is the {', '.join(m.replace('_', ' ') for m in missing)}; "
            f"its columns are: {', '.join(columns)}",
            file=file,
            columns=columns,
            hint=f"name them with {flags}",
        )
    return ColumnMapping(
        case_id=str(chosen["case_id"]),
        activity=str(chosen["activity"]),
        timestamp=str(chosen["timestamp"]),
        resource=chosen["resource"],
        lifecycle=chosen["lifecycle"],
    )
