"""Hypothesis stateful comparison of an implementation against the pure model.

``LifecycleMachine`` drives any target of the hermes-webui lifecycle API (see
``conformance.target`` for the contract) and ``model.step_session`` side by
side, over two sessions and two scripted agents per session. Rules cover
every API call: registration and re-registration, unregistration, completed
turns with and without an explicit agent (and ephemeral ones when the target
takes them), commits with and without waiting and with zero, negative and short
timeouts, commits *held in flight* on a helper thread (begun by one rule and
released by another with success, an ``Exception`` or a ``BaseException``),
discard, drain and ``has_uncommitted_work``.

After every rule the target must show what the model predicts: the values the
calls return, which agents the provider was called on (in order, per session),
and ``has_uncommitted_work`` of every session. A follow-up commit the model
starts when a call ends (L1) is predicted too; before comparing, the machine
joins every thread the target started during the rule (bounded), so such
background work has finished. Each invariant is one property: the first
mismatch is classified to the property it breaks (``PRIORITY`` decides when one
rule shows several) and raised as a ``PropertyViolation`` carrying a readable
``Trace`` of the rules so far. Hypothesis shrinks the failing run; then
``minimise`` replays the recorded rule calls with steps deleted while the same
property still fails, which removes what Hypothesis keeps when failing replays
are slow (a hang costs its whole bound).

Synchronisation uses Events with bounds only: a held call reports entering the
provider, a helper thread reports finishing; nothing sleeps to wait.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine as _engine
from hypothesis.reporting import with_reporter
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)
from memory_lifecycle.model import (
    CallProvider,
    CommitFailed,
    CommitRequested,
    CommitSucceeded,
    Discard,
    DrainFinished,
    DrainNext,
    DrainStarted,
    Effect,
    Outcome,
    QueueForDrain,
    RegisterAgent,
    Result,
    Session,
    SessionEvent,
    SessionId,
    Shutdown,
    StartFollowUp,
    TurnCompleted,
    UnregisterAgent,
    step_process,
    step_session,
)

from .conformance.fakes import MODES, FakeAgent, Hold, Provider, ProviderAbort
from .conformance.target import (
    BoundedCall,
    Target,
    TargetFactory,
    join_new_threads,
    origin_tracking,
)
from .trace import Trace, TraceStep

SESSIONS = ("s1", "s2")
AGENTS_PER_SESSION = 2
CALL_BOUND = 1.5
"""Seconds any single target call may take before it counts as hung (L3)."""
SHORT_TIMEOUT = 0.02
"""The positive ``timeout`` the commit rule passes (a wait that expires)."""
DRAIN_DEADLINE = 1.0

PRIORITY = ("L3", "S5", "S6", "S1", "S3", "S4", "S2", "S8", "S9", "S10", "L1", "L2", "L4", "S7")
"""When one rule shows several mismatches, the first of these names the violation.

Causes come before symptoms: a hang, overlapping calls or a leak across
sessions explain whatever else differs; a count mismatch (S7) explains least.
"""


class PropertyViolation(AssertionError):
    """A target broke a property; ``steps`` is the readable counterexample so far.

    One class for every property: Hypothesis then treats any mismatch as the
    same failure and shrinks to the smallest example showing one, whichever
    property that example breaks.
    """

    def __init__(
        self,
        property_id: str,
        message: str,
        steps: Sequence[TraceStep],
        script: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        super().__init__(f"{property_id} violated: {message}")
        self.property_id = property_id
        self.message = message
        self.steps = tuple(steps)
        self.script = tuple(script)
        """The rule calls that led here (replayable with ``replay_script``)."""

    def trace(self) -> Trace:
        """The counterexample as the shared ``Trace``."""
        return Trace(self.property_id, self.message, self.steps)


class _Chosen:
    """Stands in for ``st.data()`` when a recorded step is replayed: draws the recorded value."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def draw(self, strategy: Any, label: Any = None) -> Any:
        return self.value


Step = tuple[str, dict[str, Any]]
"""One recorded rule call: the rule's name and its arguments."""


def _scripted(method: Callable[..., None]) -> Callable[..., None]:
    """Record each top-level call of a rule in ``machine.script`` (for minimising)."""

    @functools.wraps(method)
    def recorded(self: LifecycleMachine, *args: Any, **kwargs: Any) -> None:
        outer = not self.in_step
        self.in_step = True
        try:
            method(self, *args, **kwargs)
        finally:
            if outer:
                self.in_step = False
                if "data" in kwargs:
                    kwargs = {**kwargs, "data": _Chosen(self.chosen)}
                self.script.append((method.__name__, kwargs))

    return recorded


