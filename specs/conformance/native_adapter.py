"""Example adapter: the native ``SessionLifecycle`` seen through the hermes-webui API.

A target with another API is checked through a module like this one: it defines
``conformance_adapter()``, which returns a *new* object exposing the functions
the suite calls (see ``conformance.target`` for the contract). Run it with::

    memory-lifecycle conform memory_lifecycle.specs.conformance.native_adapter

The hermes-webui functions over ``SessionLifecycle`` already exist for the
interleaving explorer; this adapter reuses them and adds what the suite can
also check: ``ephemeral`` turns (S1) and the background-thread registry.
"""

from __future__ import annotations

import threading
from typing import Any

from memory_lifecycle.lifecycle import SessionLifecycle
from memory_lifecycle.model import Outcome

from ..interleave.target import NativeAdapter as HermesFunctions


class NativeAdapter(HermesFunctions):
    """The hermes-webui lifecycle functions over one fresh ``SessionLifecycle``.

    Like the hermes-webui module, a falsy session id is a no-op returning the
    default (None, 0 or False).
    """

    def __init__(self, lifecycle: SessionLifecycle | None = None) -> None:
        super().__init__(SessionLifecycle() if lifecycle is None else lifecycle, Outcome)
        self._background_commit_threads: set[threading.Thread] = self.lifecycle.background_threads

    def mark_turn_completed(
        self, session_id: str, *, agent: Any = None, ephemeral: bool = False
    ) -> int:
        """Complete one turn (an ephemeral one counts nothing); return the generation."""
        if not session_id:
            return 0
        return int(self.lifecycle.complete_turn(session_id, agent=agent, ephemeral=ephemeral))


def conformance_adapter() -> NativeAdapter:
    """A fresh adapter over a new ``SessionLifecycle`` (one per conformance check)."""
    return NativeAdapter()
