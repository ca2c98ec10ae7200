"""Small worlds of the model checker that several test modules explore."""

from __future__ import annotations

from memory_lifecycle.specs.checker.world import Bounds

TWO_SESSIONS = Bounds(
    sessions=2,
    agents=1,
    max_generation=1,
    wait=False,
    in_call=False,
    whole=False,
    agent_cannot_commit=False,
    edits=False,
)
"""Two sessions with every family that adds states or acts across sessions (the
commit variants and probes left out act on one session)."""
