"""Drop-in for hermes-webui's ``api/session_lifecycle.py``.

Every module-level name of the latest published module, with its signature
and return values, backed by one process-wide ``SessionLifecycle``. A host
aliases its own module to this one (``sys.modules[__name__] = compat``) or
``importlib.reload``s it for a fresh state. Falsy session ids are no-ops that
return the original's defaults.

White-box names a host's tests use behave as in the original: ``_lock`` and
``_condition`` (over it) block every lifecycle operation while held;
``logger`` is where the lifecycle logs and ``time`` is the clock it reads,
both looked up at each use, so tests may patch them; ``_sessions`` is a live
mapping whose entries read and write like the original's dicts. Writes go
through one model event (``EntryEdited``) that refuses any edit leaving the
entry malformed; they are a test hook, not an API for production code.

The deliberate divergences from the original are listed, with their reasons,
in README's table and as data in ``memory_lifecycle.specs.conformance``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, MutableSequence
from typing import Any

from memory_lifecycle.checks import can_commit, check_seconds
from memory_lifecycle.lifecycle import SessionLifecycle
from memory_lifecycle.model import (
    Outcome,
    RegisterAgent,
    Segment,
    Session,
    TurnCompleted,
    UnregisterAgent,
)

logger = logging.getLogger(__name__)
"""The logger the lifecycle writes to (looked up at each use)."""


def _read_clock() -> float:
    return time.monotonic()


def _current_logger() -> logging.Logger:
    return logger


_lifecycle = SessionLifecycle(clock=_read_clock, log=_current_logger)
_lock = _lifecycle.lock
_condition = _lifecycle.condition
_background_commit_threads: set[threading.Thread] = _lifecycle.background_threads
_background_commit_threads_lock = _lifecycle.background_lock
_draining = False
"""True while ``drain_all_on_shutdown`` runs: ``_register_background_commit_thread``
then refuses, and the host commits inline (the drain commits that work anyway).
Cleared when the drain returns, so the lifecycle serves as before; a test may set it."""


def register_agent(session_id: str, agent: Any) -> None:
    """Make ``agent`` the owner of the session's future turns; dirty owners stay."""
    if not session_id:
        return
    _lifecycle.apply(RegisterAgent(session_id, agent))


def unregister_agent(session_id: str) -> None:
    """Forget the session's current agent; owners of dirty work are kept."""
    if not session_id:
        return
    _lifecycle.apply(UnregisterAgent(session_id))


def mark_turn_completed(session_id: str, *, agent: Any = None) -> int:
    """Record a completed turn (owned by ``agent`` or the registered one); return the generation."""
    if not session_id:
        return 0
    generation = _lifecycle.apply(TurnCompleted(session_id, agent))
    assert isinstance(generation, int)
    return generation


def has_uncommitted_work(session_id: str) -> bool:
    """True when the session has completed turns not yet committed."""
    if not session_id:
        return False
    return _lifecycle.has_uncommitted_work(session_id)


def commit_session_memory(
    session_id: str, agent: Any = None, *, wait: bool = False, timeout: float | None = None
) -> bool:
    """Commit the earliest dirty segment; True only when the provider call succeeded.

    An ``agent`` without a callable ``commit_memory_session`` adopts no
    ownerless work (it could never commit it); owned work is committed through
    its owner as usual.
    """
    if not session_id:
        return False
    can = agent is None or can_commit(agent)
    return _lifecycle.commit_with(session_id, agent, can, wait, timeout) is Outcome.COMMITTED


def discard_session(session_id: str) -> bool:
    """Drop a clean, idle entry; True when removed or absent, False when kept."""
    if not session_id:
        return False
    return _lifecycle.discard(session_id) in (Outcome.DISCARDED, Outcome.ALREADY_ABSENT)


