"""Load an implementation under test, fresh for every check, and call it safely.

The adapter contract
====================

A *target* is a module (an importable dotted path, or a ``.py`` file) with the
hermes-webui lifecycle API as module-level functions:

required
    ``register_agent(session_id, agent) -> None``,
    ``unregister_agent(session_id) -> None``,
    ``mark_turn_completed(session_id, *, agent=None) -> int`` (the generation),
    ``has_uncommitted_work(session_id) -> bool``,
    ``commit_session_memory(session_id, agent=None, *, wait=False, timeout=None) -> bool``
    (True only when the provider call succeeded).
optional
    ``discard_session(session_id) -> bool`` (S8, L4 need it),
    ``drain_all_on_shutdown(deadline=...)`` or ``drain_all_on_shutdown()`` (L2),
    an ``ephemeral`` keyword on ``mark_turn_completed`` (the ephemeral part of S1),
    ``_sessions`` (a mapping of live entries; L4 then checks entries are gone),
    ``_background_commit_threads`` (a set of threads; joined before comparing).

Agents are opaque objects; the lifecycle must call ``agent.commit_memory_session()``
to commit. A property whose calls a target lacks is reported ``not_applicable``.

An implementation with another API is checked through a small adapter: a module
defining ``conformance_adapter()``, which returns a *new* object with the methods
above each time it is called (the suite calls it once per check, so no state
leaks between checks). ``memory_lifecycle.specs.conformance.native_adapter``
adapts ``SessionLifecycle`` this way.

Every target call the suite makes runs on a daemon thread joined with a bound,
so a target that hangs is reported (L2/L3) instead of hanging the suite.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

REQUIRED = (
    "register_agent",
    "unregister_agent",
    "mark_turn_completed",
    "has_uncommitted_work",
    "commit_session_memory",
)
"""Functions every target must expose."""

_fresh_names = itertools.count(1)


class TargetError(Exception):
    """The target cannot be loaded or lacks a required function."""


def load_module(target: str) -> ModuleType:
    """A new module object for ``target`` (a dotted module path or a ``.py`` file).

    Each call executes the source again, so module globals start fresh.
    """
    if target.endswith(".py") or os.sep in target or os.path.exists(target):
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise TargetError(f"target file {target!r} does not exist")
        origin, package = path, ""
    else:
        try:
            found = importlib.util.find_spec(target)
        except (ImportError, ValueError) as error:
            raise TargetError(f"cannot import target module {target!r}: {error}") from None
        if found is None or found.origin is None or not found.origin.endswith(".py"):
            raise TargetError(
                f"target {target!r} is not an importable Python source module; "
                f"give a dotted module path or a .py file"
            )
        origin, package = found.origin, found.parent or ""
    name = f"_lifecycle_target_{next(_fresh_names)}"
    spec = importlib.util.spec_from_file_location(name, origin)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot load target {target!r} from {origin}")
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise TargetError(f"importing target {target!r} failed: {error!r}") from error
    finally:
        sys.modules.pop(name, None)
    return module


def _accepts_keyword(function: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        item.kind is inspect.Parameter.VAR_KEYWORD for item in parameters.values()
    )


def _accepts_positional(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return any(
        item.kind
        in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        )
        for item in parameters.values()
    )


class Target:
    """One fresh instance of the implementation under test, and what it offers."""

    def __init__(self, api: Any, name: str) -> None:
        missing = [item for item in REQUIRED if not callable(getattr(api, item, None))]
        if missing:
            raise TargetError(
                f"target {name!r} lacks {', '.join(missing)}; expose the hermes-webui "
                f"lifecycle functions or a conformance_adapter() returning an object with them"
            )
        self.api = api
        self.name = name
        drain = getattr(api, "drain_all_on_shutdown", None)
        self.has_discard = callable(getattr(api, "discard_session", None))
        self.has_drain = callable(drain)
        self.drain_takes_deadline = self.has_drain and _accepts_positional(drain)  # type: ignore[arg-type]
        self.has_ephemeral = _accepts_keyword(api.mark_turn_completed, "ephemeral")

    def register_agent(self, session_id: Any, agent: object) -> None:
        self.api.register_agent(session_id, agent)

    def unregister_agent(self, session_id: Any) -> None:
        self.api.unregister_agent(session_id)

    def mark_turn_completed(
        self, session_id: Any, agent: object | None = None, ephemeral: bool = False
    ) -> Any:
        if ephemeral:
            return self.api.mark_turn_completed(session_id, agent=agent, ephemeral=True)
        return self.api.mark_turn_completed(session_id, agent=agent)

    def has_uncommitted_work(self, session_id: Any) -> Any:
        return self.api.has_uncommitted_work(session_id)

    def commit(
        self, session_id: Any, agent: object | None, wait: bool, timeout: float | None
    ) -> Any:
        return self.api.commit_session_memory(session_id, agent, wait=wait, timeout=timeout)

    def discard(self, session_id: Any) -> Any:
        return self.api.discard_session(session_id)

    def drain(self, deadline: float) -> Any:
        if self.drain_takes_deadline:
            return self.api.drain_all_on_shutdown(deadline)
        return self.api.drain_all_on_shutdown()

    def entries(self) -> Mapping[Any, Any] | None:
        """The target's live entries when it exposes ``_sessions``, else None."""
        sessions = getattr(self.api, "_sessions", None)
        return sessions if isinstance(sessions, Mapping) else None


