"""Small worlds of the model checker that several test modules explore."""

from __future__ import annotations

from memory_lifecycle.specs.checker.world import Bounds

TWO_SESSIONS = Bounds(sessions=2, agents=1, max_generation=1).without(
    "wait", "in_call", "whole", "agent_cannot_commit", "edits"
)
"""Two sessions with every family that adds states or acts across sessions (the
commit variants and probes left out act on one session)."""
