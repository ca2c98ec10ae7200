"""Drop-in for hermes-webui's ``api/session_lifecycle.py``.

Same functions, signatures and return values as the latest published module,
backed by one process-wide ``SessionLifecycle``. A host can re-export this
module from its own, or ``importlib.reload`` it for a fresh state. Falsy session
ids are no-ops that return the original's defaults.

Deliberate divergences (see README): a BaseException from the provider is a
failed commit and never wedges the session (S3); a commit refused as busy is
committed by a follow-up when the running call ends (L1); turns completed during
a commit are coalesced into one later provider call (S10); the drain commits
sessions in parallel (L2).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from memory_lifecycle.lifecycle import SessionLifecycle, can_commit
from memory_lifecycle.model import (
    Outcome,
    RegisterAgent,
    Session,
    TurnCompleted,
    UnregisterAgent,
)

_logger = logging.getLogger("memory_lifecycle")
_lifecycle = SessionLifecycle()
# The hot calls, bound once: each API call is then one call into the shell.
# For a fresh lifecycle reload this module; assigning `_lifecycle` would split the state.
_apply = _lifecycle.apply
_has_uncommitted_work = _lifecycle.has_uncommitted_work
_commit = _lifecycle._commit
_COMMITTED = Outcome.COMMITTED
_build = tuple.__new__
_background_commit_threads: set[threading.Thread] = _lifecycle.background_threads
_background_commit_threads_lock: threading.Lock = _lifecycle.background_lock
_draining = False
"""Set when ``drain_all_on_shutdown`` begins."""


def register_agent(session_id: str, agent: Any) -> None:
    """Make ``agent`` the owner of the session's future turns; dirty owners stay."""
    if not session_id:
        return
    _apply(_build(RegisterAgent, (session_id, agent)))


def unregister_agent(session_id: str) -> None:
    """Forget the session's current agent; owners of dirty work are kept."""
    if not session_id:
        return
    _apply(_build(UnregisterAgent, (session_id,)))


def mark_turn_completed(session_id: str, *, agent: Any = None) -> int:
    """Record a completed turn (owned by ``agent`` or the registered one); return the generation."""
    if not session_id:
        return 0
    generation = _apply(_build(TurnCompleted, (session_id, agent, False)))
    assert type(generation) is int
    return generation


def has_uncommitted_work(session_id: str) -> bool:
    """True when the session has completed turns not yet committed."""
    if not session_id:
        return False
    return _has_uncommitted_work(session_id)


def commit_session_memory(
    session_id: str, agent: Any = None, *, wait: bool = False, timeout: float | None = None
) -> bool:
    """Commit the earliest dirty segment; True only when the provider call succeeded."""
    if not session_id:
        return False
    if agent is not None and not can_commit(agent):
        # Adopting ownerless work would leave it with an owner that can never commit it.
        _logger.error(
            "commit_session_memory(%r): agent %r has no callable commit_memory_session(); "
            "nothing was committed and the work stays dirty",
            session_id,
            agent,
        )
        return False
    return _commit(session_id, agent, wait, timeout, False) is _COMMITTED


def discard_session(session_id: str) -> bool:
    """Drop a clean, idle entry; True when removed or absent, False when kept."""
    if not session_id:
        return False
    return _lifecycle.discard(session_id) in (Outcome.DISCARDED, Outcome.ALREADY_ABSENT)


def drain_all_on_shutdown(deadline: float = 30.0) -> None:
    """Commit every dirty session, in parallel, returning within ``deadline`` seconds."""
    global _draining
    if deadline != deadline:
        raise ValueError("drain_all_on_shutdown() deadline must be a number of seconds, got NaN")
    _draining = True
    _lifecycle.drain(deadline)


def _register_background_commit_thread(thread: threading.Thread) -> bool:
    """Track a boundary-commit thread; False once draining (then do not start it)."""
    if _draining:
        return False
    return _lifecycle.register_background_thread(thread)


def _unregister_background_commit_thread(thread: threading.Thread) -> None:
    """Stop tracking a finished boundary-commit thread."""
    _lifecycle.unregister_background_thread(thread)


def _reset_for_tests() -> None:
    """Forget every session and the drain flag."""
    global _draining
    _lifecycle.reset()
    _draining = False


class _SessionsView(Mapping[str, dict[str, Any]]):
    """Read-only view of the entries in the original's dict shape."""

    def __getitem__(self, session_id: str) -> dict[str, Any]:
        session = _lifecycle.session_state(session_id)
        if session is None:
            raise KeyError(session_id)
        return _as_entry(session)

    def __iter__(self) -> Iterator[str]:
        return iter(_lifecycle.session_ids())  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(_lifecycle)


def _as_entry(session: Session) -> dict[str, Any]:
    return {
        "generation": session.generation,
        "committed_generation": session.committed,
        "agent": session.registered,
        "in_flight": session.in_flight is not None,
        "segments": [
            {"start": segment.start, "end": segment.end, "agent": segment.owner}
            for segment in session.segments
        ],
    }


_sessions: Mapping[str, dict[str, Any]] = _SessionsView()
"""The entries, read-only, as the original's ``_sessions`` dict showed them."""
