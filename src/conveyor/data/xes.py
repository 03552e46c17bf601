"""XES (IEEE 1849) reading and writing, streamed with bounded memory.

The reader is a SAX-style pass over expat: it never builds the document, it hands out events in
Arrow chunks of ``chunk_events`` rows, and it refuses DTD entity declarations outright (the root
of "billion laughs" and external-entity attacks), so a hostile file costs nothing to reject.
Trace attributes come out in a second, per-trace table so they are not copied onto every event.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

import pyarrow as pa

from conveyor.errors import SourceError

__all__ = ["XES_TYPES", "XesChunk", "read_xes", "write_xes"]

#: XES attribute element -> DuckDB type the values are cast to.
XES_TYPES = {
    "string": "VARCHAR",
    "date": "TIMESTAMPTZ",
    "int": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "id": "VARCHAR",
}
_SKIP_CONTENT = {"list", "container", "global"}
_READ_BYTES = 1 << 20


@dataclass
class XesChunk:
    """Events and the traces they belong to, as Arrow tables of strings.

    ``events`` has ``_row`` (line of the ``<event>`` tag), ``_trace`` (trace number) and one
    column per event attribute key; ``traces`` has ``_trace`` and one ``case:<key>`` column per
    trace attribute. ``types`` maps every key seen so far to its XES type.
    """

    events: pa.Table
    traces: pa.Table
    types: dict[str, str] = field(default_factory=dict)


class _Handler:
    """expat callbacks; kept small because they run once per element."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.parser: Any = None
        self.nest = 0  # >0 while inside an attribute (or global/list) whose children we skip
        self.root_seen = False
        self.event: dict[str, str | int] | None = None
        self.trace: dict[str, str | int] | None = None
        self.trace_no = 0
        self.events: list[dict[str, str | int]] = []
        self.traces: list[dict[str, str | int]] = []
        self.event_types: dict[str, str] = {}
        self.trace_types: dict[str, str] = {}

    def start(self, name: str, attrs: list[str]) -> None:
        if self.nest:
            self.nest += 1
            return
        if name in XES_TYPES:
            self.nest = 1
            if len(attrs) == 4 and attrs[0] == "key" and attrs[2] == "value":
                key, value = attrs[1], attrs[3]
            else:
                a = dict(zip(attrs[::2], attrs[1::2], strict=True))
                key, value = a.get("key", ""), a.get("value", "")
            if self.event is not None:
                self.event[key] = value
                types = self.event_types
            elif self.trace is not None:
                key = "case:" + key
                self.trace[key] = value
                types = self.trace_types
            else:
                return  # a log-level attribute: not part of any case
            known = types.get(key)
            if known != name:
                types[key] = name if known is None else "string"
        elif name == "event":
            self.event = {"_row": self.parser.CurrentLineNumber}
            if self.trace is not None:
                self.event["_trace"] = self.trace_no
        elif name == "trace":
            self.trace_no += 1
            self.trace = {"_trace": self.trace_no}
        elif name in _SKIP_CONTENT:
            self.nest = 1
        elif not self.root_seen:
            local = name.rsplit(":", 1)[-1]
            if local != "log":
                raise SourceError(
                    f"XML, but not XES: the root element is <{name}>, not <log>",
                    file=self.file,
                    hint="export the log as XES (IEEE 1849), or as CSV",
                )
        self.root_seen = True

    def end(self, name: str) -> None:
        if self.nest:
            self.nest -= 1
            return
        if name == "event" and self.event is not None:
            self.events.append(self.event)
            self.event = None
        elif name == "trace" and self.trace is not None:
            self.traces.append(self.trace)
            self.trace = None

    def entity_declared(self, name: str, *args: object) -> None:
        raise SourceError(
            f"declares the XML entity {name!r}; entity declarations are refused because they "
            "enable entity-expansion and external-entity attacks",
            file=self.file,
            hint="XES files need no DTD: remove the <!DOCTYPE ...> block",
        )

    def flush(self) -> XesChunk:
        events, traces = self.events, self.traces
        ev_cols: dict[str, pa.Array] = {
            "_row": pa.array([e["_row"] for e in events], pa.int64()),
            "_trace": pa.array([e.get("_trace") for e in events], pa.int64()),
        }
        for key in self.event_types:
            ev_cols[key] = pa.array([e.get(key) for e in events], pa.string())
        tr_cols: dict[str, pa.Array] = {"_trace": pa.array([t["_trace"] for t in traces], pa.int64())}
        for key in self.trace_types:
            tr_cols[key] = pa.array([t.get(key) for t in traces], pa.string())
        self.events, self.traces = [], []
        types = {**self.trace_types, **self.event_types}
        return XesChunk(events=pa.table(ev_cols), traces=pa.table(tr_cols), types=types)


def _open_bytes(path: Path) -> tuple[IO[bytes], bool]:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    return raw, magic == b"\x1f\x8b"


