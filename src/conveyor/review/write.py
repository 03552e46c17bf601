"""Write the review to disk: the HTML file, and the PDF when asked."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.review.build import build_review
from conveyor.review.html import ReportError, render_html, write_pdf

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["write_review"]


def write_review(
    ws: Workspace,
    out: Path,
    *,
    pdf: Path | None = None,
    streams: list[str] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Build the review and write it; returns where it went, its size and how long it took."""
    started = time.perf_counter()
    if not out.parent.is_dir():
        raise ReportError(f"{out.parent} is not a folder", hint="create it, or pass --out to an existing folder")
    review = build_review(ws, streams, progress=progress)
    out.write_text(render_html(review), encoding="utf-8")
    result: dict[str, Any] = {
        "html": str(out.resolve()),
        "bytes": out.stat().st_size,
        "streams": [s["name"] for s in review["streams"]],
        "maturity": review["maturity"]["level"],
    }
    if pdf is not None:
        if progress is not None:
            progress("printing the PDF", 0.97)
        write_pdf(out, pdf)
        result["pdf"] = str(pdf.resolve())
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result
