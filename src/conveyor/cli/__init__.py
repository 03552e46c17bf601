"""The `conveyor` command line: parse, call one service function, render."""

from conveyor.cli.app import app, main

__all__ = ["app", "main"]
