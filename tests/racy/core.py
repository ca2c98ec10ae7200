"""A small lifecycle on the model's rules, with switchable concurrency flaws.

Without flaws it is a sound implementation of the hermes-webui API (a
reference the explorer must find nothing in). Each flag breaks it one way:

- ``provider_under_lock``: the provider call runs while the lock is held;
- ``split_check_and_set``: a commit reads the session in one critical section
  and stores its decision in another;
- ``notify_after_failure=False``: a failed provider call wakes no waiter;
- ``catch_base_exception=False``: a BaseException skips the cleanup;
- ``commit_to_generation``: a successful call marks everything up to the
  current generation committed, not just what it captured;
- ``start_follow_ups=False``: a commit refused as busy is never followed up;
- ``join_unstarted_threads``: the drain joins a follow-up thread registered but
  not started yet (``RuntimeError``).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from typing import Any

from memory_lifecycle.model import (
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    Outcome,
    RegisterAgent,
    Session,
    SessionEvent,
    SessionStep,
    Shutdown,
    StartFollowUp,
    TurnCompleted,
    UnregisterAgent,
    WakeWaiters,
    step_session,
)

API_NAMES = (
    "register_agent",
    "unregister_agent",
    "mark_turn_completed",
    "has_uncommitted_work",
    "commit_session_memory",
    "discard_session",
    "drain_all_on_shutdown",
)


class HermesLifecycle:
    """The hermes-webui functions over ``step_session``, one lock, optional flaws."""

    def __init__(
        self,
        *,
        provider_under_lock: bool = False,
        split_check_and_set: bool = False,
        notify_after_failure: bool = True,
        catch_base_exception: bool = True,
        commit_to_generation: bool = False,
        start_follow_ups: bool = True,
        join_unstarted_threads: bool = False,
    ) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._sessions: dict[str, Session] = {}
        self._draining = False
        self._call_ids = itertools.count(1)
        self._calling: dict[str, int] = {}
        """Session id -> ident of the thread running its provider call."""
        self.provider_under_lock = provider_under_lock
        self.split_check_and_set = split_check_and_set
        self.notify_after_failure = notify_after_failure
        self.catch_base_exception = catch_base_exception
        self.commit_to_generation = commit_to_generation
        self.start_follow_ups = start_follow_ups
        self.join_unstarted_threads = join_unstarted_threads
        self._background: dict[threading.Thread, None] = {}
        """Follow-up threads, registered before they start (joined by the drain)."""

    def _shutdown(self) -> Shutdown:
        """The model's process-wide record: only the drain flag matters here."""
        return Shutdown(phase="DRAINING" if self._draining else "RUNNING")

    def session_state(self, session_id: str) -> Session | None:
        """The stored session (read without the lock, for inspection)."""
        return self._sessions.get(session_id)

    def _apply(self, event: SessionEvent, *, notify: bool = True) -> SessionStep:
        """Feed one event to the model and store the result (lock held)."""
        session_id: Any = event.session_id
        stepped = step_session(self._sessions.get(session_id), event, self._shutdown())
        if stepped.session is None:
            self._sessions.pop(session_id, None)
        else:
            self._sessions[session_id] = stepped.session
        if notify and any(isinstance(effect, WakeWaiters) for effect in stepped.effects):
            self._condition.notify_all()
        return stepped

    def register_agent(self, session_id: str, agent: object) -> None:
        if session_id:
            with self._condition:
                self._apply(RegisterAgent(session_id, agent))

    def unregister_agent(self, session_id: str) -> None:
        if session_id:
            with self._condition:
                self._apply(UnregisterAgent(session_id))

    def mark_turn_completed(self, session_id: str, *, agent: object = None) -> int:
        if not session_id:
            return 0
        with self._condition:
            result = self._apply(TurnCompleted(session_id, agent)).result
        assert isinstance(result, int)
        return result

    def has_uncommitted_work(self, session_id: str) -> bool:
        if not session_id:
            return False
        with self._condition:
            session = self._sessions.get(session_id)
            return session is not None and session.dirty

    def discard_session(self, session_id: str) -> bool:
        if not session_id:
            return False
        with self._condition:
            result = self._apply(Discard(session_id)).result
        return result in (Outcome.DISCARDED, Outcome.ALREADY_ABSENT)

    def commit_session_memory(
        self,
        session_id: str,
        agent: object = None,
        *,
        wait: bool = False,
        timeout: float | None = None,
    ) -> bool:
        if not session_id:
            return False
        return self._commit(session_id, agent, wait, timeout, follow_up=False)

    def _request(self, event: CommitRequested) -> SessionStep:
        """Decide a commit (lock held); the flawed way decides on a stale copy."""
        if not self.split_check_and_set:
            return self._apply(event)
        snapshot = self._sessions.get(event.session_id)
        self._condition.release()
        try:
            stepped = step_session(snapshot, event, self._shutdown())
        finally:
            self._condition.acquire()
        if stepped.session is not None:
            self._sessions[event.session_id] = stepped.session
        return stepped

    def _commit(
        self, session_id: str, agent: object, wait: bool, timeout: float | None, follow_up: bool
    ) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.get_ident()
        with self._condition:
            # A provider committing its own session must not wait for itself.
            reentrant = wait and self._calling.get(session_id) == me
            call_id = next(self._call_ids)
            while True:
                now = time.monotonic()
                event = CommitRequested(
                    session_id,
                    call_id,
                    agent,
                    wait=wait,
                    in_call=reentrant,
                    follow_up=follow_up,
                    now=now,
                    deadline=deadline,
                )
                stepped = self._request(event)
                if stepped.result is not Outcome.WAIT:
                    break
                self._condition.wait(None if deadline is None else deadline - now)
            calls = [effect for effect in stepped.effects if isinstance(effect, CallProvider)]
            if not calls:
                return False
            self._calling[session_id] = me
            if self.provider_under_lock:
                return self._call_provider(calls[0], locked=True)
        return self._call_provider(calls[0], locked=False)

    def _call_provider(self, call: CallProvider, *, locked: bool) -> bool:
        agent: Any = call.agent
        handled: type[BaseException] = BaseException if self.catch_base_exception else Exception
        try:
            agent.commit_memory_session()
        except handled as error:
            fatal = not isinstance(error, Exception)
            self._finish(CommitFailed(call.session_id, call.call_id, fatal), locked=locked)
            if fatal:
                raise
            return False
        self._finish(CommitSucceeded(call.session_id, call.call_id), locked=locked)
        return True

    def _finish(self, event: CommitSucceeded | CommitFailed, *, locked: bool) -> None:
        if locked:
            stepped = self._end(event)
        else:
            with self._condition:
                stepped = self._end(event)
        for effect in stepped.effects:
            if isinstance(effect, StartFollowUp) and self.start_follow_ups:
                self._start_follow_up(effect.session_id, locked=locked)

    def _start_follow_up(self, session_id: str, *, locked: bool) -> None:
        """Register a follow-up thread (so the drain can join it), then start it."""
        worker = threading.Thread(target=self._follow_up, args=(session_id,), daemon=True)
        if locked:
            self._background[worker] = None
        else:
            with self._condition:
                self._background[worker] = None
        worker.start()

    def _end(self, event: CommitSucceeded | CommitFailed) -> SessionStep:
        self._calling.pop(event.session_id, None)
        notify = self.notify_after_failure or not isinstance(event, CommitFailed)
        stepped = self._apply(event, notify=notify)
        session = stepped.session
        if self.commit_to_generation and isinstance(event, CommitSucceeded) and session:
            session = session._replace(committed=session.generation, segments=())
            self._sessions[event.session_id] = session
        return stepped

    def _follow_up(self, session_id: str) -> None:
        with contextlib.suppress(BaseException):  # a background commit has no caller
            self._commit(session_id, None, False, None, follow_up=True)
        with self._condition:
            self._background.pop(threading.current_thread(), None)  # type: ignore[arg-type]

    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        with self._condition:
            self._draining = True
            background = list(self._background)
        end = time.monotonic() + deadline
        for thread in background:
            if thread.ident is None and not self.join_unstarted_threads:
                continue  # registered, not started yet: the drain commits its work itself
            thread.join(max(0.0, end - time.monotonic()))
        while time.monotonic() < end:
            with self._condition:
                dirty = [sid for sid, session in self._sessions.items() if session.dirty]
            if not dirty:
                return
            results: list[bool] = []
            workers = [
                threading.Thread(target=self._drain_one, args=(sid, end, results), daemon=True)
                for sid in dirty
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(max(0.0, end - time.monotonic()))
            if not any(results):
                return

    def _drain_one(self, session_id: str, end: float, results: list[bool]) -> None:
        try:
            remaining = max(0.0, end - time.monotonic())
            results.append(self._commit(session_id, None, True, remaining, follow_up=False))
        except BaseException:
            results.append(False)


def api_functions(lifecycle: HermesLifecycle) -> dict[str, Any]:
    """The module-level hermes-webui functions of ``lifecycle``."""
    return {name: getattr(lifecycle, name) for name in API_NAMES}
