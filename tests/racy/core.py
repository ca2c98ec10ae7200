"""A small, self-contained hermes-webui lifecycle with switchable flaws.

Without flaws it is a sound implementation of the API (the checkers must find
nothing in it): one plain lock entered only with ``with`` (atomic for a
signal), a provider call covered by the same ``try`` that made the decision,
follow-ups for busy commits, a drain that keeps one refilled queue (never
rounds), retries a failed session up to ``DRAIN_ATTEMPTS`` times, does not wait
for background commits or for the call it was called from, and ends as it
began (follow-ups and background commits are admitted again), a caller inside
a provider call that never waits, agent references dropped outside the lock,
bad input refused before anything changes. Entries have the original
module's shape (``_new_entry``), so the explorer can read them.

Each flag breaks it one way:

- ``provider_under_lock``: the provider call runs while the lock is held;
- ``split_check_and_set``: a commit decides on a copy read in one critical
  section and stores the decision in another;
- ``notify_after_failure=False``: a failed provider call wakes no waiter;
- ``catch_base_exception=False``: a BaseException skips the cleanup;
- ``commit_to_generation``: success marks everything up to the current
  generation committed, not just what the call captured;
- ``start_follow_ups=False``: a commit refused as busy is never followed up;
- ``join_unstarted_threads``: the drain joins registered follow-up threads
  first, even one not started yet (``RuntimeError``);
- ``join_background_first``: the drain joins registered background commits
  with the whole budget before committing anything;
- ``drain_in_rounds``: the drain commits in rounds that each wait for their
  slowest call, and stops after a round without progress;
- ``drain_leaves_draining``: after the drain, busy commits are never followed
  up and background commits are refused for good;
- ``call_outside_try``: the provider call's ``try`` begins after the lock is
  released, so a Ctrl-C in between leaves the session in flight;
- ``explicit_acquire``: ``lock.acquire()`` then ``try``, so a Ctrl-C between
  them leaves the lock held;
- ``retry_cleanup_forever``: the end of a call is retried on any exception,
  so one that repeats (a session id whose hash raises) spins forever;
- ``id_in_thread_name``: follow-up threads are named with ``repr(session_id)``
  (a raising repr loses the follow-up; a huge id is copied into the name);
- ``waits_inside_provider``: only a provider's commit of its own session is
  kept from waiting, so providers committing each other's sessions deadlock;
- ``frees_under_lock``: agent references are dropped while the lock is held,
  so an agent whose ``__del__`` calls the lifecycle deadlocks;
- ``drain_waits_for_caller``: a drain called from inside a provider call
  waits for that call, so it always waits out its deadline;
- ``bare_agent_blocks_owned``: a commit passing an agent without
  ``commit_memory_session`` returns False even for work another agent owns;
- ``bad_deadline_sets_draining``: the drain marks itself draining before it
  checks its deadline, so a bad one leaves background commits refused;
- ``timeout_checked_when_waiting``: the timeout is checked only with ``wait=True``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

API_NAMES = (
    "register_agent",
    "unregister_agent",
    "mark_turn_completed",
    "has_uncommitted_work",
    "commit_session_memory",
    "discard_session",
    "drain_all_on_shutdown",
    "_register_background_commit_thread",
    "_unregister_background_commit_thread",
)

DRAIN_ATTEMPTS = 3
"""Failed provider calls per session after which a drain gives up on it."""

FLAWS = (
    "provider_under_lock",
    "split_check_and_set",
    "commit_to_generation",
    "join_unstarted_threads",
    "join_background_first",
    "drain_in_rounds",
    "drain_leaves_draining",
    "call_outside_try",
    "explicit_acquire",
    "retry_cleanup_forever",
    "id_in_thread_name",
    "waits_inside_provider",
    "frees_under_lock",
    "drain_waits_for_caller",
    "bare_agent_blocks_owned",
    "bad_deadline_sets_draining",
    "timeout_checked_when_waiting",
    "wait_drops_lock",
    "unregister_keeps_agent",
    "draining_set_before_try",
)
"""Flags that introduce a flaw when True (``notify_after_failure``,
``catch_base_exception`` and ``start_follow_ups`` do when False)."""


def _new_entry() -> dict[str, Any]:
    """A fresh entry, in the original module's shape plus the follow-up debt."""
    return {
        "generation": 0,
        "committed_generation": 0,
        "agent": None,
        "in_flight": False,
        "segments": [],
        "owe": 0,
        "call": None,
        "captured": 0,
        "follow_up": False,
    }


def _can_commit(agent: object) -> bool:
    return callable(getattr(agent, "commit_memory_session", None))


