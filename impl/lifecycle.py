"""The threaded shell: ``SessionLifecycle`` feeds the model's rules and waits.

Every decision is the model's (``memory_lifecycle.model.rules``). The shell
holds one lock around each step of the rules, keeps the resulting immutable
``Session`` values in a dict and the ``Shutdown`` record beside it, and
carries out the effects: under the lock it wakes waiting threads and queues
drain work; after releasing it, it calls the provider (then feeds back how the
call ended) and starts threads (follow-ups, background commits, drain
workers). What the shell owns is what the model cannot have: the clock (it
reads it and passes the reading in), the waiting, the threads, fresh call ids,
and which thread runs which provider call (so a caller inside a call never
waits: the model answers BUSY).

Asynchronous exceptions (a KeyboardInterrupt raised by a signal handler) may
land at any call or loop back-edge, including inside the code that cleans up
after another one. A state change is a few stores with no such point in
between, so it happens whole or not at all. Each provider call has an id
known before its request is fed; an exception escaping a commit hands
``(thread, session, call id)`` to a queue with one C-level append (done
before any later interruption can land) and the queue is settled, now or by
the next operation of any thread: a call the state still records as running
is ended as failed, and the effects an interruption may have dropped (a
wake-up, a follow-up, a drain queue entry) are recovered from the state. An
abandoned drain is finished the same way. Old session values are kept until
the lock is released, so an agent's ``__del__`` never runs while it is held.

``threading`` and ``time`` are looked up at call time, so a deterministic
scheduler can stand in for them.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from memory_lifecycle import model
from memory_lifecycle.model import Outcome, Session, SessionId
from memory_lifecycle.model.state import DRAINING, EMPTY_SHUTDOWN

from .checks import (
    check_agent,
    check_count,
    check_flag,
    check_seconds,
    check_session_id,
    describe,
    no_commit_method,
)

logger = logging.getLogger("memory_lifecycle")

DEFAULT_DRAIN_WORKERS = 32
"""Provider calls wait on I/O, so a waiting worker costs a thread and no CPU. With
32, a drain commits 32 sessions per provider latency, and each hung provider holds
one worker only."""


class _Unsettled(NamedTuple):
    """A commit that an exception ended early: its call may still be recorded as running."""

    thread: int
    session_id: SessionId
    call_id: int


@dataclass
class DrainReport:
    """What ``SessionLifecycle.drain`` achieved, read when it returned."""

    committed: list[SessionId] = field(default_factory=list)
    """Sessions a drain worker committed that have no uncommitted work left."""
    still_dirty: list[SessionId] = field(default_factory=list)
    """Sessions with uncommitted work."""
    in_flight: list[SessionId] = field(default_factory=list)
    """Sessions with a provider call still running."""
    deadline_passed: bool = False
    """True when the drain ended because its deadline passed."""
    background_left: int = 0
    """Background commits admitted and not yet ended."""


def _monotonic() -> float:
    return time.monotonic()


def _module_logger() -> logging.Logger:
    return logger


class SessionLifecycle:
    """The memory-provider session lifecycle, safe to call from many threads.

    ``drain_workers`` (a positive int) bounds how many sessions the shutdown
    drain commits at once. ``clock`` (default ``time.monotonic``) and ``log``
    (returns the logger to write to) are read at each use, so a host can
    redirect them.

    Parameters checked at the API boundary are typed ``object``: the checks in
    ``memory_lifecycle.checks`` refuse a wrong type with a message that names
    the parameter (a compiled signature would refuse it with a terser one).
    """

    def __init__(
        self,
        *,
        drain_workers: object = DEFAULT_DRAIN_WORKERS,
        clock: Callable[[], float] | None = None,
        log: Callable[[], logging.Logger] | None = None,
    ) -> None:
        self.drain_workers = check_count("drain_workers", drain_workers)
        self._clock = clock if clock is not None else _monotonic
        self._log = log if log is not None else _module_logger
        self.lock = threading.RLock()
        """Guards the state; holding it blocks every operation of other threads."""
        self.condition = threading.Condition(self.lock)
        """Over ``lock``: waiting commits, drain workers and the drain wait on it."""
        self._waiting = 0
        """Threads waiting on ``condition``: nobody to wake when 0."""
        self._sessions: dict[SessionId, Session] = {}
        self._shutdown = EMPTY_SHUTDOWN
        self._version = 0
        """Counts the state changes stored: a step that sees it move re-steps (``_feed``)."""
        self._call_ids = itertools.count(1)
        self._calls_by_thread: dict[int, list[int]] = {}
        """Thread ident -> ids of the provider calls it is running (nested calls)."""
        self._drain_queue: collections.deque[SessionId] = collections.deque()
        self._drain_committed: set[SessionId] = set()
        self._drain_call_ids: set[int] = set()
        """Calls a drain worker started: their success counts as the drain's commit."""
        self._drain_pool: set[threading.Thread] = set()
        """Drain worker threads started and not ended; the pool grows up to
        ``drain_workers`` (see ``_carry_out_locked``)."""
        self._drain_started = 0
        """Drain worker threads ever started (names them)."""
        self._drain_busy = 0
        """Drain workers inside a provider call."""
        self._unsettled: collections.deque[_Unsettled] = collections.deque()
        """Commits an exception ended early, to settle (see the module docstring)."""
        self._drain_abandoned = False
        """True when an exception ended the leading ``drain`` before it fed DrainFinished."""
        self._abandoned_drains_ended = 0
        """Abandoned drains ``settle`` has ended: a drain that joined one of them drains
        on by itself (``drain``)."""
        self._effects_lost = False
        """True when an exception may have dropped an effect of ``apply``."""
        self.background_threads: set[threading.Thread] = set()
        """Admitted background commit threads not yet ended; guarded by ``lock``."""
        self.background_lock = threading.RLock()
        """For a host's own bookkeeping beside the registry (the drop-in's
        ``_background_commit_threads_lock`` around its ``_draining`` flag). The lifecycle
        never holds it while it takes ``lock``, so no lock order joins the two (a signal
        handler's call can take ``lock`` inside any of the lifecycle's own calls)."""

    # --- the one place state changes (lock held) --------------------------------

    def _feed(self, event: model.SessionEvent) -> tuple[model.SessionStep, Session | None]:
        """Step one session event and store what the model decides.

        Returns the step and the session's previous state, which the caller
        binds to a local ``_kept`` that outlives the lock: dropping the last
        reference to an agent may run its ``__del__``, which may call the
        lifecycle.

        A signal handler can run a whole lifecycle call (a drain, say) in this
        thread while the model steps (the lock is re-entrant): the state then
        moved under the step, so it is stepped again from there (``_version``).
        Between that check and the stores there is no call, so no handler runs.
        """
        sessions = self._sessions
        session_id = event.session_id
        while True:
            version = self._version
            before = sessions.get(session_id)
            moved = model.step_session(before, event, self._shutdown)
            after = moved.session
            if self._version == version:
                break
        self._version = version + 1
        self._shutdown = moved.shutdown
        if after is None:
            if before is not None:
                del sessions[session_id]
        elif after is not before:
            sessions[session_id] = after
        if moved.effects:
            self._carry_out_locked(moved.effects)
        return moved, before

    def _feed_process(self, event: model.ProcessEvent) -> tuple[model.ProcessStep, list[Session]]:
        """Step one process event and store what the model decides (see ``_feed``).

        The changed entries are stored by one ``dict.update``; only a removal
        (``Reset``) stores them one by one.
        """
        sessions = self._sessions
        while True:
            version = self._version
            moved = model.step_process(self._shutdown, sessions, event)
            updates: dict[SessionId, Session] = {}
            removed: list[SessionId] = []
            previous: list[Session] = []
            for session_id, session in moved.changes:
                old = sessions.get(session_id)
                if old is not None:
                    previous.append(old)
                if session is None:
                    removed.append(session_id)
                else:
                    updates[session_id] = session
            if self._version == version:
                break
        self._version = version + 1
        self._shutdown = moved.shutdown
        sessions.update(updates)
        for session_id in removed:
            sessions.pop(session_id, None)
        if moved.effects:
            self._carry_out_locked(moved.effects)
        return moved, previous

    def _carry_out_locked(self, effects: Sequence[model.Effect]) -> None:
        """The effects carried out under the lock: wake-ups and drain queue entries.

        Work queued while every drain worker is inside a (perhaps hung) provider
        call gets one more worker, up to ``drain_workers``: how many threads run
        the drain's queue is the shell's, the queue itself is the model's.
        """
        for effect in effects:
            if isinstance(effect, model.QueueForDrain):
                self._drain_queue.append(effect.session_id)
                if 0 < len(self._drain_pool) <= self._drain_busy < self.drain_workers:
                    try:
                        self._start_drain_workers(1)
                    except RuntimeError:
                        # No thread to be had: the running workers take it in turn;
                        # the event that queued it has already been applied.
                        self._say_error("drain: could not start another worker")
            elif not isinstance(effect, model.WakeWaiters):
                continue
            if self._waiting:
                self._wake_waiters()

    def _wake_waiters(self) -> None:
        """``notify_all``; lock held.

        A signal handler's lifecycle call can run inside CPython's
        ``Condition.notify``, between its check that waiters are left and its
        read of the first one, and wake them all itself: ``notify`` then raises
        IndexError on the empty queue. Every waiter is woken by then, which is
        all ``notify_all`` is for.
        """
        try:
            self.condition.notify_all()
        except IndexError:  # a try, not suppress(): one call fewer where a Ctrl-C lands
            return

    def _wait(self, seconds: float | None) -> None:
        """Wait on the condition until woken or ``seconds`` pass; lock held."""
        self._waiting += 1
        try:
            self.condition.wait(_bounded(seconds))
        except BaseException:
            # A Ctrl-C can land inside Condition.wait between releasing the lock and
            # taking it back: take it back (at the one level the callers hold), so the
            # caller's ``with`` releases a held lock. A second one can land inside the
            # blocking acquire, which then returns without the lock: look again. The
            # loop is written here, not called, since a call's entry is a point where
            # an interruption lands outside any ``try``.
            while True:
                try:
                    if _held_by_this_thread(self.lock):
                        break
                    self.lock.acquire()
                except BaseException:  # the first exception is the one raised
                    continue
            raise
        finally:
            self._waiting -= 1

    def apply(self, event: model.SessionEvent) -> model.Result:
        """Feed one session event to the model (for adapters and tests).

        Provider-call events are the shell's own: feeding them here ends a call
        its provider has not finished. A follow-up the event makes owed starts.
        """
        try:
            with self.lock:
                moved, _kept = self._feed(event)
        except BaseException as error:
            self._effects_lost = True
            if isinstance(error, TypeError):
                check_session_id(event.session_id)
            raise
        self._start_follow_ups(moved.effects)
        return moved.result

    def edit(self, session_id: SessionId, field_name: str, value: object) -> None:
        """Write one field of a session entry, as a host's white-box test does.

        A test hook, not an API for production code: see ``model.EntryEdited``.
        Raises ValueError (and changes nothing) when the entry would be malformed.
        Writing ``in_flight = False`` ends the call the mark stood for, so a
        follow-up owed by a commit that found it running starts (L1).
        """
        self.apply(model.EntryEdited(session_id, field_name, value))

    # --- registration and turns -------------------------------------------------

    def register_agent(self, session_id: SessionId, agent: object) -> None:
        """Make ``agent`` the owner of the session's future turns."""
        check_session_id(session_id)
        if agent is None:
            raise ValueError("register_agent() needs an agent; use unregister_agent() to clear it")
        check_agent(agent)
        self.apply(model.RegisterAgent(session_id, agent))

    def unregister_agent(self, session_id: SessionId) -> None:
        """Forget the current agent; owners of dirty work are kept."""
        self.apply(model.UnregisterAgent(session_id))

    def complete_turn(
        self, session_id: SessionId, *, agent: object | None = None, ephemeral: object = False
    ) -> int:
        """Record a completed turn; return the session's generation."""
        check_agent(agent)
        generation = self.apply(
            model.TurnCompleted(session_id, agent, check_flag("ephemeral", ephemeral))
        )
        assert isinstance(generation, int)
        return generation

    # --- queries ----------------------------------------------------------------

    def has_uncommitted_work(self, session_id: SessionId) -> bool:
        """True when the session has completed turns not yet committed."""
        try:
            with self.lock:
                session = self._sessions.get(session_id)
        except TypeError:
            check_session_id(session_id)
            raise
        return session is not None and session.generation > session.committed

    def session_state(self, session_id: SessionId) -> Session | None:
        """The session's immutable state, or None when it has no entry."""
        check_session_id(session_id)
        with self.lock:
            return self._sessions.get(session_id)

    def session_ids(self) -> list[SessionId]:
        """Ids of the sessions with an entry."""
        with self.lock:
            return list(self._sessions)

    def dirty_sessions(self) -> list[SessionId]:
        """Ids of the sessions with uncommitted work."""
        with self.lock:
            return [key for key, value in list(self._sessions.items()) if value.dirty]

    def __len__(self) -> int:
        """Number of sessions with an entry."""
        with self.lock:
            return len(self._sessions)

    @property
    def shutdown(self) -> model.Shutdown:
        """The process-wide record: drain phase and counts, background commits."""
        return self._shutdown

    @property
    def draining(self) -> bool:
        """True while a drain runs."""
        return self._shutdown.phase == DRAINING

    def process_state(self) -> model.Process:
        """The whole state as a model ``Process`` (the ids must be orderable)."""
        with self.lock:
            pairs = sorted(self._sessions.items(), key=lambda pair: pair[0])  # type: ignore[arg-type,return-value]
            return model.Process(tuple(pairs), self._shutdown)

    # --- commits ----------------------------------------------------------------

    def commit(
        self,
        session_id: SessionId,
        agent: object | None = None,
        *,
        wait: object = False,
        timeout: object = None,
    ) -> Outcome:
        """Commit the earliest dirty segment; return what happened.

        With ``wait`` a running call of the same session is awaited, for at
        most ``timeout`` seconds (None: no limit; zero or negative: not at all),
        except from inside a provider call, which never waits. Without it, a
        running call gives BUSY and the work is committed by a follow-up when
        that call ends.
        """
        check_agent(agent)
        return self.commit_with(
            session_id, agent, agent_can_commit=True, wait=wait, timeout=timeout
        )

    def commit_with(
        self,
        session_id: SessionId,
        agent: object | None,
        agent_can_commit: bool,
        wait: object = False,
        timeout: object = None,
    ) -> Outcome:
        """``commit`` without the agent check: an agent that cannot commit adopts nothing."""
        check_session_id(session_id)
        waits = check_flag("wait", wait)
        seconds = check_seconds("timeout", timeout, optional=True)
        return self._commit(
            session_id, agent, agent_can_commit, waits, seconds, follow_up=False, whole=False
        )

    def _commit(
        self,
        session_id: SessionId,
        agent: object | None,
        agent_can_commit: bool,
        wait: bool,
        timeout: float | None,
        *,
        follow_up: bool,
        whole: bool,
    ) -> Outcome:
        """Request a commit; wait while the model says WAIT; run the call it starts."""
        if self._unsettled or self._effects_lost or self._drain_abandoned:
            self.settle()
        call_id = next(self._call_ids)
        ident = threading.get_ident()
        in_call = ident in self._calls_by_thread
        deadline = None
        if wait and timeout is not None:
            deadline = self._clock() + timeout
        try:
            with self.lock:
                while True:
                    now = self._clock() if deadline is not None else 0.0
                    request = model.CommitRequested(
                        session_id,
                        call_id,
                        agent,
                        agent_can_commit,
                        wait,
                        in_call,
                        follow_up,
                        whole,
                        now,
                        deadline,
                    )
                    moved, _kept = self._feed(request)
                    if moved.result is not Outcome.WAIT:
                        break
                    self._wait(None if deadline is None else deadline - now)
                if moved.result is not Outcome.STARTED:
                    assert isinstance(moved.result, Outcome)
                    return moved.result
                self._enter_call(ident, call_id)
            call = moved.effects[0]
            assert isinstance(call, model.CallProvider)
            return self._call_provider(call, ident)
        except BaseException as error:
            # A plain tuple: building a _Unsettled would be a call, where a second
            # interruption could land before the append.
            self._unsettled.append((ident, session_id, call_id))  # type: ignore[arg-type]
            self.settle()
            if isinstance(error, TypeError):
                check_session_id(session_id)
            raise

    def _say_error(self, message: str, *args: object) -> None:
        """Log an error with its traceback; a logger that raises is ignored (no work may
        hang on the host's logging)."""
        with contextlib.suppress(Exception):
            self._log().error(message, *args, exc_info=True)

    def _say_warning(self, message: str, *args: object) -> None:
        """Log a warning; a logger that raises is ignored, as in ``_say_error``."""
        with contextlib.suppress(Exception):
            self._log().warning(message, *args)

    def _enter_call(self, ident: int, call_id: int) -> None:
        """Record that thread ``ident`` runs provider call ``call_id``; lock held."""
        self._calls_by_thread.setdefault(ident, []).append(call_id)

    def _leave_call(self, ident: int, call_id: int) -> None:
        """Forget that thread ``ident`` runs call ``call_id`` (if it was recorded); lock held."""
        running = self._calls_by_thread.get(ident)
        if running is not None and call_id in running:
            running.remove(call_id)
            if not running:
                # pop, not del: a signal handler's call in this thread may have gone first
                self._calls_by_thread.pop(ident, None)

    def _call_provider(self, call: model.CallProvider, ident: int) -> Outcome:
        """Run the provider call outside the lock and feed back how it ended.

        The state is updated before anything else runs (logging included), so a
        failing log handler cannot leave the session in flight.
        """
        try:
            method = getattr(call.agent, "commit_memory_session", None)
            if not callable(method):
                raise TypeError(no_commit_method(call.agent))
            method()
        except Exception:
            self._end_call(ident, model.CommitFailed(call.session_id, call.call_id))
            self._say_error(
                "commit_memory_session() failed for session %s; the work stays dirty",
                describe(call.session_id),
            )
            return Outcome.FAILED
        except BaseException:
            self._end_call(ident, model.CommitFailed(call.session_id, call.call_id, fatal=True))
            raise
        self._end_call(ident, model.CommitSucceeded(call.session_id, call.call_id))
        return Outcome.COMMITTED

    def _end_call(self, ident: int, event: model.CommitSucceeded | model.CommitFailed) -> None:
        """Feed back the end of a provider call, then start the follow-ups it owes."""
        with self.lock:
            self._leave_call(ident, event.call_id)
            moved, _kept = self._feed(event)
            if event.call_id in self._drain_call_ids:
                # Recorded with the call's end, so a drain that ends at once reports it.
                self._drain_call_ids.discard(event.call_id)
                if isinstance(event, model.CommitSucceeded):
                    self._drain_committed.add(event.session_id)
        self._start_follow_ups(moved.effects)

    def settle(self) -> None:
        """Finish what exceptions ended early: running calls, a drain, lost effects.

        Called by the operation that was interrupted and by later operations;
        settling twice is harmless (a call end fed again is STALE).
        """
        with self.lock:
            self._effects_lost = False
            self._wake_waiters()
            if self._drain_abandoned:
                if self._shutdown.phase == DRAINING:
                    self._abandoned_drains_ended += 1
                    self._feed_process(model.DrainFinished())
                # Cleared once the drain is finished: an interruption before leaves it set.
                self._drain_abandoned = False
            if self._shutdown.phase == DRAINING and not self._drain_queue:
                self._requeue_wanted()
        while True:
            effects: tuple[model.Effect, ...] = ()
            with self.lock:
                if not self._unsettled:
                    return
                entry = self._unsettled[0]
                unsettled = _Unsettled(*entry)
                try:
                    effects = self._settle_call(unsettled)
                except Exception:
                    self._say_error(
                        "could not settle the commit of session %s",
                        describe(unsettled.session_id),
                    )
                # A signal handler's call may have settled (and removed) it meanwhile.
                if self._unsettled and self._unsettled[0] is entry:
                    self._unsettled.popleft()
            self._start_follow_ups(effects)

    def _settle_call(self, unsettled: _Unsettled) -> tuple[model.Effect, ...]:
        """End ``unsettled``'s call if still recorded, else recover its effects; lock held."""
        self._leave_call(unsettled.thread, unsettled.call_id)
        session_id = unsettled.session_id
        session = self._sessions.get(session_id)
        running = None if session is None else session.in_flight
        if running is not None and running.call_id == unsettled.call_id:
            moved, _kept = self._feed(model.CommitFailed(session_id, unsettled.call_id, fatal=True))
            return moved.effects
        if model.owes_follow_up(session, self._shutdown.phase):
            return (model.StartFollowUp(session_id),)
        return ()

    def _start_follow_ups(self, effects: Sequence[model.Effect]) -> None:
        for effect in effects:
            if not isinstance(effect, model.StartFollowUp):
                continue
            session_id = effect.session_id
            work = partial(
                self._commit, session_id, None, True, False, None, follow_up=True, whole=False
            )
            try:
                self._start_background(work, f"memory-lifecycle follow-up {describe(session_id)}")
            except Exception:
                self._say_error(
                    "could not start the follow-up commit of session %s; its work stays "
                    "dirty for the next boundary or the drain",
                    describe(session_id),
                )

    # --- background commits -----------------------------------------------------

    def commit_in_background(self, session_id: SessionId, agent: object | None = None) -> Outcome:
        """Commit every dirty segment on a tracked thread (fire-and-forget).

        STARTED, or REFUSED_DRAINING while a drain runs (the drain commits the work).
        """
        check_session_id(session_id)
        check_agent(agent)
        work = partial(
            self._commit, session_id, agent, True, False, None, follow_up=False, whole=True
        )
        return self._start_background(work, f"memory-lifecycle commit {describe(session_id)}")

    def _start_background(self, work: Callable[[], object], name: str) -> Outcome:
        thread = threading.Thread(target=self._run_background, args=(work,), name=name, daemon=True)
        try:
            if not self.register_background_thread(thread):
                return Outcome.REFUSED_DRAINING
            thread.start()
        except BaseException:
            # Registered (perhaps) and never started, as a Ctrl-C can leave it: untrack it.
            # A thread that started unregisters itself when it ends.
            if thread.ident is None:
                self.unregister_background_thread(thread)
            raise
        return Outcome.STARTED

    def _run_background(self, work: Callable[[], object]) -> None:
        try:
            work()
        except BaseException:
            self._say_error("a background commit ended with an error; its work stays dirty")
        finally:
            self.unregister_background_thread(threading.current_thread())

    def register_background_thread(self, thread: threading.Thread) -> bool:
        """Track a commit thread before starting it; False while draining (do not start it)."""
        with self.lock:
            moved, _kept = self._feed_process(model.BackgroundCommitRequested())
            admitted = moved.result is Outcome.ADMITTED
            if admitted:
                self.background_threads.add(thread)
        return admitted

    def unregister_background_thread(self, thread: threading.Thread) -> None:
        """Stop tracking a finished commit thread."""
        with self.lock:
            if thread not in self.background_threads:
                return
            self.background_threads.discard(thread)
            self._feed_process(model.BackgroundCommitEnded())

    def take_background_threads(self) -> list[threading.Thread]:
        """Stop tracking every background thread and return them (to join them)."""
        with self.lock:
            threads = list(self.background_threads)
            self.background_threads.clear()
            for _ in threads:
                self._feed_process(model.BackgroundCommitEnded())
        return threads

    # --- retirement and shutdown ------------------------------------------------

    def discard(self, session_id: SessionId) -> Outcome:
        """Drop a clean, idle session's entry (DISCARDED or ALREADY_ABSENT); else KEPT_*."""
        result = self.apply(model.Discard(session_id))
        assert isinstance(result, Outcome)
        return result

    def drain(self, deadline: object = 30.0) -> DrainReport:
        """Commit every dirty session, in parallel, returning within ``deadline`` seconds.

        Up to ``drain_workers`` threads take sessions off one shared queue: a
        session is queued while it is dirty and idle, again after a failure
        (up to ``model.DRAIN_ATTEMPTS`` times) and when turns complete during
        the drain. A hung provider holds one worker. The drain returns early
        once nothing it could commit is dirty and no call is running. Called
        inside a provider call it waits for no call (its own could not end).
        After it returns, the lifecycle serves as before. A drain that joined
        one an exception ended (a Ctrl-C in the thread that led it) goes on
        with a drain of its own until its deadline.
        """
        seconds = check_seconds("deadline", deadline)
        assert seconds is not None
        ends = self._clock() + seconds
        while True:
            report, cut_short = self._drain_once(seconds)
            seconds = ends - self._clock()
            if not cut_short or seconds <= 0:
                break
        if report.still_dirty:
            self._say_warning(
                "drain returned with %d session(s) still dirty: %s",
                len(report.still_dirty),
                describe(report.still_dirty),
            )
        return report

    def _drain_once(self, seconds: float) -> tuple[DrainReport, bool]:
        """One drain, led or joined; also whether the drain it joined was abandoned."""
        if self._unsettled or self._effects_lost or self._drain_abandoned:
            self.settle()
        ident = threading.get_ident()
        now = self._clock()
        started = model.DrainStarted(
            now=now,
            deadline=now + seconds,
            workers=self.drain_workers,
            in_call=ident in self._calls_by_thread,
        )
        leads = False
        was_draining = True  # an interruption before it is read under the lock changed nothing
        try:
            with self.lock:
                abandoned_before = self._abandoned_drains_ended
                was_draining = self._shutdown.phase == DRAINING
                moved, _kept = self._feed_process(started)
                leads = moved.result is Outcome.STARTED
                if leads:
                    self._drain_committed.clear()
                    self._drain_call_ids.clear()
                    self._drop_unstarted_workers()
            for effect in moved.effects:
                if isinstance(effect, model.StartDrainWorkers):
                    self._start_drain_workers(effect.workers)
            with self.lock:
                result = self._await_drain_end()
                report = self._report(result is Outcome.TIMED_OUT)
                cut_short = self._abandoned_drains_ended != abandoned_before
                if leads:
                    leads = False
                    self._feed_process(model.DrainFinished())
        except BaseException:
            # Judged by the phase read under the lock just before the drain was fed:
            # an interruption may land after it started but before ``leads`` was set.
            if leads or not was_draining:
                self._drain_abandoned = True
                self.settle()
            raise
        return report, cut_short

    def _await_drain_end(self) -> Outcome:
        """Wait until the model says the drain has ended; lock held."""
        while True:
            now = self._clock()
            moved, _kept = self._feed_process(model.DrainPoll(now))
            if moved.result is not Outcome.WAIT:
                assert isinstance(moved.result, Outcome)
                return moved.result
            self._wait(self._shutdown.deadline - now)

    def _report(self, deadline_passed: bool) -> DrainReport:
        """The drain's report, read from the state; lock held."""
        report = DrainReport(deadline_passed=deadline_passed)
        # Copies: a signal handler may run a lifecycle call inside this loop.
        for session_id, session in list(self._sessions.items()):
            if session.dirty:
                report.still_dirty.append(session_id)
            if session.in_flight is not None:
                report.in_flight.append(session_id)
        still_dirty = set(report.still_dirty)
        committed = list(self._drain_committed)
        report.committed = [key for key in committed if key not in still_dirty]
        report.background_left = self._shutdown.background_commits
        return report

    def _start_drain_workers(self, count: int) -> None:
        """Start ``count`` workers, each in the pool before it starts (it leaves the pool
        when it ends). A Ctrl-C in ``Thread.start`` may leave one that never ran: the
        next leading drain drops those (``_drop_unstarted_workers``)."""
        with self.lock:
            for _ in range(count):
                self._drain_started += 1
                worker = threading.Thread(
                    target=self._drain_worker,
                    name=f"memory-lifecycle drain {self._drain_started}",
                    daemon=True,
                )
                self._drain_pool.add(worker)
                worker.start()

    def _drop_unstarted_workers(self) -> None:
        """Forget pool entries whose thread is not running; lock held, no worker starting.

        One that was started but has not begun yet is forgotten too, and ends uncounted:
        at worst the pool then grows one worker more than ``drain_workers``.
        """
        workers = list(self._drain_pool)  # a copy: a signal handler's call may change it
        self._drain_pool = {worker for worker in workers if worker.is_alive()}

    def _drain_worker(self) -> None:
        """Take sessions off the drain queue and commit them until the drain ends."""
        ident = threading.get_ident()
        try:
            while True:
                call = self._next_drain_call(ident)
                if call is None:
                    return
                try:
                    self._call_provider(call, ident)
                except BaseException:
                    self._say_error(
                        "drain: the provider of session %s raised a BaseException; "
                        "its work stays dirty",
                        describe(call.session_id),
                    )
                with self.lock:
                    self._drain_busy -= 1
        finally:
            with self.lock:
                self._drain_pool.discard(threading.current_thread())

    def _next_drain_call(self, ident: int) -> model.CallProvider | None:
        """The next provider call the drain starts, or None once it has ended."""
        with self.lock:
            while True:
                now = self._clock()
                if self._drain_queue:
                    session_id = self._drain_queue.popleft()
                    event = model.DrainNext(session_id, now, next(self._call_ids))
                    moved, _kept = self._feed_process(event)
                    if moved.result is Outcome.STARTED:
                        call = moved.effects[0]
                        assert isinstance(call, model.CallProvider)
                        self._enter_call(ident, call.call_id)
                        self._drain_call_ids.add(call.call_id)
                        self._drain_busy += 1
                        return call
                    if moved.result is Outcome.SKIPPED:
                        continue
                    return None
                moved, _kept = self._feed_process(model.DrainPoll(now, worker=True))
                if moved.result is not Outcome.WAIT:
                    return None
                if self._shutdown.queued and self._requeue_wanted():
                    continue
                self._wait(self._shutdown.deadline - now)

    def _requeue_wanted(self) -> bool:
        """Queue again what the drain wants, after an interruption lost a queue entry."""
        entries = list(self._sessions.items())
        wanted = [key for key, session in entries if model.drain_wants(session)]
        self._drain_queue.extend(wanted)
        return bool(wanted)

    def reset(self) -> None:
        """Forget every session and the drain (for tests); running calls end as stale."""
        with self.lock:
            _, _kept = self._feed_process(model.Reset())
            self._drain_queue.clear()
            self._drain_committed.clear()
            self.background_threads.clear()


def _held_by_this_thread(lock: object) -> bool:
    """Whether this thread holds ``lock``, an ``RLock`` (which tells, as Condition asks it)."""
    is_owned: Callable[[], bool] = getattr(lock, "_is_owned")  # noqa: B009 (not in typeshed)
    return is_owned()


def _bounded(seconds: float | None) -> float | None:
    """A wait the threading module accepts: at most ``threading.TIMEOUT_MAX``."""
    if seconds is None or seconds < threading.TIMEOUT_MAX:
        return seconds
    return threading.TIMEOUT_MAX
