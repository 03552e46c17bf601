"""Identifiers and literals written into SQL: the one place that escapes them, for every engine.

Queries are written in DuckDB's dialect (double-quoted identifiers, single-quoted strings) and
transpiled by SQLGlot for other engines, which re-escapes both for the target dialect. Only SQL
handed to an engine directly (Spark's DDL and DataFrame expressions) uses :func:`quote_spark`.
Values a user typed travel as bound parameters where the engine takes them; where a literal is
unavoidable (a query that SQLGlot must read, an engine without parameters) :func:`literal` writes it.
"""

from __future__ import annotations

from datetime import date, datetime

from conveyor.errors import ConveyorError

__all__ = ["literal", "quote", "quote_spark", "spark_string"]


def quote(identifier: str) -> str:
    """An identifier for DuckDB (and ANSI SQL): ``"name"``, inner quotes doubled.

    >>> print(quote('a"b'))
    "a""b"
    """
    return '"' + identifier.replace('"', '""') + '"'


def quote_spark(identifier: str) -> str:
    """An identifier for Spark SQL: ```name```, inner backticks doubled.

    >>> quote_spark("a`b")
    '`a``b`'
    """
    return "`" + identifier.replace("`", "``") + "`"


def literal(value: object) -> str:
    """A value as a DuckDB SQL literal: strings single-quoted with quotes doubled (backslashes
    are plain characters in DuckDB; SQLGlot escapes them for Spark), numbers as written, times as
    typed literals.

    >>> literal("O'Brien")
    "'O''Brien'"
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConveyorError(
                f"time {value.isoformat()} has no timezone", hint="give times with an offset, e.g. 2024-01-01T00:00Z"
            )
        return f"CAST('{value.isoformat()}' AS TIMESTAMPTZ)"
    if isinstance(value, date):
        return f"CAST('{value.isoformat()}' AS DATE)"
    return "'" + str(value).replace("'", "''") + "'"


def spark_string(value: str) -> str:
    r"""A string literal for Spark SQL handed to Spark directly (DDL such as ``LOCATION``), where
    a backslash escapes the next character.

    >>> print(spark_string("it's C:\\x"))
    'it\'s C:\\x'
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
