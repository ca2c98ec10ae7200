"""Example adapter: the native ``SessionLifecycle`` seen through the hermes-webui API.

A target with another API is checked through a module like this one: it defines
``conformance_adapter()``, which returns a *new* object exposing the functions
the suite calls (see ``conformance.target``). Run it with::

    memory-lifecycle conform memory_lifecycle.specs.conformance.native_adapter
"""

from __future__ import annotations

import threading
from typing import Any

from memory_lifecycle.lifecycle import SessionLifecycle
from memory_lifecycle.model import Outcome


class NativeAdapter:
    """The hermes-webui lifecycle functions over one fresh ``SessionLifecycle``.

    Like the hermes-webui module, a falsy session id is a no-op returning the
    default (None, 0 or False).
    """

    def __init__(self, lifecycle: SessionLifecycle | None = None) -> None:
        self.lifecycle = SessionLifecycle() if lifecycle is None else lifecycle
        self._background_commit_threads: set[threading.Thread] = self.lifecycle.background_threads

    def register_agent(self, session_id: str, agent: Any) -> None:
        if session_id:
            self.lifecycle.register_agent(session_id, agent)

    def unregister_agent(self, session_id: str) -> None:
        if session_id:
            self.lifecycle.unregister_agent(session_id)

    def mark_turn_completed(
        self, session_id: str, *, agent: Any = None, ephemeral: bool = False
    ) -> int:
        if not session_id:
            return 0
        return self.lifecycle.complete_turn(session_id, agent=agent, ephemeral=ephemeral)

    def has_uncommitted_work(self, session_id: str) -> bool:
        return bool(session_id) and self.lifecycle.has_uncommitted_work(session_id)

    def commit_session_memory(
        self,
        session_id: str,
        agent: Any = None,
        *,
        wait: bool = False,
        timeout: float | None = None,
    ) -> bool:
        if not session_id:
            return False
        outcome = self.lifecycle.commit(session_id, agent, wait=wait, timeout=timeout)
        return outcome is Outcome.COMMITTED

    def discard_session(self, session_id: str) -> bool:
        if not session_id:
            return False
        return self.lifecycle.discard(session_id) in (Outcome.DISCARDED, Outcome.ALREADY_ABSENT)

    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        self.lifecycle.drain(deadline)


def conformance_adapter() -> NativeAdapter:
    """A fresh adapter over a new ``SessionLifecycle`` (one per conformance check)."""
    return NativeAdapter()