TargetFactory = Callable[[], Target]
"""Makes a fresh ``Target`` (new module object, new state) for one check."""


def target_factory(target: str) -> TargetFactory:
    """A factory loading ``target`` afresh on every call; fails early if it cannot load."""

    def make() -> Target:
        module = load_module(target)
        adapter = getattr(module, "conformance_adapter", None)
        api = adapter() if callable(adapter) else module
        return Target(api, target)

    make()
    return make


@dataclass
class CallResult:
    """How one bounded call ended."""

    value: Any = None
    error: BaseException | None = None
    hung: bool = False
    elapsed: float = 0.0


ORIGIN = "conformance_origin"
"""Thread attribute naming the check whose calls (transitively) started the thread."""

_original_start = threading.Thread.start
_tracking_depth = 0
_tracking_lock = threading.Lock()


def _start_with_origin(self: threading.Thread) -> None:
    if not hasattr(self, ORIGIN):
        setattr(self, ORIGIN, getattr(threading.current_thread(), ORIGIN, None))
    _original_start(self)


@contextmanager
def origin_tracking() -> Iterator[None]:
    """While active, every started thread inherits its starter's ``ORIGIN``.

    So the threads a target starts from a check's calls belong to that check,
    and a stray thread left by an earlier check (a runaway follow-up loop, say)
    is never mistaken for this check's background work.
    """
    global _tracking_depth
    with _tracking_lock:
        if _tracking_depth == 0:
            threading.Thread.start = _start_with_origin  # type: ignore[method-assign]
        _tracking_depth += 1
    try:
        yield
    finally:
        with _tracking_lock:
            _tracking_depth -= 1
            if _tracking_depth == 0:
                threading.Thread.start = _original_start  # type: ignore[method-assign]


class BoundedCall:
    """A target call running on a daemon thread; ``result`` joins it with a bound.

    ``origin`` marks the thread (and, under ``origin_tracking``, every thread
    the call starts) as belonging to one check.
    """

    def __init__(
        self, function: Callable[[], Any], name: str = "conformance call", origin: object = None
    ) -> None:
        self.outcome = CallResult()
        self.done = threading.Event()
        self._function = function
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        setattr(self.thread, ORIGIN, origin)
        self._started = 0.0

    def _run(self) -> None:
        try:
            self.outcome.value = self._function()
        except BaseException as error:
            self.outcome.error = error
        finally:
            self.done.set()

    def start(self) -> BoundedCall:
        import time

        self._started = time.monotonic()
        self.thread.start()
        return self

    def result(self, bound: float) -> CallResult:
        """Wait at most ``bound`` seconds; ``hung`` tells whether it is still running."""
        import time

        finished = self.done.wait(bound)
        self.outcome.hung = not finished
        self.outcome.elapsed = time.monotonic() - self._started
        return self.outcome


def join_new_threads(
    before: set[threading.Thread], bound: float, origin: object = None
) -> list[threading.Thread]:
    """Join threads started since ``before`` was taken; return those still alive after ``bound``.

    With an ``origin``, only threads of that check count.
    """
    import time

    ends_at = time.monotonic() + bound
    seen: set[threading.Thread] = set(before)
    while True:
        current = threading.current_thread()
        fresh = [
            t
            for t in threading.enumerate()
            if t not in seen
            and t is not current
            and (origin is None or getattr(t, ORIGIN, None) is origin)
        ]
        if not fresh:
            return []
        for thread in fresh:
            thread.join(max(0.0, ends_at - time.monotonic()))
        alive = [t for t in fresh if t.is_alive()]
        if alive:
            return alive
        seen.update(fresh)


def blocked_in_wait(thread: threading.Thread) -> bool:
    """True when ``thread`` is inside a ``threading`` wait (a Condition, Event or join)."""
    frames = sys._current_frames()
    frame = frames.get(thread.ident) if thread.ident is not None else None
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_code.co_filename.endswith("threading.py"):
            return True
        frame = frame.f_back
    return False
