"""The threaded shell: ``SessionLifecycle`` sequences ``model.step_session`` and waits.

Every decision is made by the model. The shell holds one lock around each call of
``step_session``, keeps the resulting immutable ``Session`` values in a dict, and
carries out the effects: waking waiting committers (through a condition on that
lock, and only when some are waiting) under the lock, and calling the provider or
starting a follow-up commit after releasing it. It also owns what the
model cannot: time (timeouts and the drain deadline), threads (background commits,
follow-ups, drain workers), and which thread is running which provider call, so a
provider that commits its own session again gets BUSY instead of waiting on itself.

The ``threading`` and ``time`` modules are looked up at call time, so a
deterministic scheduler can stand in for them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from memory_lifecycle.model import (
    EMPTY_PROCESS,
    BackgroundCommitRequested,
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    DrainFinished,
    DrainStarted,
    Effect,
    Outcome,
    Process,
    RegisterAgent,
    Result,
    Session,
    SessionEvent,
    SessionId,
    StartFollowUp,
    TurnCompleted,
    UnregisterAgent,
    WaitExpired,
    WakeWaiters,
    step,
    step_session,
)

logger = logging.getLogger("memory_lifecycle")

DEFAULT_DRAIN_WORKERS = 32
"""Provider calls wait on I/O, so a waiting worker costs a thread and no CPU. With
32, a drain commits 32 sessions per provider latency (200 sessions at 0.1 s each in
about 0.7 s), and a hung provider takes only 1/32 of that away from the others."""

_BUSY = Outcome.BUSY
_STARTED = Outcome.STARTED
_COMMITTED = Outcome.COMMITTED
_build = tuple.__new__
"""``_build(Event, (field, ...))`` makes an event from all its fields, at half the
cost of ``Event(...)``; every API call builds one (see ``model.step._build``)."""

_built_events = (
    RegisterAgent._fields,
    UnregisterAgent._fields,
    TurnCompleted._fields,
    CommitRequested._fields,
    CommitSucceeded._fields,
)
if tuple(map(len, _built_events)) != (2, 1, 3, 4, 3):
    raise ImportError(
        "the shell and the drop-in build RegisterAgent, UnregisterAgent, TurnCompleted, "
        "CommitRequested and CommitSucceeded from 2, 1, 3, 4 and 3 fields; their fields "
        "changed: update every _build() of them in impl/lifecycle.py and impl/compat.py"
    )


@dataclass
class DrainReport:
    """What ``SessionLifecycle.drain`` achieved before its deadline."""

    committed: list[SessionId] = field(default_factory=list)
    """Sessions left clean by a commit made during the drain."""
    still_dirty: list[SessionId] = field(default_factory=list)
    """Sessions with uncommitted work when the drain returned."""
    deadline_passed: bool = False
    """True when the drain stopped because its deadline passed."""
    background_left: int = 0
    """Background commit threads still running when the drain returned."""


class SessionLifecycle:
    """The memory-provider session lifecycle, safe to call from many threads.

    ``drain_workers`` bounds how many sessions the shutdown drain commits at once.
    """

    def __init__(self, *, drain_workers: int = DEFAULT_DRAIN_WORKERS) -> None:
        if not isinstance(drain_workers, int) or drain_workers < 1:
            raise ValueError(f"drain_workers must be a positive int, got {drain_workers!r}")
        self.drain_workers = drain_workers
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        """Waited on by committers; ``_lock`` alone guards calls that never wait."""
        self._waiting = 0
        """Committers waiting on ``_condition``: nobody to wake when 0."""
        self._sessions: dict[SessionId, Session] = {}
        self._process = EMPTY_PROCESS
        self._epoch = 0
        """Incremented by ``reset``: a provider call started before it ends as stale."""
        self._calling: dict[SessionId, int] = {}
        """Session id -> ident of the thread running its provider call."""
        self.background_threads: set[threading.Thread] = set()
        """Running background commit threads; guarded by ``background_lock``."""
        self.background_lock = threading.Lock()

    # --- the one place state changes --------------------------------------------

    def _apply(self, event: SessionEvent) -> tuple[tuple[Effect, ...], Result]:
        """Feed one event to the model; call with the lock held."""
        session_id = event[0]
        sessions = self._sessions
        try:
            before = sessions.get(session_id)
        except TypeError:
            _check_hashable(session_id)
            raise
        after, effects, result = step_session(before, event, self._process.draining)
        if after is not before:
            if after is None:
                del sessions[session_id]
            else:
                sessions[session_id] = after
        if self._waiting:
            for effect in effects:
                if type(effect) is WakeWaiters:
                    self._condition.notify_all()
        return effects, result

    def apply(self, event: SessionEvent) -> Result:
        """Feed one session event straight to the model (for adapters and tests).

        Provider-call events are the shell's own: feeding them here skips the call.
        """
        lock = self._lock
        lock.acquire()
        try:
            return self._apply(event)[1]
        finally:
            lock.release()

    def _apply_process(self, event: Any) -> Result:
        with self._condition:
            self._process, _, result = step(self._process, event)
            return result

    # --- registration and turns -------------------------------------------------

    def register_agent(self, session_id: SessionId, agent: object) -> None:
        """Make ``agent`` the owner of the session's future turns."""
        if agent is None:
            raise ValueError("register_agent() needs an agent; use unregister_agent() to clear it")
        _check_agent(agent)
        lock = self._lock
        lock.acquire()
        try:
            self._apply(_build(RegisterAgent, (session_id, agent)))
        finally:
            lock.release()

    def unregister_agent(self, session_id: SessionId) -> None:
        """Forget the current agent; owners of dirty work are kept."""
        lock = self._lock
        lock.acquire()
        try:
            self._apply(_build(UnregisterAgent, (session_id,)))
        finally:
            lock.release()

    def complete_turn(
        self, session_id: SessionId, *, agent: object | None = None, ephemeral: bool = False
    ) -> int:
        """Record a completed turn; return the session's generation."""
        _check_agent(agent)
        lock = self._lock
        lock.acquire()
        try:
            result = self._apply(_build(TurnCompleted, (session_id, agent, ephemeral)))[1]
        finally:
            lock.release()
        assert type(result) is int
        return result

    # --- queries ---------------------------------------------------------------

    def has_uncommitted_work(self, session_id: SessionId) -> bool:
        """True when the session has completed turns not yet committed."""
        lock = self._lock
        lock.acquire()
        try:
            session = self._sessions.get(session_id)
        except TypeError:
            _check_hashable(session_id)
            raise
        finally:
            lock.release()
        return session is not None and session.generation > session.committed

    def session_state(self, session_id: SessionId) -> Session | None:
        """The session's immutable state, or None when it has no entry."""
        _check_hashable(session_id)
        with self._condition:
            return self._sessions.get(session_id)

    def session_ids(self) -> list[SessionId]:
        """Ids of the sessions with an entry."""
        with self._condition:
            return list(self._sessions)

    def dirty_sessions(self) -> list[SessionId]:
        """Ids of the sessions with uncommitted work."""
        with self._condition:
            return [key for key, value in self._sessions.items() if value.dirty]

    def __len__(self) -> int:
        """Number of sessions with an entry."""
        with self._condition:
            return len(self._sessions)

    # --- commits ---------------------------------------------------------------

    def commit(
        self,
        session_id: SessionId,
        agent: object | None = None,
        *,
        wait: bool = False,
        timeout: float | None = None,
    ) -> Outcome:
        """Commit the earliest dirty segment; return what happened.

        With ``wait`` a running call of the same session is awaited, for at most
        ``timeout`` seconds (None: no limit; zero or negative: not at all).
        Without it, a running call gives BUSY and the work is committed by a
        follow-up when that call ends.
        """
        _check_agent(agent)
        return self._commit(session_id, agent, wait, timeout, False)

    def _commit(
        self,
        session_id: SessionId,
        agent: object | None,
        wait: bool,
        timeout: float | None,
        follow_up: bool,
    ) -> Outcome:
        """``commit``, or with ``follow_up`` the lifecycle's own follow-up commit."""
        deadline = None if timeout is None or not wait else _deadline(timeout)
        calling = self._calling
        lock = self._lock
        lock.acquire()
        try:
            while True:
                # Only a waiting commit asks who runs the call: a provider that
                # commits its own session again must get BUSY, not wait on itself.
                reentrant = wait and calling.get(session_id) == threading.get_ident()
                effects, result = self._apply(
                    _build(CommitRequested, (session_id, agent, wait and not reentrant, follow_up))
                )
                if result is not _BUSY or not wait or reentrant:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    _, result = self._apply(WaitExpired(session_id))
                    break
                self._waiting += 1
                try:
                    self._condition.wait(_bounded(remaining))
                finally:
                    self._waiting -= 1
            if result is not _STARTED:
                assert type(result) is Outcome
                return result
            call = effects[0]
            assert type(call) is CallProvider
            calling[session_id] = threading.get_ident()
            epoch = self._epoch
        except TypeError:
            _check_hashable(session_id)
            raise
        finally:
            lock.release()
        return self._call_provider(call, epoch)

    def _call_provider(self, call: CallProvider, epoch: int) -> Outcome:
        """Run the provider call outside the lock and feed back how it ended.

        The state is updated before anything else runs (logging included), so a
        failing log handler cannot leave the session in flight.
        """
        session_id, agent, captured = call
        try:
            method = getattr(agent, "commit_memory_session", None)
            if not callable(method):
                raise TypeError(_NO_COMMIT_METHOD.format(agent=agent))
            method()
        except Exception:
            self._end_call(CommitFailed(session_id, agent, captured, False), epoch)
            logger.exception(
                "commit_memory_session() failed for session %r; the work stays dirty", session_id
            )
            return Outcome.FAILED
        except BaseException:
            self._end_call(CommitFailed(session_id, agent, captured, True), epoch)
            raise
        self._end_call(_build(CommitSucceeded, (session_id, agent, captured)), epoch)
        return _COMMITTED

    def _end_call(self, event: CommitSucceeded | CommitFailed, epoch: int) -> None:
        """Feed back the end of a provider call, even through a Ctrl-C, then start follow-ups.

        A call that began before ``reset`` changes nothing. A BaseException raised
        while waiting for the lock is held back until the state is updated (feeding
        the event twice is harmless: the second finds the call ended, STALE).
        """
        session_id = event[0]
        interrupted: BaseException | None = None
        effects: tuple[Effect, ...] = ()
        while True:
            try:
                with self._lock:
                    if self._calling.get(session_id) == threading.get_ident():
                        del self._calling[session_id]
                    if epoch == self._epoch:
                        effects = self._apply(event)[0]
                break
            except BaseException as error:
                interrupted = error
        for effect in effects:
            if type(effect) is StartFollowUp:
                try:
                    self._start_background(
                        partial(self._commit, effect.session_id, None, False, None, True),
                        f"memory-lifecycle follow-up {effect.session_id!r}",
                    )
                except Exception:
                    logger.exception(
                        "could not start the follow-up commit of session %r; its work stays "
                        "dirty for the next boundary or the drain",
                        effect.session_id,
                    )
        if interrupted is not None:
            raise interrupted

    def commit_in_background(self, session_id: SessionId, agent: object | None = None) -> Outcome:
        """Start a fire-and-forget boundary commit of all dirty work on a tracked thread.

        STARTED, or REFUSED_DRAINING once the drain has begun (it commits the work).
        """
        _check_hashable(session_id)
        return self._start_background(
            lambda: self._commit_all(session_id, agent),
            f"memory-lifecycle commit {session_id!r}",
        )

    def _commit_all(self, session_id: SessionId, agent: object | None) -> None:
        """Commit segment after segment while that succeeds and work remains."""
        while self.commit(session_id, agent, wait=True) is Outcome.COMMITTED:
            if not self.has_uncommitted_work(session_id):
                return

    def _start_background(self, work: Callable[[], object], name: str) -> Outcome:
        thread = threading.Thread(target=self._run_background, args=(work,), name=name, daemon=True)
        if not self.register_background_thread(thread):
            return Outcome.REFUSED_DRAINING
        try:
            thread.start()
        except BaseException:
            self.unregister_background_thread(thread)
            raise
        return Outcome.STARTED

    def _run_background(self, work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException:
            logger.exception("background commit ended with an error")
        finally:
            self.unregister_background_thread(threading.current_thread())

    def register_background_thread(self, thread: threading.Thread) -> bool:
        """Track a host-started commit thread; False once draining (do not start it)."""
        with self.background_lock:
            if self._apply_process(BackgroundCommitRequested()) is not Outcome.ADMITTED:
                return False
            self.background_threads.add(thread)
            return True

    def unregister_background_thread(self, thread: threading.Thread) -> None:
        """Stop tracking a finished commit thread."""
        with self.background_lock:
            self.background_threads.discard(thread)

    # --- retirement and shutdown -------------------------------------------------

    def discard(self, session_id: SessionId) -> Outcome:
        """Drop a clean, idle session's entry (DISCARDED or ALREADY_ABSENT); else KEPT_*."""
        with self._condition:
            _, result = self._apply(Discard(session_id))
        assert isinstance(result, Outcome)
        return result

    @property
    def draining(self) -> bool:
        """True once ``drain`` has begun."""
        return self._process.draining

    def drain(self, deadline: float = 30.0) -> DrainReport:
        """Commit every dirty session, in parallel, returning within ``deadline`` seconds.

        Background commits are joined first; then up to ``drain_workers`` threads
        commit sessions, each session's segments in order, for as long as that
        makes progress. A hung or raising provider holds only its own worker.
        """
        if deadline != deadline:
            raise ValueError("drain deadline must be a number of seconds, got NaN")
        ends_at = time.monotonic() + max(0.0, deadline)
        self._apply_process(DrainStarted())
        report = DrainReport()
        self._join_background(ends_at)
        committed: set[SessionId] = set()
        while time.monotonic() < ends_at:
            dirty = self.dirty_sessions()
            if not dirty:
                break
            progressed = self._drain_round(dirty, ends_at, committed)
            if not progressed:
                break
        report.still_dirty = self.dirty_sessions()
        still_dirty = set(report.still_dirty)
        # list() copies in one step: a worker past the deadline may still add to the set.
        report.committed = [sid for sid in list(committed) if sid not in still_dirty]
        report.deadline_passed = bool(report.still_dirty) and time.monotonic() >= ends_at
        with self.background_lock:
            report.background_left = sum(1 for t in self.background_threads if t.is_alive())
        if report.still_dirty:
            logger.warning(
                "drain returned with %d session(s) still dirty: %r",
                len(report.still_dirty),
                report.still_dirty,
            )
        self._apply_process(DrainFinished())
        return report

    def _join_background(self, ends_at: float) -> None:
        with self.background_lock:
            threads = list(self.background_threads)
        for thread in threads:
            remaining = ends_at - time.monotonic()
            if remaining <= 0:
                return
            try:
                thread.join(_bounded(remaining))
            except RuntimeError:
                # Registered but not started yet (registration comes first): the
                # drain rounds commit its session, waiting for any call it starts.
                continue

    def _drain_round(
        self, dirty: list[SessionId], ends_at: float, committed: set[SessionId]
    ) -> bool:
        """Commit ``dirty`` sessions on up to ``drain_workers`` threads; True on progress."""
        queue = list(reversed(dirty))
        done = threading.Condition(threading.Lock())
        state = {"active": 0, "progressed": False}

        def drain_session(session_id: SessionId) -> None:
            while time.monotonic() < ends_at:
                remaining = ends_at - time.monotonic()
                outcome = self.commit(session_id, wait=True, timeout=remaining)
                if outcome is not Outcome.COMMITTED:
                    return
                with done:
                    state["progressed"] = True
                    committed.add(session_id)
                if not self.has_uncommitted_work(session_id):
                    return

        def worker() -> None:
            try:
                while True:
                    with done:
                        if not queue:
                            return
                        session_id = queue.pop()
                    try:
                        drain_session(session_id)
                    except BaseException:
                        logger.exception(
                            "drain: the provider of session %r raised a BaseException; "
                            "its work stays dirty",
                            session_id,
                        )
            finally:
                with done:
                    state["active"] -= 1
                    done.notify_all()

        workers = min(self.drain_workers, len(queue))
        with done:
            state["active"] = workers
        for number in range(workers):
            threading.Thread(
                target=worker, name=f"memory-lifecycle drain {number}", daemon=True
            ).start()
        with done:
            while state["active"] > 0:
                remaining = ends_at - time.monotonic()
                if remaining <= 0:
                    break
                done.wait(_bounded(remaining))
            return bool(state["progressed"])

    def reset(self) -> None:
        """Forget every session and the drain flags (for tests)."""
        with self._condition:
            self._epoch += 1
            self._sessions.clear()
            self._calling.clear()
            self._process = EMPTY_PROCESS
            self._condition.notify_all()
        with self.background_lock:
            self.background_threads.clear()

    def process_state(self) -> Process:
        """The whole state as a model ``Process`` (ids must be orderable)."""
        with self._condition:
            pairs = tuple(sorted(self._sessions.items(), key=lambda pair: pair[0]))  # type: ignore[arg-type,return-value]
            return self._process._replace(sessions=pairs)


def _bounded(seconds: float | None) -> float | None:
    """A wait the threading module accepts: at most ``threading.TIMEOUT_MAX``."""
    if seconds is None or seconds < threading.TIMEOUT_MAX:
        return seconds
    return threading.TIMEOUT_MAX


def _deadline(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if timeout != timeout:
        raise ValueError("timeout must be a number of seconds or None, got NaN")
    return time.monotonic() + timeout


_NO_COMMIT_METHOD = (
    "agent {agent!r} has no callable commit_memory_session(); pass an agent object that has one"
)


def can_commit(agent: object) -> bool:
    """True when ``agent`` has a callable ``commit_memory_session``."""
    return callable(getattr(agent, "commit_memory_session", None))


def _check_agent(agent: object) -> None:
    """Refuse an agent that could never commit: it would own work no one can commit."""
    if agent is not None and not can_commit(agent):
        raise TypeError(_NO_COMMIT_METHOD.format(agent=agent))


def _check_hashable(session_id: object) -> None:
    try:
        hash(session_id)
    except TypeError:
        raise TypeError(
            f"session_id must be hashable (a str, say); got {type(session_id).__name__}"
        ) from None