@dataclass
class HeldCommit:
    """A commit running on a helper thread whose provider call the machine holds."""

    hold: Hold
    call: BoundedCall
    call_id: int


@dataclass
class Context:
    """What one rule did, for classifying a mismatch."""

    acted: tuple[str, ...]
    rule: str
    ended: str | None = None
    """How a provider call predicted to end in this rule ended (a mode), if any."""
    follow_up: bool = False
    """The model started a follow-up commit in this rule."""
    follow_up_from: dict[str, int] = field(default_factory=dict)
    """Per session, the index in ``calls`` of the first follow-up call."""
    predicted_result: Result | None = None
    calls: dict[str, list[str]] = field(default_factory=dict)
    """Predicted provider calls per session (agent names, in order)."""
    unordered: bool = False
    """Compare calls as sets (the drain commits sessions in any order and retries)."""


def _describe(session_id: str, session: Session | None) -> str:
    if session is None:
        return f"{session_id}: no entry"
    owners = " ".join(
        f"{_name(segment.owner)}:{segment.start}-{segment.end}" for segment in session.segments
    )
    text = f"{session_id}: gen {session.generation}, committed {session.committed}"
    if owners:
        text += f", segments [{owners}]"
    if session.registered is not None:
        text += f", registered {_name(session.registered)}"
    if session.in_flight is not None:
        running = session.in_flight
        text += f", in flight {_name(running.agent)}@{running.captured_generation}"
    if session.follow_up_through:
        text += f", follow-up owed to {session.follow_up_through}"
    return text


def _name(agent: object) -> str:
    return getattr(agent, "name", None) or ("none" if agent is None else repr(agent))


def _shown(outcome: Any) -> str:
    if outcome is None:
        return "none"
    if isinstance(outcome, Outcome):
        return outcome.name
    return type(outcome).__name__ if isinstance(outcome, BaseException) else repr(outcome)