def drain_all_on_shutdown(deadline: float = 30.0) -> None:
    """Commit every dirty session, in parallel, returning within ``deadline`` seconds."""
    global _draining
    check_seconds("drain_all_on_shutdown() deadline", deadline)
    try:
        # Set inside the ``try``: a Ctrl-C as the ``with`` ends still clears it.
        with _background_commit_threads_lock:
            _draining = True
        _lifecycle.drain(deadline)
    finally:
        _draining = False


def _register_background_commit_thread(thread: threading.Thread) -> bool:
    """Track a boundary-commit thread; False once draining (then do not start it)."""
    with _background_commit_threads_lock:
        if _draining:
            return False
    return _lifecycle.register_background_thread(thread)


def _unregister_background_commit_thread(thread: threading.Thread) -> None:
    """Stop tracking a finished boundary-commit thread."""
    _lifecycle.unregister_background_thread(thread)


def _drain_background_commit_threads(
    timeout: float = 5.0, deadline_fn: Callable[[], float] | None = None
) -> None:
    """Join the tracked threads, each for at most ``timeout`` seconds, and stop tracking them.

    With ``deadline_fn`` (the seconds left of an overall budget) each join is
    bounded by it too, and joining stops once it is used up.
    """
    checked = check_seconds("timeout", timeout, optional=True)
    seconds = math.inf if checked is None else checked
    for thread in _lifecycle.take_background_threads():
        if not thread.is_alive():
            continue
        budget = seconds
        if deadline_fn is not None:
            remaining = deadline_fn()
            if remaining <= 0:
                return
            budget = min(seconds, remaining)
        thread.join(max(0.0, min(budget, threading.TIMEOUT_MAX)))


def _new_entry() -> dict[str, Any]:
    """A fresh entry in the original's shape."""
    return {
        "generation": 0,
        "committed_generation": 0,
        "agent": None,
        "in_flight": False,
        "segments": [],
    }


def _first_uncommitted_segment(entry: Mapping[str, Any]) -> Any:
    """The first segment of ``entry`` ending after ``committed_generation``, or None."""
    committed = entry["committed_generation"]
    for segment in entry["segments"]:
        if segment["end"] > committed:
            return segment
    return None


def _reset_for_tests() -> None:
    """Forget every session and the drain flag."""
    global _draining
    _lifecycle.reset()
    _draining = False


# --- the live ``_sessions`` mapping: a test hook -------------------------------


def _session(session_id: str) -> Session:
    session = _lifecycle.session_state(session_id)
    if session is None:
        raise KeyError(session_id)
    return session


def _segments_from(value: Any) -> tuple[Segment, ...]:
    """Segments from a list of ``{"start", "end", "agent"}`` mappings."""
    try:
        return tuple(
            Segment(start=item["start"], end=item["end"], owner=item.get("agent")) for item in value
        )
    except (TypeError, KeyError) as error:
        raise TypeError(
            f"segments must be a list of {{'start': int, 'end': int, 'agent': ...}} dicts: {error}"
        ) from None


def _session_from(entry: Mapping[str, Any]) -> Session:
    """A whole ``Session`` from an entry in the original's shape (``in_flight`` aside)."""
    fields = {**_new_entry(), **entry}
    return Session(
        generation=fields["generation"],
        committed=fields["committed_generation"],
        registered=fields["agent"],
        segments=_segments_from(fields["segments"]),
    )


