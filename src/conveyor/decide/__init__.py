"""Deciders trained on the user's own history (scikit-learn): ticket triage with calibrated
confidences, similar past cases and suggested replies.

Models are versioned in the workspace (:mod:`conveyor.decide.registry`) and plug into the
automations' decider seam as ``kind: triage`` (:mod:`conveyor.decide.deciders`).
"""

from __future__ import annotations

from conveyor.errors import ConveyorError

__all__ = ["DecideError", "ModelNotFoundError"]


class DecideError(ConveyorError, ValueError):
    """Training or using a model failed on the user's input (too little data, a missing column)."""


class ModelNotFoundError(DecideError):
    """No model (or no such version) by that name in the workspace."""