class LifecycleMachine(RuleBasedStateMachine):
    """Runs one fresh target against the model; subclass with ``make_target`` set."""

    make_target: ClassVar[Callable[[], Target]]

    def __init__(self) -> None:
        super().__init__()
        self.target = type(self).make_target()
        self.provider = Provider()
        self.agents = {
            session_id: [
                self.provider.agent(session_id, f"{session_id}.a{index}")
                for index in range(AGENTS_PER_SESSION)
            ]
            for session_id in SESSIONS
        }
        self.model: dict[str, Session | None] = dict.fromkeys(SESSIONS)
        self.shutdown = Shutdown()
        self.call_ids = itertools.count(1)
        self.modes = dict.fromkeys(SESSIONS, "ok")
        self.held: dict[str, HeldCommit] = {}
        self.last_end: dict[str, str | None] = dict.fromkeys(SESSIONS)
        self.steps: list[TraceStep] = []
        self.findings: list[tuple[str, str]] = []
        self.prior_end: dict[str, str | None] = dict(self.last_end)
        self.origin = object()
        """Marks the threads of this run (see ``origin_tracking``)."""
        self.own_threads: set[threading.Thread] = set()
        self.script: list[Step] = []
        self.in_step = False
        self.chosen: Any = None
        """Threads the machine started (a hung call's thread is not the target's)."""

    # --- the model side ---------------------------------------------------------------

    def _feed(self, session_id: str, event: SessionEvent) -> tuple[tuple[Effect, ...], Result]:
        moved = step_session(self.model[session_id], event, self.shutdown)
        self.model[session_id] = moved.session
        self.shutdown = moved.shutdown
        return moved.effects, moved.result

    def _request(self, session_id: str, **fields: Any) -> tuple[tuple[Effect, ...], Result]:
        """Feed a commit request with a fresh call id."""
        return self._feed(session_id, CommitRequested(session_id, next(self.call_ids), **fields))

    def _end_call(self, session_id: str, call_id: int, how: str, context: Context) -> None:
        """Feed a provider call's end, then any follow-up commits it starts."""
        while True:
            event: SessionEvent
            if how == "ok":
                event = CommitSucceeded(session_id, call_id)
            else:
                event = CommitFailed(session_id, call_id, how == "abort")
            self.last_end[session_id] = None if how == "ok" else how
            effects, _ = self._feed(session_id, event)
            if not any(type(effect) is StartFollowUp for effect in effects):
                return
            context.follow_up = True
            effects, result = self._request(session_id, follow_up=True)
            if result is not Outcome.STARTED:
                return
            call = effects[0]
            assert isinstance(call, CallProvider)
            calls = context.calls.setdefault(session_id, [])
            context.follow_up_from.setdefault(session_id, len(calls))
            calls.append(_name(call.agent))
            call_id, how = call.call_id, self.modes[session_id]

    def _predict_commit(
        self,
        session_id: str,
        agent: object | None,
        wait: bool,
        timeout: float | None,
        context: Context,
    ) -> Result:
        """The model's outcome of a synchronous commit on the machine's thread."""
        effects, result = self._request(
            session_id, agent=agent, wait=wait, now=0.0, deadline=0.0 if wait else None
        )
        if result is Outcome.TIMED_OUT:
            result = Outcome.BUSY
        if result is not Outcome.STARTED:
            return result
        call = effects[0]
        assert isinstance(call, CallProvider)
        context.calls.setdefault(session_id, []).append(_name(call.agent))
        how = self.modes[session_id]
        context.ended = how
        self._end_call(session_id, call.call_id, how, context)
        return {"ok": Outcome.COMMITTED, "fail": Outcome.FAILED}.get(how, Outcome.FAILED)

    # --- the target side --------------------------------------------------------------

    def _record(self, actor: str, action: str, result: str, session_id: str | None) -> None:
        state = "" if session_id is None else _describe(session_id, self.model[session_id])
        self.steps.append(TraceStep(actor, action, result, state))

    def _find(self, property_id: str, message: str) -> None:
        self.findings.append((property_id, message))

    def _hang(self, what: str, sessions: Sequence[str], default: str = "L3") -> None:
        """Report a hang: S3 when a session it touched was left by a BaseException."""
        aborted = [sid for sid in sessions if self.prior_end.get(sid) == "abort"]
        if aborted:
            self._find(
                "S3",
                f"{what}: session {aborted[0]!r} stays wedged after its provider raised a "
                f"BaseException",
            )
        else:
            self._find(default, what)

    def _call(self, function: Callable[[], Any], what: str, session_id: str) -> Any:
        """Call the target with a bound; a hang is a finding (returns None)."""
        call = BoundedCall(function, origin=self.origin)
        self.own_threads.add(call.thread)
        outcome = call.start().result(CALL_BOUND)
        if outcome.hung:
            self._hang(f"{what} did not return within {CALL_BOUND:g} s", (session_id,))
            return None
        if outcome.error is not None:
            return outcome.error
        return outcome.value

    def _settle(self, context: Context, call_start: int, threads: set[threading.Thread]) -> None:
        """Wait for the rule's background work, then compare everything with the model."""
        alive = join_new_threads(threads | self.own_threads, CALL_BOUND, self.origin)
        if alive:
            names = ", ".join(thread.name for thread in alive)
            self._find("L3", f"thread(s) started by the target still running: {names}")
        observed: dict[str, list[str]] = {}
        for item in self.provider.calls_since(call_start):
            observed.setdefault(item.session_id, []).append(item.agent_name)
            if item.overlapping:
                self._find(
                    "S5",
                    f"two provider calls of session {item.session_id!r} ran at once "
                    f"(second on {item.agent_name})",
                )
        for session_id in SESSIONS:
            self._compare_calls(
                session_id, context.calls.get(session_id, []), observed.get(session_id, []), context
            )
        for session_id in SESSIONS:
            self._compare_dirty(session_id, context)

    def _compare_calls(
        self, session_id: str, predicted: list[str], observed: list[str], context: Context
    ) -> None:
        if session_id not in context.acted and observed:
            self._find(
                "S6", f"{context.rule} on {context.acted} called the provider of {session_id!r}"
            )
            return
        if context.unordered:
            extra = sorted(set(observed) - set(predicted))
            session = self.model[session_id]
            if extra:
                clean = not predicted
                self._find(
                    "S9" if clean else "S4",
                    f"drain called {', '.join(extra)} for {session_id!r}; the model calls "
                    f"{', '.join(predicted) or 'nobody'} ({_describe(session_id, session)})",
                )
            return
        if predicted == observed:
            return
        index = next(
            (
                n
                for n, pair in enumerate(zip(predicted, observed, strict=False))
                if pair[0] != pair[1]
            ),
            min(len(predicted), len(observed)),
        )
        where = f"in {context.rule} on {session_id!r}"
        shown = f"provider calls {observed or 'none'}, model predicts {predicted or 'none'}"
        if index < len(predicted) and index < len(observed):
            self._find(
                "S3" if self._failed_before(session_id, context) else "S4",
                f"{where}: provider called on {observed[index]}, but the segment belongs to "
                f"{predicted[index]} ({shown})",
            )
        elif len(observed) > len(predicted):
            result = context.predicted_result
            session = self.model[session_id]
            if session is None or session.generation == 0 or context.rule == "complete_turn":
                self._find("S1", f"{where}: provider called with no completed turn ({shown})")
            elif result in (Outcome.BUSY, Outcome.TIMED_OUT):
                self._find("S5", f"{where}: provider called while a call was in flight ({shown})")
            elif predicted and observed[len(predicted)] == predicted[-1]:
                self._find(
                    "S10",
                    f"{where}: one owner's consecutive turns took more than one provider call "
                    f"({shown})",
                )
            else:
                self._find("S9", f"{where}: provider called with nothing new to commit ({shown})")
        elif index >= context.follow_up_from.get(session_id, len(predicted)):
            self._find(
                "L1",
                f"{where}: the commit requested while busy was never carried out ({shown})",
            )
        elif self._failed_before(session_id, context):
            self._find(
                "S3", f"{where}: after a failed call the work can no longer be committed ({shown})"
            )
        else:
            self._find("S4", f"{where}: the owner's provider was not called ({shown})")

    def _compare_dirty(self, session_id: str, context: Context) -> None:
        seen = self._call(
            lambda: self.target.has_uncommitted_work(session_id),
            f"has_uncommitted_work({session_id!r})",
            session_id,
        )
        session = self.model[session_id]
        expected = session is not None and session.generation > session.committed
        if seen is expected or (isinstance(seen, bool) and seen == expected):
            return
        self._record("host", f"has_uncommitted_work({session_id!r})", _shown(seen), session_id)
        where = f"after {context.rule} on {', '.join(context.acted) or 'all sessions'}"
        text = (
            f"has_uncommitted_work({session_id!r}) is {_shown(seen)} {where}; "
            f"the model says {expected} ({_describe(session_id, session)})"
        )
        if session_id not in context.acted:
            self._find("S6", text)
        elif not isinstance(seen, bool):
            self._find("S7", text)
        elif expected:
            if context.rule == "discard":
                self._find("S8", text)
            elif context.rule == "drain":
                # The drain's calls of this session end as its provider mode says.
                called = bool(context.calls.get(session_id))
                how = self.modes[session_id] if called else None
                self._find({"ok": "S2", "fail": "S3"}.get(how or "", "S7"), text)
            elif context.ended == "ok":
                self._find("S2", text)
            elif self._failed_before(session_id, context):
                self._find("S3", text)
            else:
                self._find("S7", text)
        elif context.rule == "complete_turn":
            self._find("S1", text)
        elif context.rule == "drain":
            self._find("L2", text)
        elif context.follow_up:
            self._find("L1", text)
        elif context.ended == "ok":
            self._find("S10", text)
        else:
            self._find("S7", text)

    def _begin(self) -> tuple[int, set[threading.Thread]]:
        self.findings = []
        self.prior_end = dict(self.last_end)
        return self.provider.call_count(), set(threading.enumerate())

    def _failed_before(self, session_id: str, context: Context) -> bool:
        """True when the session's last provider call (before or in this rule) failed."""
        return self.prior_end.get(session_id) is not None or context.ended in ("fail", "abort")

    def _agent(self, session_id: str, index: int | None) -> FakeAgent | None:
        return None if index is None else self.agents[session_id][index]

    # --- rules ------------------------------------------------------------------------

    @initialize(registered=st.booleans())
    @_scripted
    def start(self, registered: bool) -> None:
        """Most runs begin with an agent registered in every session (fewer ownerless turns)."""
        if registered:
            for session_id in SESSIONS:
                self.register(session_id, 0)

    @rule(session_id=st.sampled_from(SESSIONS), index=st.integers(0, AGENTS_PER_SESSION - 1))
    @_scripted
    def register(self, session_id: str, index: int) -> None:
        start, threads = self._begin()
        agent = self.agents[session_id][index]
        self._feed(session_id, RegisterAgent(session_id, agent))
        seen = self._call(
            lambda: self.target.register_agent(session_id, agent), "register_agent()", session_id
        )
        self._record(
            "host", f"register_agent({session_id!r}, {agent.name})", _shown(seen), session_id
        )
        self._settle(Context((session_id,), "register"), start, threads)

    @rule(session_id=st.sampled_from(SESSIONS))
    @_scripted
    def unregister(self, session_id: str) -> None:
        start, threads = self._begin()
        self._feed(session_id, UnregisterAgent(session_id))
        seen = self._call(
            lambda: self.target.unregister_agent(session_id), "unregister_agent()", session_id
        )
        self._record("host", f"unregister_agent({session_id!r})", _shown(seen), session_id)
        self._settle(Context((session_id,), "unregister"), start, threads)

    @rule(
        session_id=st.sampled_from(SESSIONS),
        index=st.none() | st.integers(0, AGENTS_PER_SESSION - 1),
        ephemeral=st.booleans(),
    )
    @_scripted
    def complete_turn(self, session_id: str, index: int | None, ephemeral: bool) -> None:
        start, threads = self._begin()
        ephemeral = ephemeral and self.target.has_ephemeral
        agent = self._agent(session_id, index)
        _, expected = self._feed(session_id, TurnCompleted(session_id, agent, ephemeral))
        seen = self._call(
            lambda: self.target.mark_turn_completed(session_id, agent, ephemeral),
            "mark_turn_completed()",
            session_id,
        )
        flag = ", ephemeral=True" if ephemeral else ""
        self._record(
            "host",
            f"mark_turn_completed({session_id!r}, agent={_name(agent)}{flag})",
            _shown(seen),
            session_id,
        )
        if seen != expected:
            self._find(
                "S1" if ephemeral else "S7",
                f"mark_turn_completed({session_id!r}{flag}) returned {_shown(seen)}; "
                f"the generation is {expected}",
            )
        self._settle(Context((session_id,), "complete_turn"), start, threads)

    @rule(session_id=st.sampled_from(SESSIONS), mode=st.sampled_from(MODES))
    @_scripted
    def set_provider_mode(self, session_id: str, mode: str) -> None:
        self.findings = []
        self.modes[session_id] = mode
        self.provider.modes[session_id] = mode
        self._record("provider", f"calls of {session_id!r} now end with {mode!r}", "", None)

    @rule(
        session_id=st.sampled_from(SESSIONS),
        index=st.none() | st.integers(0, AGENTS_PER_SESSION - 1),
        wait=st.booleans(),
        timeout=st.sampled_from([None, 0.0, -1.0, SHORT_TIMEOUT]),
    )
    @_scripted
    def commit(self, session_id: str, index: int | None, wait: bool, timeout: float | None) -> None:
        start, threads = self._begin()
        session = self.model[session_id]
        if wait and timeout is None and session is not None and session.in_flight is not None:
            timeout = SHORT_TIMEOUT
        agent = self._agent(session_id, index)
        context = Context((session_id,), "commit")
        expected = self._predict_commit(session_id, agent, wait, timeout, context)
        context.predicted_result = expected
        seen = self._call(
            lambda: self.target.commit(session_id, agent, wait, timeout),
            "commit_session_memory()",
            session_id,
        )
        self._record(
            "host",
            f"commit_session_memory({session_id!r}, {_name(agent)}, wait={wait}, "
            f"timeout={timeout})",
            f"{_shown(seen)} (model: {_shown(expected)})",
            session_id,
        )
        called = any(item.session_id == session_id for item in self.provider.calls_since(start))
        self._check_commit_result(session_id, seen, expected, context, called)
        self._settle(context, start, threads)

    def _check_commit_result(
        self, session_id: str, seen: Any, expected: Result, context: Context, called: bool
    ) -> None:
        if context.ended == "abort" and expected is Outcome.FAILED:
            if called and not isinstance(seen, ProviderAbort):
                self._find(
                    "S3",
                    f"the provider's BaseException was not re-raised by the commit of "
                    f"{session_id!r} (got {_shown(seen)})",
                )
            return
        want = expected is Outcome.COMMITTED
        if seen is want:
            return
        text = (
            f"commit of {session_id!r} returned {_shown(seen)}; the model's outcome is {expected}"
        )
        if expected in (Outcome.BUSY, Outcome.TIMED_OUT):
            self._find("S5", text)
        elif expected is Outcome.NOTHING_TO_COMMIT:
            self._find("S9", text)
        elif expected is Outcome.NO_AGENT:
            self._find("S4", text)
        elif expected is Outcome.FAILED or self._failed_before(session_id, context):
            self._find("S3", text)
        else:
            self._find("S7", text)

    @precondition(lambda self: len(self.held) < len(SESSIONS))
    @rule(
        data=st.data(),
        index=st.none() | st.integers(0, AGENTS_PER_SESSION - 1),
        wait=st.booleans(),
        turns_meanwhile=st.integers(0, 2),
    )
    @_scripted
    def begin_held_commit(
        self, data: st.DataObject, index: int | None, wait: bool, turns_meanwhile: int
    ) -> None:
        """Hold a commit in flight; the session's user may complete turns meanwhile."""
        idle = [sid for sid in SESSIONS if sid not in self.held]
        session_id = data.draw(st.sampled_from(idle), label="session_id")
        self.chosen = session_id
        start, threads = self._begin()
        agent = self._agent(session_id, index)
        context = Context((session_id,), "begin_held_commit")
        effects, expected = self._request(session_id, agent=agent, wait=wait)
        context.predicted_result = expected
        hold = self.provider.hold_next(session_id)
        signal = threading.Event()
        hold.notify = signal

        def run() -> Any:
            try:
                return self.target.commit(session_id, agent, wait, None)
            finally:
                signal.set()

        call = BoundedCall(run, f"held commit {session_id}", self.origin)
        self.own_threads.add(call.thread)
        call.start()
        if not signal.wait(CALL_BOUND):
            self._hang(
                f"commit of {session_id!r} neither called the provider nor returned", (session_id,)
            )
        action = f"commit_session_memory({session_id!r}, {_name(agent)}, wait={wait})"
        if hold.entered.is_set():
            if expected is Outcome.STARTED:
                call_effect = effects[0]
                assert isinstance(call_effect, CallProvider)
                context.calls[session_id] = [_name(call_effect.agent)]
                self.held[session_id] = HeldCommit(hold, call, call_effect.call_id)
            else:
                hold.finish("ok")
                call.result(CALL_BOUND)
            self._record(
                f"thread {session_id}",
                action,
                f"provider call on {hold.agent_name} held in flight",
                session_id,
            )
        else:
            self.provider.cancel_hold(session_id)
            if expected is Outcome.STARTED:
                call_effect = effects[0]
                assert isinstance(call_effect, CallProvider)
                context.calls[session_id] = [_name(call_effect.agent)]
                # The model runs the call; the target did not: end it as the model would.
                self._end_call(session_id, call_effect.call_id, "ok", context)
            seen = call.result(CALL_BOUND).value
            self._record(
                f"thread {session_id}",
                action,
                f"{_shown(seen)} (model: {_shown(expected)})",
                session_id,
            )
        self._settle(context, start, threads)
        for _ in range(turns_meanwhile):
            if self.findings or session_id not in self.held:
                return
            self.complete_turn(session_id, None, False)

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), how=st.sampled_from(MODES))
    @_scripted
    def release_held_commit(self, data: st.DataObject, how: str) -> None:
        session_id = data.draw(st.sampled_from(sorted(self.held)), label="session_id")
        self.chosen = session_id
        held = self.held.pop(session_id)
        start, threads = self._begin()
        context = Context((session_id,), "release_held_commit", ended=how)
        held.hold.finish(how)
        outcome = held.call.result(CALL_BOUND)
        if outcome.hung:
            self._hang(
                f"the commit of {session_id!r} did not return after its call ended", (session_id,)
            )
        self._end_call(session_id, held.call_id, how, context)
        seen = outcome.error if outcome.error is not None else outcome.value
        self._record(
            "provider",
            f"held call of {session_id!r} ends with {how!r}",
            f"commit returned {_shown(seen)}",
            session_id,
        )
        if how == "abort":
            if not isinstance(outcome.error, ProviderAbort):
                self._find(
                    "S3",
                    f"the provider's BaseException was not re-raised by the commit of "
                    f"{session_id!r} (got {_shown(seen)})",
                )
        elif not outcome.hung and seen is not (how == "ok"):
            self._find(
                "S2" if how == "ok" else "S3",
                f"the held commit of {session_id!r} returned {_shown(seen)} after its provider "
                f"call ended with {how!r}",
            )
        self._settle(context, start, threads)

    @precondition(lambda self: self.target.has_discard)
    @rule(session_id=st.sampled_from(SESSIONS))
    @_scripted
    def discard(self, session_id: str) -> None:
        start, threads = self._begin()
        _, expected = self._feed(session_id, Discard(session_id))
        seen = self._call(lambda: self.target.discard(session_id), "discard_session()", session_id)
        self._record("host", f"discard_session({session_id!r})", _shown(seen), session_id)
        want = expected in (Outcome.DISCARDED, Outcome.ALREADY_ABSENT)
        if seen is not want:
            self._find(
                "S8" if not want else "L4",
                f"discard_session({session_id!r}) returned {_shown(seen)}; the model's "
                f"outcome is {expected}",
            )
        self._settle(Context((session_id,), "discard"), start, threads)

    def drain_allowed(self) -> bool:
        """Drain only with nothing held and no dirty session whose provider aborts."""
        if not self.target.has_drain or self.held:
            return False
        for session_id, mode in self.modes.items():
            session = self.model[session_id]
            if mode == "abort" and session is not None and session.dirty:
                return False
        return True

    @precondition(lambda self: self.drain_allowed())
    @rule()
    @_scripted
    def drain(self) -> None:
        start, threads = self._begin()
        context = Context(SESSIONS, "drain", unordered=True)
        self._drain_model(context)
        call = BoundedCall(lambda: self.target.drain(DRAIN_DEADLINE), "drain", self.origin)
        self.own_threads.add(call.thread)
        outcome = call.start().result(DRAIN_DEADLINE + CALL_BOUND)
        if outcome.hung:
            self._hang(
                f"drain did not return within its deadline of {DRAIN_DEADLINE:g} s", SESSIONS, "L2"
            )
        self._record(
            "host",
            f"drain_all_on_shutdown({DRAIN_DEADLINE:g})"
            if self.target.drain_takes_deadline
            else "drain_all_on_shutdown()",
            _shown(outcome.error if outcome.error is not None else outcome.value),
            None,
        )
        self._settle(context, start, threads)

    def _live_sessions(self) -> dict[SessionId, Session]:
        """The model's sessions with an entry."""
        return {key: value for key, value in self.model.items() if value is not None}

    def _drain_model(self, context: Context) -> None:
        """The model's drain, with one worker and a clock that never reaches the deadline."""
        started = DrainStarted(now=0.0, deadline=math.inf)
        moved = step_process(self.shutdown, self._live_sessions(), started)
        self.shutdown = moved.shutdown
        queue = [effect.session_id for effect in moved.effects if isinstance(effect, QueueForDrain)]
        while queue:
            session_id = str(queue.pop(0))
            event = DrainNext(session_id, now=0.0, call_id=next(self.call_ids))
            moved = step_process(self.shutdown, self._live_sessions(), event)
            self.shutdown = moved.shutdown
            for key, value in moved.changes:
                self.model[str(key)] = value
            if moved.result is not Outcome.STARTED:
                continue
            call = moved.effects[0]
            assert isinstance(call, CallProvider)
            context.calls.setdefault(session_id, []).append(_name(call.agent))
            event_end: SessionEvent
            if self.modes[session_id] == "ok":
                event_end = CommitSucceeded(session_id, call.call_id)
            else:
                event_end = CommitFailed(
                    session_id, call.call_id, self.modes[session_id] == "abort"
                )
            self.last_end[session_id] = (
                None if self.modes[session_id] == "ok" else self.modes[session_id]
            )
            effects, _ = self._feed(session_id, event_end)
            queue += [e.session_id for e in effects if isinstance(e, QueueForDrain)]
        moved = step_process(self.shutdown, self._live_sessions(), DrainFinished())
        self.shutdown = moved.shutdown
        for key, value in moved.changes:
            self.model[str(key)] = value

    # --- invariants: one per property, checked after every rule -----------------------

    def first_finding(self) -> tuple[str, str] | None:
        """The rule's finding that names the violation, if any (``PRIORITY`` order)."""
        if not self.findings:
            return None
        return min(self.findings, key=lambda item: PRIORITY.index(item[0]))

    def can_replay(self, name: str, arguments: dict[str, Any]) -> bool:
        """True when a recorded step is possible in the current state."""
        chosen = arguments.get("data")
        session_id = chosen.value if isinstance(chosen, _Chosen) else None
        if name == "begin_held_commit":
            return session_id not in self.held
        if name == "release_held_commit":
            return session_id in self.held
        if name == "drain":
            return self.drain_allowed()
        if name == "discard":
            return self.target.has_discard
        return True

    def _assert_holds(self, property_id: str) -> None:
        """Raise when ``property_id`` is the rule's first finding in ``PRIORITY`` order."""
        if not self.findings:
            return
        found, message = min(self.findings, key=lambda item: PRIORITY.index(item[0]))
        if found == property_id:
            raise PropertyViolation(property_id, message, self.steps, self.script)

    @invariant()
    def never_hangs_L3(self) -> None:
        self._assert_holds("L3")

    @invariant()
    def one_call_in_flight_S5(self) -> None:
        self._assert_holds("S5")

    @invariant()
    def sessions_isolated_S6(self) -> None:
        self._assert_holds("S6")

    @invariant()
    def completed_turns_only_S1(self) -> None:
        self._assert_holds("S1")

    @invariant()
    def owner_commits_its_segment_S4(self) -> None:
        self._assert_holds("S4")

    @invariant()
    def failed_work_stays_dirty_S3(self) -> None:
        self._assert_holds("S3")

    @invariant()
    def generation_never_lost_S2(self) -> None:
        self._assert_holds("S2")

    @invariant()
    def discard_keeps_dirty_S8(self) -> None:
        self._assert_holds("S8")

    @invariant()
    def no_call_without_work_S9(self) -> None:
        self._assert_holds("S9")

    @invariant()
    def turns_coalesced_S10(self) -> None:
        self._assert_holds("S10")

    @invariant()
    def busy_request_honoured_L1(self) -> None:
        self._assert_holds("L1")

    @invariant()
    def drain_commits_everything_L2(self) -> None:
        self._assert_holds("L2")

    @invariant()
    def discard_frees_entry_L4(self) -> None:
        self._assert_holds("L4")

    @invariant()
    def counts_well_formed_S7(self) -> None:
        self._assert_holds("S7")

    def teardown(self) -> None:
        for held in self.held.values():
            held.hold.finish("ok")
        for held in self.held.values():
            held.call.result(CALL_BOUND)
        self.held.clear()