class _SegmentEntry(MutableMapping[str, Any]):
    """One segment of a live entry, as the original's ``{"start", "end", "agent"}`` dict."""

    def __init__(self, session_id: str, index: int) -> None:
        self._session_id = session_id
        self._index = index

    def _segment(self) -> Segment:
        segments = _session(self._session_id).segments
        if self._index >= len(segments):
            raise KeyError(f"segment {self._index} of session {self._session_id!r} is gone")
        return segments[self._index]

    def __getitem__(self, key: str) -> Any:
        segment = self._segment()
        if key == "agent":
            return segment.owner
        if key in ("start", "end"):
            return getattr(segment, key)
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in ("start", "end", "agent"):
            raise KeyError(key)
        segments = list(_session(self._session_id).segments)
        changed = segments[self._index]._replace(**{"owner" if key == "agent" else key: value})
        segments[self._index] = changed
        _lifecycle.edit(self._session_id, "segments", tuple(segments))

    def __delitem__(self, key: str) -> None:
        raise TypeError("a segment's fields cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(("start", "end", "agent"))

    def __len__(self) -> int:
        return 3

    def __repr__(self) -> str:
        return repr(dict(self))


class _SegmentList(MutableSequence[Any]):
    """The segments of a live entry, as the original's list of dicts."""

    def __init__(self, session_id: str) -> None:
        self._session_id = session_id

    def _write(self, segments: list[Segment]) -> None:
        _lifecycle.edit(self._session_id, "segments", tuple(segments))

    def __getitem__(self, index: Any) -> Any:
        count = len(self)
        if isinstance(index, slice):
            return [_SegmentEntry(self._session_id, i) for i in range(count)[index]]
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError("segment index out of range")
        return _SegmentEntry(self._session_id, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        segments = list(_session(self._session_id).segments)
        if isinstance(index, slice):
            segments[index] = _segments_from(value)
        else:
            segments[index] = _segments_from([value])[0]
        self._write(segments)

    def __delitem__(self, index: Any) -> None:
        segments = list(_session(self._session_id).segments)
        del segments[index]
        self._write(segments)

    def insert(self, index: int, value: Any) -> None:
        segments = list(_session(self._session_id).segments)
        segments.insert(index, _segments_from([value])[0])
        self._write(segments)

    def __len__(self) -> int:
        return len(_session(self._session_id).segments)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, list | tuple | _SegmentList):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr([dict(item) for item in self])


class _Entry(MutableMapping[str, Any]):
    """A live entry of ``_sessions``: reads show the current state, writes edit it."""

    def __init__(self, session_id: str) -> None:
        self._session_id = session_id

    def __getitem__(self, key: str) -> Any:
        session = _session(self._session_id)
        if key == "generation":
            return session.generation
        if key == "committed_generation":
            return session.committed
        if key == "agent":
            return session.registered
        if key == "in_flight":
            return session.in_flight is not None
        if key == "segments":
            return _SegmentList(self._session_id)
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in _ENTRY_FIELDS:
            raise KeyError(f"{key!r} is not a field of a session entry")
        if key == "segments":
            value = _segments_from(value)
        _lifecycle.edit(self._session_id, key, value)

    def __delitem__(self, key: str) -> None:
        raise TypeError("the fields of a session entry cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(_ENTRY_FIELDS)

    def __len__(self) -> int:
        return len(_ENTRY_FIELDS)

    def __repr__(self) -> str:
        return repr({key: self[key] for key in _ENTRY_FIELDS})


_ENTRY_FIELDS = ("generation", "committed_generation", "agent", "in_flight", "segments")


class _Sessions(MutableMapping[str, Any]):
    """The entries, live, in the original's dict shape; writes go through ``EntryEdited``."""

    def __getitem__(self, session_id: str) -> _Entry:
        _session(session_id)
        return _Entry(session_id)

    def __setitem__(self, session_id: str, entry: Mapping[str, Any]) -> None:
        _lifecycle.edit(session_id, "entry", _session_from(entry))
        if entry.get("in_flight"):
            _lifecycle.edit(session_id, "in_flight", True)

    def __delitem__(self, session_id: str) -> None:
        _session(session_id)
        _lifecycle.edit(session_id, "entry", None)

    def __iter__(self) -> Iterator[str]:
        return iter(_lifecycle.session_ids())  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(_lifecycle)

    def __repr__(self) -> str:
        return repr({key: self[key] for key in self})


_sessions: MutableMapping[str, Any] = _Sessions()
"""The live entries (a test hook): see the module docstring."""