def _seconds(value: Any, what: str) -> float:
    """A timeout or deadline in seconds; TypeError or ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of seconds, got {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:
        return math.inf
    if seconds != seconds:
        raise ValueError(f"{what} must be a number of seconds, got NaN")
    return seconds


@contextlib.contextmanager
def _explicitly(lock: Any) -> Iterator[None]:
    """``lock.acquire()`` then ``try``: a Ctrl-C right after the acquire leaves it held."""
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


class HermesLifecycle:
    """The hermes-webui functions over one lock and a dict of entries, with optional flaws."""

    def __init__(
        self,
        *,
        notify_after_failure: bool = True,
        catch_base_exception: bool = True,
        start_follow_ups: bool = True,
        **flaws: bool,
    ) -> None:
        unknown = sorted(set(flaws) - set(FLAWS))
        if unknown:
            raise TypeError(f"unknown flaw(s) {unknown}; choose from {FLAWS}")
        self.flaw = {name: bool(flaws.get(name, False)) for name in FLAWS}
        self.notify_after_failure = notify_after_failure
        self.catch_base_exception = catch_base_exception
        self.start_follow_ups = start_follow_ups
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._sessions: dict[Any, dict[str, Any]] = {}
        self._calling: dict[Any, int] = {}
        """Session id -> ident of the thread running its provider call."""
        self._draining = False
        self._drained = False
        """True once a drain returned (only the ``drain_leaves_draining`` flaw looks)."""
        self._numbers = itertools.count(1)
        """Numbers the provider calls: the end of a call is recorded against its number."""
        self._background_commit_threads: set[threading.Thread] = set()
        """Host-registered background commits and follow-ups (joined only by flawed drains)."""

    # --- locking -------------------------------------------------------------------

    def _wait(self, seconds: float | None) -> None:
        """Wait on the condition. A Ctrl-C can make ``Condition.wait`` raise without its
        lock (it lands right after the lock is released): take it back, so the caller's
        ``with`` releases a held lock (unless ``wait_drops_lock``)."""
        try:
            self._condition.wait(seconds)
        except BaseException:
            while not self.flaw["wait_drops_lock"]:
                try:
                    if self._condition._is_owned():
                        break
                    self._lock.acquire()
                except BaseException:
                    continue
            raise

    def _locked(self) -> Any:
        return _explicitly(self._lock) if self.flaw["explicit_acquire"] else self._lock

    def session_state(self, session_id: Any) -> dict[str, Any] | None:
        """The stored entry (read without the lock, for inspection)."""
        return self._sessions.get(session_id)

    def _entry(self, session_id: Any) -> dict[str, Any]:
        entry = self._sessions.get(session_id)
        if entry is None:
            entry = self._sessions[session_id] = _new_entry()
        return entry

    # --- registration, turns, queries ---------------------------------------------------

    def register_agent(self, session_id: Any, agent: Any) -> None:
        if not session_id:
            return
        with self._locked():
            entry = self._entry(session_id)
            previous = entry["agent"]
            entry["agent"] = agent
            if self.flaw["frees_under_lock"]:
                del previous
        # ``previous`` (when kept) is dropped here, outside the lock

    def unregister_agent(self, session_id: Any) -> None:
        if not session_id:
            return
        with self._locked():
            entry = self._sessions.get(session_id)
            previous = None if entry is None else entry["agent"]
            if entry is not None and not self.flaw["unregister_keeps_agent"]:
                entry["agent"] = None
            if self.flaw["frees_under_lock"]:
                del previous

    def mark_turn_completed(self, session_id: Any, *, agent: Any = None) -> int:
        if not session_id:
            return 0
        with self._locked():
            entry = self._entry(session_id)
            previous = entry["agent"]
            if agent is not None:
                entry["agent"] = agent
            if self.flaw["frees_under_lock"]:
                del previous
            owner = entry["agent"]
            entry["generation"] += 1
            segments = entry["segments"]
            if segments and segments[-1]["agent"] is owner:
                segments[-1]["end"] = entry["generation"]
            else:
                segments.append(
                    {"start": entry["generation"], "end": entry["generation"], "agent": owner}
                )
            if self._draining:
                self._condition.notify_all()  # the drain commits new work too
            generation: int = entry["generation"]
            return generation

    def has_uncommitted_work(self, session_id: Any) -> bool:
        if not session_id:
            return False
        with self._locked():
            entry = self._sessions.get(session_id)
            return entry is not None and entry["generation"] > entry["committed_generation"]

    def discard_session(self, session_id: Any) -> bool:
        if not session_id:
            return False
        with self._locked():
            entry = self._sessions.get(session_id)
            if entry is None:
                return True
            if entry["in_flight"] or entry["generation"] > entry["committed_generation"]:
                return False
            removed = self._sessions.pop(session_id)
            if self.flaw["frees_under_lock"]:
                del removed
            return True

    # --- commits -----------------------------------------------------------------------

    def commit_session_memory(
        self, session_id: Any, agent: Any = None, *, wait: bool = False, timeout: Any = None
    ) -> bool:
        if not session_id:
            return False
        hash(session_id)  # an unhashable id is refused here, before anything changes
        seconds = None
        if timeout is not None and (wait or not self.flaw["timeout_checked_when_waiting"]):
            seconds = _seconds(timeout, "timeout")
        if agent is not None and not _can_commit(agent):
            if self.flaw["bare_agent_blocks_owned"]:
                return False
            agent = False  # may not adopt ownerless work, which it could never commit
        return self._commit(session_id, agent, wait, seconds, follow_up=False) == "committed"

    def _in_provider_call(self, session_id: Any) -> bool:
        """True when this thread runs a provider call (of ``session_id`` only, when flawed)."""
        me = threading.get_ident()
        if self.flaw["waits_inside_provider"]:
            return self._calling.get(session_id) == me
        return me in self._calling.values()

    def _decide(
        self,
        session_id: Any,
        agent: Any,
        wait: bool,
        timeout: float | None,
        follow_up: bool,
        number: int,
    ) -> tuple[str, Any]:
        """Under the lock: ("start", call) or (outcome, None); the call is numbered ``number``."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        wait = wait and not self._in_provider_call(session_id)
        while True:
            entry = self._sessions.get(session_id)
            if entry is None:
                return "not_found", None
            if not entry["in_flight"]:
                break
            if follow_up:
                return "busy", None
            left = None if deadline is None else deadline - time.monotonic()
            if not wait or (left is not None and left <= 0):
                entry["owe"] = max(entry["owe"], entry["generation"])
                return "busy", None
            self._wait(None if left is None else min(left, threading.TIMEOUT_MAX))
        if self.flaw["split_check_and_set"]:
            return self._decide_on_copy(session_id, entry, agent, follow_up, number)
        return self._capture(session_id, entry, agent, follow_up, number)

    def _capture(
        self, session_id: Any, entry: dict[str, Any], agent: Any, follow_up: bool, number: int
    ) -> tuple[str, Any]:
        """Take the earliest dirty segment. Every call comes first: the writes that mark the
        session in flight are plain stores, so no signal lands between them."""
        me = threading.get_ident()
        committed = entry["committed_generation"]
        if entry["generation"] <= committed or (follow_up and entry["owe"] <= committed):
            if entry["owe"] and entry["owe"] <= committed:
                entry["owe"] = 0
            return "nothing", None
        segments = entry["segments"]
        first = segments[0]
        owner = first["agent"]
        if owner is None:
            owner = entry["agent"] if agent is None else agent
            if owner is None or owner is False:
                if follow_up:
                    entry["owe"] = 0
                return "no_agent", None
            merged = len(segments) > 1 and segments[1]["agent"] is owner
            end = segments[1]["end"] if merged else first["end"]
            first["agent"] = owner
            first["end"] = end
            if merged:
                del segments[1]
        call = (session_id, owner, first["end"], number, follow_up)
        entry["call"] = number
        entry["captured"] = first["end"]
        entry["follow_up"] = follow_up
        entry["in_flight"] = True
        self._calling[session_id] = me
        return "start", call

    def _decide_on_copy(
        self, session_id: Any, entry: dict[str, Any], agent: Any, follow_up: bool, number: int
    ) -> tuple[str, Any]:
        """The flawed way: decide on a copy with the lock released, store it after."""
        copy = dict(entry, segments=[dict(segment) for segment in entry["segments"]])
        self._lock.release()
        try:
            decision = self._capture(session_id, copy, agent, follow_up, number)
        finally:
            self._lock.acquire()
        self._sessions[session_id] = copy
        return decision

    def _commit(
        self, session_id: Any, agent: Any, wait: bool, timeout: float | None, follow_up: bool
    ) -> str:
        """One commit: "committed", "failed", "busy", "nothing", "no_agent" or "not_found".

        Whatever happens after the decision, and wherever a Ctrl-C lands, the end of
        the call numbered ``number`` is recorded (``_finish`` does nothing when no
        call of that number was started).
        """
        number = next(self._numbers)
        if self.flaw["call_outside_try"]:
            with self._locked():
                outcome, call = self._decide(session_id, agent, wait, timeout, follow_up, number)
            if call is None:
                return str(outcome)
            return self._call_provider(call)
        handled: type[BaseException] = BaseException if self.catch_base_exception else Exception
        error: BaseException | None = None
        called = False
        try:
            with self._locked():
                outcome, call = self._decide(session_id, agent, wait, timeout, follow_up, number)
                if call is not None and self.flaw["provider_under_lock"]:
                    return self._call_provider(call, locked=True)
            if call is None:
                return str(outcome)
            called = True
            call[1].commit_memory_session()
        except handled as raised:
            error = raised
        interrupted: KeyboardInterrupt | None = None
        while True:
            try:
                self._finish(session_id, number, error, called)
                break
            except KeyboardInterrupt as again:  # a Ctrl-C while recording the end: record it anyway
                interrupted = again
        if error is not None and not isinstance(error, Exception):
            raise error
        if interrupted is not None:
            raise interrupted
        return "failed" if error is not None else "committed"

    def _call_provider(self, call: tuple[Any, ...], *, locked: bool = False) -> str:
        """The provider call in a ``try`` of its own (after the decision, or under the lock)."""
        session_id, owner, _, number, _ = call
        handled: type[BaseException] = BaseException if self.catch_base_exception else Exception
        try:
            owner.commit_memory_session()
        except handled as error:
            self._finish(session_id, number, error, True, locked=locked)
            if not isinstance(error, Exception):
                raise
            return "failed"
        self._finish(session_id, number, None, True, locked=locked)
        return "committed"

    def _finish(
        self,
        session_id: Any,
        number: int,
        error: BaseException | None,
        called: bool,
        *,
        locked: bool = False,
    ) -> None:
        """Record the end of call ``number`` (if it started), then start an owed follow-up."""
        ok = error is None and called
        fatal = error is not None and not isinstance(error, Exception)
        dropped: object = None
        while True:
            try:
                if locked:
                    again, dropped = self._end(session_id, number, ok, fatal)
                else:
                    with self._locked():
                        again, dropped = self._end(session_id, number, ok, fatal)
                break
            except BaseException:
                if not self.flaw["retry_cleanup_forever"]:
                    raise  # the caller retries after a Ctrl-C; anything else is a real error
        del dropped  # owners of committed segments are let go outside the lock
        if again:
            self._start_follow_up(session_id, locked=locked)

    def _end(self, session_id: Any, number: int, ok: bool, fatal: bool) -> tuple[bool, object]:
        """Under the lock: end call ``number``; (a follow-up must start, what to let go of).

        Everything is computed first and written with plain stores, so a Ctrl-C
        leaves either the old state or the new one; a second run finds the call
        ended and only wakes waiters again.
        """
        me = threading.get_ident()
        entry = self._sessions.get(session_id)
        mine = self._calling.get(session_id) == me
        if entry is None or entry["call"] != number:
            self._condition.notify_all()
            return False, None  # never started, or already ended (a retried end after a Ctrl-C)
        committed = entry["committed_generation"]
        segments = entry["segments"]
        dropped = None
        if ok:
            committed = max(committed, entry["captured"])
            if self.flaw["commit_to_generation"]:
                committed = entry["generation"]
            dropped = segments
            segments = [dict(segment) for segment in segments if segment["end"] > committed]
            if segments and segments[0]["start"] <= committed:
                segments[0]["start"] = committed + 1
            if self.flaw["frees_under_lock"]:
                dropped = None
        retry = ok or not (fatal or entry["follow_up"])
        draining = self._draining or (self.flaw["drain_leaves_draining"] and self._drained)
        again = entry["owe"] > committed and retry and not draining and self.start_follow_ups
        if mine:
            del self._calling[session_id]
        entry["committed_generation"] = committed
        entry["segments"] = segments
        entry["in_flight"] = False
        entry["call"] = None
        entry["owe"] = entry["owe"] if again else 0
        if ok or self.notify_after_failure:
            self._condition.notify_all()
        return again, dropped

    def _start_follow_up(self, session_id: Any, *, locked: bool = False) -> None:
        name = f"follow-up {session_id!r}" if self.flaw["id_in_thread_name"] else "follow-up commit"
        worker = threading.Thread(
            target=self._follow_up, args=(session_id,), name=name, daemon=True
        )
        if locked:
            self._background_commit_threads.add(worker)
        else:
            with self._locked():
                self._background_commit_threads.add(worker)
        worker.start()

    def _follow_up(self, session_id: Any) -> None:
        try:
            with contextlib.suppress(BaseException):  # a background commit has no caller
                self._commit(session_id, None, False, None, follow_up=True)
        finally:
            with self._locked():
                self._background_commit_threads.discard(threading.current_thread())

    # --- background commits and the drain ------------------------------------------------

    def _register_background_commit_thread(self, thread: Any) -> bool:
        with self._locked():
            if self._draining or (self.flaw["drain_leaves_draining"] and self._drained):
                return False
            self._background_commit_threads.add(thread)
            return True

    def _unregister_background_commit_thread(self, thread: Any) -> None:
        with self._locked():
            self._background_commit_threads.discard(thread)

    def drain_all_on_shutdown(self, deadline: Any = 30.0) -> None:
        if self.flaw["bad_deadline_sets_draining"]:
            self._draining = True
        seconds = _seconds(deadline, "deadline")
        ends = time.monotonic() + max(0.0, seconds)
        me = threading.get_ident()
        if self.flaw["draining_set_before_try"]:
            with self._locked():
                self._draining = True
        try:
            with self._locked():
                caller = next((sid for sid, ident in self._calling.items() if ident == me), None)
                threads = list(self._background_commit_threads)
                self._draining = True
            if self.flaw["join_background_first"] or self.flaw["join_unstarted_threads"]:
                for thread in threads:
                    left = ends - time.monotonic()
                    if left <= 0:
                        break
                    if thread.ident is None and not self.flaw["join_unstarted_threads"]:
                        continue
                    thread.join(left)
            if self.flaw["drain_in_rounds"]:
                self._drain_rounds(ends)
            else:
                self._drain_queue(ends, caller)
        finally:
            # plain stores: a Ctrl-C cannot land between them
            self._draining = False
            self._drained = True

    def _committable(self, entry: dict[str, Any]) -> bool:
        if entry["in_flight"] or entry["generation"] <= entry["committed_generation"]:
            return False
        first = entry["segments"][0]
        return first["agent"] is not None or entry["agent"] is not None

    def _drain_queue(self, ends: float, caller: Any) -> None:
        """One shared, refilled queue: start a call for every committable idle session."""
        failures: dict[Any, int] = {}
        running: set[Any] = set()

        def commit(session_id: Any) -> None:
            outcome = "failed"
            try:
                outcome = self._commit(session_id, None, False, None, follow_up=False)
            except BaseException:  # a drain worker has no caller to re-raise to
                outcome = "failed"
            finally:
                with self._locked():
                    running.discard(session_id)
                    if outcome == "failed":
                        failures[session_id] = failures.get(session_id, 0) + 1
                    self._condition.notify_all()

        with self._locked():
            while True:
                left = ends - time.monotonic()
                if left <= 0:
                    return
                ready = [
                    session_id
                    for session_id, entry in self._sessions.items()
                    if session_id not in running
                    and failures.get(session_id, 0) < DRAIN_ATTEMPTS
                    and self._committable(entry)
                ]
                for session_id in ready:
                    running.add(session_id)
                    threading.Thread(
                        target=commit, args=(session_id,), name="drain worker", daemon=True
                    ).start()
                busy = [
                    session_id
                    for session_id, entry in self._sessions.items()
                    if entry["in_flight"]
                    and (session_id != caller or self.flaw["drain_waits_for_caller"])
                ]
                if not ready and not busy and not running:
                    return
                if not ready:
                    self._wait(min(left, threading.TIMEOUT_MAX))

    def _drain_rounds(self, ends: float) -> None:
        """The flawed drain: rounds that wait for their slowest call."""
        while time.monotonic() < ends:
            with self._locked():
                dirty = [sid for sid, entry in self._sessions.items() if self._committable(entry)]
            if not dirty:
                return
            results: list[str] = []
            workers = [
                threading.Thread(target=self._round_commit, args=(sid, ends, results), daemon=True)
                for sid in dirty
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(max(0.0, ends - time.monotonic()))
            if "committed" not in results:
                return

    def _round_commit(self, session_id: Any, ends: float, results: list[str]) -> None:
        left = max(0.0, ends - time.monotonic())
        with contextlib.suppress(BaseException):  # a drain worker has no caller to re-raise to
            results.append(self._commit(session_id, None, True, left, False))


def api_functions(lifecycle: HermesLifecycle) -> dict[str, Any]:
    """The module-level hermes-webui names of ``lifecycle``, for ``globals().update``."""
    names: dict[str, Any] = {name: getattr(lifecycle, name) for name in API_NAMES}
    names["_sessions"] = lifecycle._sessions
    names["_new_entry"] = _new_entry
    names["_background_commit_threads"] = lifecycle._background_commit_threads
    return names
