"""The operating review: one self-contained HTML report (and PDF) for leaders.

from conveyor.review import write_review
write_review(ws, Path("review.html"), pdf=Path("review.pdf"))
"""

from __future__ import annotations

from conveyor.review.build import build_review, maturity, stream_review
from conveyor.review.write import write_review

__all__ = ["build_review", "maturity", "stream_review", "write_review"]