def read_xes(
    path: str | Path,
    *,
    chunk_events: int = 50_000,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[XesChunk]:
    """Stream an ``.xes`` or ``.xes.gz`` file as :class:`XesChunk` objects.

    ``on_progress(bytes_read, total_bytes)`` is called as the (compressed) file is consumed.
    Raises :class:`SourceError` for files that are truncated, not XML, not XES, or hostile.
    """
    path = Path(path)
    file = str(path)
    total = path.stat().st_size
    handler = _Handler(file)
    parser = expat.ParserCreate()
    handler.parser = parser
    parser.ordered_attributes = True
    parser.buffer_text = True
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.EntityDeclHandler = handler.entity_declared
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    raw, gz = _open_bytes(path)
    inflater = zlib.decompressobj(wbits=47) if gz else None
    done = 0
    try:
        while True:
            block = raw.read(_READ_BYTES)
            done += len(block)
            if inflater is not None:
                try:
                    data = inflater.decompress(block) if block else inflater.flush()
                    while inflater.eof and inflater.unused_data:  # concatenated gzip members
                        rest = inflater.unused_data
                        inflater = zlib.decompressobj(wbits=47)
                        data += inflater.decompress(rest)
                except zlib.error as exc:
                    raise SourceError(
                        f"corrupt gzip data: {exc}", file=file, hint="re-export or re-download the file"
                    ) from exc
            else:
                data = block
            last = not block
            if last and inflater is not None and not inflater.eof:
                raise SourceError(
                    "the gzip stream ends early (truncated file)",
                    file=file,
                    hint="the file was cut short; copy or download it again",
                )
            try:
                parser.Parse(data, last)
            except expat.ExpatError as exc:
                detail = expat.errors.messages[exc.code] if exc.code else str(exc)
                hint = (
                    "the file is cut short; copy it again"
                    if "no element found" in str(exc) or "unclosed token" in str(exc)
                    else ("is this really an XES file? conveyor reads .xes, .xes.gz, .csv(.gz) and .parquet")
                )
                raise SourceError(
                    f"not well-formed XML at line {exc.lineno}, column {exc.offset}: {detail}",
                    file=file,
                    hint=hint,
                ) from exc
            if on_progress is not None:
                on_progress(done, total)
            if len(handler.events) >= chunk_events or last:
                yield handler.flush()
            if last:
                break
    finally:
        raw.close()
    if not handler.root_seen:
        raise SourceError("contains no XML elements", file=file, hint="the file is empty or not XES")


# -- writing ----------------------------------------------------------------------------------

_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def _xes_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_timestamp(arrow_type):
        return "date"
    return "string"


def _fmt(kind: str, value: object) -> str:
    if kind == "date":
        assert isinstance(value, datetime)
        return value.isoformat(timespec="microseconds")
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "float":
        return repr(float(value))  # type: ignore[arg-type]
    return str(value).translate(_ESCAPES)


def write_xes(
    out: IO[str],
    batches: Iterator[pa.RecordBatch],
    *,
    case_column: str,
    case_attributes: list[str],
) -> int:
    """Write events (sorted by case, then position) as XES; returns the number of events.

    Columns listed in ``case_attributes`` are written once per trace (without their ``case:``
    prefix); ``case_column`` becomes the trace's ``concept:name``; every other column is an event
    attribute typed from its Arrow type.
    """
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write('<log xes.version="1.0" xes.features="" xmlns="http://www.xes-standard.org/">\n')
    for prefix, name in (
        ("concept", "Concept"),
        ("time", "Time"),
        ("org", "Organizational"),
        ("lifecycle", "Lifecycle"),
    ):
        out.write(f'\t<extension name="{name}" prefix="{prefix}" uri="http://www.xes-standard.org/{prefix}.xesext"/>\n')
    current: object = None
    open_trace = False
    n = 0
    for batch in batches:
        names = batch.schema.names
        kinds = {c: _xes_type(batch.schema.field(c).type) for c in names}
        cols = {c: batch.column(c).to_pylist() for c in names}
        event_cols = [c for c in names if c != case_column and c not in case_attributes]
        for i in range(batch.num_rows):
            case = cols[case_column][i]
            if case != current or not open_trace:
                if open_trace:
                    out.write("\t</trace>\n")
                out.write("\t<trace>\n")
                out.write(f'\t\t<string key="concept:name" value="{_fmt("string", case)}"/>\n')
                for c in case_attributes:
                    v = cols[c][i]
                    if v is not None:
                        key = c.removeprefix("case:").translate(_ESCAPES)
                        out.write(f'\t\t<{kinds[c]} key="{key}" value="{_fmt(kinds[c], v)}"/>\n')
                current, open_trace = case, True
            parts = ["\t\t<event>\n"]
            for c in event_cols:
                v = cols[c][i]
                if v is not None:
                    k = kinds[c]
                    parts.append(f'\t\t\t<{k} key="{c.translate(_ESCAPES)}" value="{_fmt(k, v)}"/>\n')
            parts.append("\t\t</event>\n")
            out.write("".join(parts))
            n += 1
    if open_trace:
        out.write("\t</trace>\n")
    out.write("</log>\n")
    return n