def lifecycle_machine(factory: TargetFactory) -> type[LifecycleMachine]:
    """A ``LifecycleMachine`` subclass that checks targets made by ``factory``."""
    return type("LifecycleMachine", (LifecycleMachine,), {"make_target": staticmethod(factory)})


@dataclass
class StatefulResult:
    """What a stateful run found: violations (shrunk), or an error of the harness."""

    violations: list[PropertyViolation]
    error: BaseException | None = None


def replay_script(factory: TargetFactory, script: Sequence[Step]) -> PropertyViolation | None:
    """Run recorded steps on a fresh machine; the violation they show, if any."""
    machine = lifecycle_machine(factory)()
    try:
        for name, arguments in script:
            if not machine.can_replay(name, arguments):
                return None
            getattr(machine, name)(**arguments)
            found = machine.first_finding()
            if found is not None:
                return PropertyViolation(found[0], found[1], machine.steps, machine.script)
        return None
    finally:
        machine.teardown()


def minimise(
    factory: TargetFactory, violation: PropertyViolation, seconds: float
) -> PropertyViolation:
    """Delete steps (halves, quarters, ... single steps) while the same property still fails.

    Hypothesis shrinks the choices that generate a run; this works on the run
    itself, which removes steps Hypothesis keeps when a failing replay is slow
    (a hang costs its whole bound).
    """
    best = violation
    script = list(violation.script)
    ends_at = time.monotonic() + seconds
    chunk = max(1, len(script) // 2)
    while script and time.monotonic() < ends_at:
        index, changed = 0, False
        while index < len(script) and time.monotonic() < ends_at:
            candidate = script[:index] + script[index + chunk :]
            found = replay_script(factory, candidate)
            if found is not None and found.property_id == best.property_id:
                best, script, changed = found, list(found.script), True
            else:
                index += chunk
        if chunk == 1 and not changed:
            break
        chunk = max(1, chunk // 2)
    return best


@contextmanager
def _shrink_limit(seconds: float) -> Iterator[None]:
    """Bound Hypothesis's shrinking time (its engine reads this module global per run)."""
    previous = getattr(_engine, "MAX_SHRINKING_SECONDS", None)
    if previous is None:
        yield
        return
    _engine.MAX_SHRINKING_SECONDS = int(max(1.0, seconds))
    try:
        yield
    finally:
        _engine.MAX_SHRINKING_SECONDS = previous


def _flatten(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _flatten(inner)]
    return [error]


def run_stateful(
    factory: TargetFactory,
    *,
    max_examples: int,
    step_count: int,
    seed_value: int = 0,
    shrink: bool = True,
    shrink_seconds: float = 60.0,
) -> StatefulResult:
    """Run the comparison with a fixed seed; return the violation found, shrunk.

    One violation per run: shrinking several distinct failures at once costs far
    more than it tells (the probes give every property its own verdict).

    Shrinking stops after ``shrink_seconds`` (the smallest example found so far
    is reported).
    """
    phases = [phase for phase in Phase if shrink or phase is not Phase.shrink]
    test_settings = settings(
        max_examples=max_examples,
        stateful_step_count=step_count,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        phases=phases,
    )
    machine = lifecycle_machine(factory)
    test = seed(seed_value)(get_state_machine_test(machine, settings=test_settings))
    try:
        with with_reporter(lambda _text: None), _shrink_limit(shrink_seconds), origin_tracking():
            test()
    except BaseException as error:
        found = _flatten(error)
        violations = [item for item in found if isinstance(item, PropertyViolation)]
        others = [item for item in found if not isinstance(item, PropertyViolation)]
        if isinstance(error, KeyboardInterrupt):
            raise
        with origin_tracking():
            violations = [minimise(factory, item, shrink_seconds) for item in violations]
        return StatefulResult(violations, others[0] if others else None)
    return StatefulResult([])
