"""The one error tree every conveyor failure belongs to.

Each class also inherits the builtin it resembles, so callers that catch ``ValueError`` or
``FileNotFoundError`` keep working, and each carries its data as attributes for the CLI and API.
``ConveyorError`` comes first among the bases so its ``__init__`` (message and hint) is the one
that runs; the builtin's comes after it in the MRO.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConveyorError",
    "EmptyStreamError",
    "MappingError",
    "QuarantineError",
    "SourceError",
    "StreamNotFoundError",
    "WorkspaceError",
]


class ConveyorError(Exception):
    """Root of every error conveyor raises on purpose."""

    #: A short hint telling the user what to do next; shown by the CLI under the message.
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint


class ConfigError(ConveyorError, ValueError):
    """``conveyor.toml`` is unreadable or a setting has a bad value."""


class WorkspaceError(ConveyorError, FileNotFoundError):
    """A command ran outside a workspace, or the workspace cannot be opened."""

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class StreamNotFoundError(ConveyorError, KeyError):
    """The named stream does not exist in this workspace."""

    def __init__(self, name: str, *, known: list[str]) -> None:
        listing = ", ".join(known) if known else "none yet"
        super().__init__(
            f"no stream named {name!r} in this workspace (streams: {listing})",
            hint="run `conveyor streams` to list them, or `conveyor ingest FILE --stream NAME`",
        )
        self.name = name
        self.known = known

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.message


class EmptyStreamError(ConveyorError, ValueError):
    """The stream exists but holds no events: every row its ingests read was quarantined."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"stream {name!r} holds no events yet: every row ingested into it was quarantined",
            hint=f"see why with `conveyor quarantine {name}`, fix the rows and ingest the file again",
        )
        self.name = name


class SourceError(ConveyorError, ValueError):
    """A source file is not what it claims to be (truncated, binary, not XES, hostile XML...)."""

    def __init__(self, message: str, *, file: str, hint: str | None = None) -> None:
        super().__init__(f"{file}: {message}", hint=hint)
        self.file = file


class MappingError(ConveyorError, ValueError):
    """The source's columns cannot be mapped to case id, activity and timestamp."""

    def __init__(self, message: str, *, file: str, columns: list[str], hint: str | None = None) -> None:
        super().__init__(f"{file}: {message}", hint=hint)
        self.file = file
        self.columns = columns


class QuarantineError(ConveyorError, ValueError):
    """Raised under ``--strict`` when any row would be quarantined; nothing was loaded.

    ``first`` is the first rejected row as a dict with file, row, column, value and reason.
    """

    def __init__(self, message: str, *, count: int, first: dict[str, object]) -> None:
        super().__init__(
            message,
            hint="fix the rows listed, or ingest without --strict to load the good rows "
            "and inspect the rest with `conveyor quarantine STREAM`",
        )
        self.count = count
        self.first = first
