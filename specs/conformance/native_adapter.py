"""The adapter for the native API: ``SessionLifecycle`` seen through the hermes-webui functions.

A target with another API is checked through a module like this one: it defines
``conformance_adapter()``, which returns a *new* object offering the functions
the checks call (``memory_lifecycle.hermes_api``; see ``conformance.target``).
``memory-lifecycle conform native`` and ``memory-lifecycle interleave --target
native`` check this one. It imports only the shell and the model, so the
interleaving explorer can load it with its stand-in ``threading`` and ``time``.
"""

from __future__ import annotations

from typing import Any

from memory_lifecycle.lifecycle import SessionLifecycle
from memory_lifecycle.model import Outcome, Session


class NativeAdapter:
    """The hermes-webui lifecycle functions over one ``SessionLifecycle``.

    Like the hermes-webui module, a falsy session id is a no-op returning the
    default (None, 0 or False).
    """

    def __init__(self, lifecycle: SessionLifecycle | None = None) -> None:
        self.lifecycle = SessionLifecycle() if lifecycle is None else lifecycle
        self._background_commit_threads = self.lifecycle.background_threads

    def register_agent(self, session_id: Any, agent: Any) -> None:
        """Register ``agent`` for the session's future turns."""
        if session_id:
            self.lifecycle.register_agent(session_id, agent)

    def unregister_agent(self, session_id: Any) -> None:
        """Drop the session's current agent."""
        if session_id:
            self.lifecycle.unregister_agent(session_id)

    def mark_turn_completed(
        self, session_id: Any, *, agent: Any = None, ephemeral: bool = False
    ) -> int:
        """Complete one turn (an ephemeral one counts nothing); return the generation."""
        if not session_id:
            return 0
        return int(self.lifecycle.complete_turn(session_id, agent=agent, ephemeral=ephemeral))

    def has_uncommitted_work(self, session_id: Any) -> bool:
        """True when completed generations are not committed yet."""
        return bool(session_id) and bool(self.lifecycle.has_uncommitted_work(session_id))

    def commit_session_memory(
        self, session_id: Any, agent: Any = None, *, wait: bool = False, timeout: Any = None
    ) -> bool:
        """Commit the earliest dirty segment; True when the provider call succeeded."""
        if not session_id:
            return False
        outcome = self.lifecycle.commit(session_id, agent, wait=wait, timeout=timeout)
        return outcome is Outcome.COMMITTED

    def discard_session(self, session_id: Any) -> bool:
        """Drop a clean, idle entry; True when removed or already absent."""
        if not session_id:
            return False
        return self.lifecycle.discard(session_id) in (Outcome.DISCARDED, Outcome.ALREADY_ABSENT)

    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        """Commit every dirty session within ``deadline`` seconds."""
        self.lifecycle.drain(deadline=deadline)

    def _register_background_commit_thread(self, thread: Any) -> bool:
        """Track a host-started commit thread; False while draining (do not start it)."""
        return self.lifecycle.register_background_thread(thread)

    def _unregister_background_commit_thread(self, thread: Any) -> None:
        """Stop tracking a finished commit thread."""
        self.lifecycle.unregister_background_thread(thread)

    def session_state(self, session_id: Any) -> Session | None:
        """The session's state, for the checkers' inspection."""
        return self.lifecycle.session_state(session_id)


def conformance_adapter() -> NativeAdapter:
    """A fresh adapter over a new ``SessionLifecycle`` (one per check)."""
    return NativeAdapter()
