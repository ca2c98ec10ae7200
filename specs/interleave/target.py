"""What the explorer runs scenarios against: the hermes-webui API surface.

A ``Target`` offers some of ``HERMES_API`` (module-level functions of the
hermes-webui module, or an adapter over the native ``SessionLifecycle``) and,
when it can, an ``inspect(session_id)`` that reads generation, committed and
the in-flight mark straight from its state for the per-step checks.

A ``TargetFactory`` builds a fresh target under a given scheduler; one is
called at the start of every run, inside the run's main logical thread:

- ``module_target("path/or/module")``: any module with the hermes-webui
  functions, loaded with the stand-ins (``loader.load_target``);
- ``native_target()``: ``memory_lifecycle.lifecycle.SessionLifecycle`` through
  ``NativeAdapter``;
- ``target_factory(spec)``: either, from a command-line spec (``native``,
  ``compat``, a dotted name or a path).
"""

from __future__ import annotations

import inspect as pyinspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .loader import load_target
from .scheduler import Scheduler

HERMES_API = (
    "register_agent",
    "unregister_agent",
    "mark_turn_completed",
    "has_uncommitted_work",
    "commit_session_memory",
    "discard_session",
    "drain_all_on_shutdown",
)
"""The hermes-webui function names a scenario may call."""

COMPAT_MODULE = "memory_lifecycle.compat"
LIFECYCLE_MODULE = "memory_lifecycle.lifecycle"


class SessionView(NamedTuple):
    """What the per-step checks read from a target's state for one session."""

    generation: int
    committed: int
    in_flight: bool


Inspector = Callable[[str], SessionView | None]


@dataclass
class Target:
    """A loaded implementation under test."""

    name: str
    api: Any
    """An object with (some of) the ``HERMES_API`` functions as attributes."""
    inspect: Inspector | None
    supports: frozenset[str]
    drain_takes_deadline: bool


TargetFactory = Callable[[Scheduler], Target]


def _supports(api: object) -> frozenset[str]:
    return frozenset(name for name in HERMES_API if callable(getattr(api, name, None)))


def _drain_takes_deadline(api: object) -> bool:
    drain = getattr(api, "drain_all_on_shutdown", None)
    if drain is None:
        return False
    try:
        return "deadline" in pyinspect.signature(drain).parameters
    except (TypeError, ValueError):
        return False


def _view_of_model_session(session: Any) -> SessionView | None:
    if session is None:
        return None
    return SessionView(
        int(session.generation), int(session.committed), session.in_flight is not None
    )


_ENTRY_KEYS = frozenset({"generation", "committed_generation", "in_flight"})
"""The keys of a hermes-webui ``_sessions`` entry the inspector reads."""


def _dict_inspector(sessions: dict[str, dict[str, Any]]) -> Inspector:
    """Inspector over a hermes-webui style ``_sessions`` dict of entry dicts."""

    def inspect(session_id: str) -> SessionView | None:
        entry = sessions.get(session_id)
        if entry is None:
            return None
        return SessionView(
            int(entry["generation"]), int(entry["committed_generation"]), bool(entry["in_flight"])
        )

    return inspect


def find_inspector(module: types.ModuleType) -> Inspector | None:
    """An inspector for a hermes-API module, when its state can be read."""
    sessions = getattr(module, "_sessions", None)
    new_entry = getattr(module, "_new_entry", None)
    if isinstance(sessions, dict) and callable(new_entry):
        try:
            shape = new_entry()
        except Exception:
            shape = None
        if isinstance(shape, dict) and shape.keys() >= _ENTRY_KEYS:
            return _dict_inspector(sessions)
    for value in vars(module).values():
        state_of = getattr(value, "session_state", None)
        if callable(state_of) and not isinstance(value, type):
            return lambda session_id: _view_of_model_session(state_of(session_id))
    return None


def module_target(path_or_module_name: str | Path, name: str | None = None) -> TargetFactory:
    """A factory loading a hermes-API module freshly, with stand-ins, for each run."""
    label = name or str(path_or_module_name)

    def factory(scheduler: Scheduler) -> Target:
        module = load_target(path_or_module_name, scheduler)
        return Target(
            name=label,
            api=module,
            inspect=find_inspector(module),
            supports=_supports(module),
            drain_takes_deadline=_drain_takes_deadline(module),
        )

    return factory


class NativeAdapter:
    """The hermes-webui functions over a native ``SessionLifecycle``."""

    def __init__(self, lifecycle: Any, outcome_type: Any) -> None:
        self.lifecycle = lifecycle
        self.outcome = outcome_type

    def register_agent(self, session_id: str, agent: object) -> None:
        """Register ``agent`` for the session's future turns."""
        if session_id:
            self.lifecycle.register_agent(session_id, agent)

    def unregister_agent(self, session_id: str) -> None:
        """Drop the session's current agent."""
        if session_id:
            self.lifecycle.unregister_agent(session_id)

    def mark_turn_completed(self, session_id: str, *, agent: object = None) -> int:
        """Complete one turn; return the generation."""
        if not session_id:
            return 0
        return int(self.lifecycle.complete_turn(session_id, agent=agent))

    def has_uncommitted_work(self, session_id: str) -> bool:
        """True when completed generations are not committed yet."""
        return bool(session_id) and bool(self.lifecycle.has_uncommitted_work(session_id))

    def commit_session_memory(
        self,
        session_id: str,
        agent: object = None,
        *,
        wait: bool = False,
        timeout: float | None = None,
    ) -> bool:
        """Commit the earliest dirty segment; True when the provider call succeeded."""
        if not session_id:
            return False
        outcome = self.lifecycle.commit(session_id, agent, wait=wait, timeout=timeout)
        return bool(outcome is self.outcome.COMMITTED)

    def discard_session(self, session_id: str) -> bool:
        """Drop a clean, idle entry; True when removed or already absent."""
        if not session_id:
            return False
        outcome = self.lifecycle.discard(session_id)
        return bool(outcome in (self.outcome.DISCARDED, self.outcome.ALREADY_ABSENT))

    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        """Commit every dirty session within ``deadline`` seconds."""
        self.lifecycle.drain(deadline=deadline)


def native_target(module_name: str = LIFECYCLE_MODULE) -> TargetFactory:
    """A factory building a fresh native ``SessionLifecycle`` under the stand-ins."""

    def factory(scheduler: Scheduler) -> Target:
        module = load_target(module_name, scheduler)
        from memory_lifecycle.model import Outcome

        lifecycle = module.SessionLifecycle()
        adapter = NativeAdapter(lifecycle, Outcome)
        return Target(
            name=f"native {module_name}",
            api=adapter,
            inspect=lambda session_id: _view_of_model_session(lifecycle.session_state(session_id)),
            supports=_supports(adapter),
            drain_takes_deadline=True,
        )

    return factory


def target_factory(spec: str) -> TargetFactory:
    """A factory from a spec: ``native``, ``compat``, a dotted module name or a .py path."""
    if spec == "native":
        return native_target()
    if spec == "compat":
        return module_target(COMPAT_MODULE, name="compat")
    return module_target(spec)
