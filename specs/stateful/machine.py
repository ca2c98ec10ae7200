"""The Hypothesis state machine that drives a target and the model side by side.

``LifecycleMachine`` drives one fresh target of the hermes-webui lifecycle API
(see ``conformance.target`` for the contract) over two sessions with two
scripted agents each. Its rules cover every API call: registration and
re-registration, unregistration, completed turns with and without an explicit
agent (ephemeral ones when the target takes them), commits with and without
waiting and with zero, negative and short timeouts, discard, drain (once per
run), and commits *held in flight*: ``commit(hold=True)`` starts a commit on a
helper thread and stops its provider call, putting the ``HeldCommit`` in the
``held_commits`` bundle; ``release_held_commit`` consumes one: meanwhile the
session's user completes turns and the host may commit at a boundary, then the
call ends with success, an ``Exception`` or a ``BaseException``.

Each rule feeds the same calls to the model (``prediction``), waits (bounded)
for the threads the target started, and records what differs in an
``Observation``: return values, the agents the provider was called on (in
order, per session), follow-up commits, ``has_uncommitted_work`` of every
session, hangs. The invariants, one per property and named after it, check
those discrepancies after every rule and raise ``PropertyViolation`` with a
readable ``Trace``. One discrepancy leads each rule (see ``discrepancy``); an
invariant whose discrepancy is only a symptom of it leaves it to the
invariant of the leading one.

A ``Supervisor`` says which properties a run checks (an invariant's
precondition) and may stop a search. When the leading discrepancy belongs to a
property the run does not check, the run has left the model's track: its
remaining rules do nothing, and no other property is judged on it.

Synchronisation uses Events with bounds only; nothing sleeps to wait.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from memory_lifecycle.specs.trace import show_agent

from ..conformance.fakes import FakeAgent, Hold, Provider, ProviderAbort
from ..conformance.target import (
    BoundedCall,
    Target,
    TargetFactory,
    join_new_threads,
    origin_tracking,
)
from ..properties import ALL, L1, L2, L3, L4, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, Property
from ..trace import Trace, TraceStep
from .discrepancy import (
    CallsDiffer,
    DirtyDiffers,
    Discrepancy,
    Hang,
    Observation,
    Overlap,
    ResultDiffers,
    StrayCall,
    ThreadsLeft,
    shown,
)
from .prediction import Expected, ModelCall, Prediction

SESSIONS = ("s1", "s2")
AGENTS_PER_SESSION = 2
CALL_BOUND = 1.5
"""Seconds any single target call may take before it counts as hung (L3)."""
SHORT_TIMEOUT = 0.02
"""The positive ``timeout`` the commit rule passes (a wait that expires)."""
DRAIN_DEADLINE = 1.0

SESSION = st.sampled_from(SESSIONS)
AGENT = st.integers(0, AGENTS_PER_SESSION - 1)
AGENT_OR_NONE = st.none() | AGENT
TIMEOUT = st.sampled_from([None, 0.0, -1.0, SHORT_TIMEOUT])
ENDS = st.sampled_from(("ok", "ok", "fail", "abort"))
"""How provider calls end (``fakes.MODES``): half succeed, a quarter raise each kind.

A ``BaseException`` wedges a broken target for the rest of the run, so it comes
no more often than an ``Exception``.
"""
EPHEMERAL = st.sampled_from((False, False, False, True))
"""One turn in four is ephemeral (when the target takes them), so it rarely hides the rest."""
TURNS = st.integers(1, 3)
"""Turns completed in a row by one rule: one owner's consecutive turns must coalesce (S10)."""
HUNG = object()
"""What ``LifecycleMachine.call`` returns for a call that did not return in time."""

NEEDS: dict[str, str] = {S8.id: "has_discard", L4.id: "has_discard", L2.id: "has_drain"}
"""Properties the machine reaches only through an optional call: the ``Target`` flag."""

Step = tuple[str, dict[str, Any]]
"""One recorded rule call: the rule's name and its arguments."""


class PropertyViolation(AssertionError):
    """A target broke a property; ``steps`` is the readable counterexample."""

    def __init__(
        self,
        property_id: str,
        message: str,
        steps: Sequence[TraceStep],
        script: Sequence[Step] = (),
    ) -> None:
        super().__init__(f"{property_id} violated: {message}")
        self.property_id = property_id
        self.message = message
        self.steps = tuple(steps)
        self.script = tuple(script)
        """The rule calls that led here (``replay.replay`` runs them again)."""

    def trace(self) -> Trace:
        """The counterexample as the shared ``Trace``."""
        return Trace(self.property_id, self.message, self.steps)


class SearchStopped(KeyboardInterrupt):
    """Ends a search from inside a run: its time or its run budget is spent.

    An interruption, like Ctrl-C: Hypothesis passes it on at once, without
    recording the unfinished run, instead of counting a failure and shrinking it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Supervisor:
    """What a machine checks, and when its search must stop: the default checks all, forever."""

    def __init__(self, checked: Iterable[str] | None = None) -> None:
        self.checked = frozenset(item.id for item in ALL) if checked is None else frozenset(checked)

    def run_started(self) -> None:
        """A run begins; raise ``SearchStopped`` to end the search."""

    def rule_starting(self) -> None:
        """A rule begins; raise ``SearchStopped`` to end the search."""

    def violated(self, violation: PropertyViolation) -> None:
        """A run is about to raise ``violation``."""

    def run_ended(self, steps: int) -> None:
        """A run ended after ``steps`` compared rules (not those after it left the track)."""


@dataclass
class HeldCommit:
    """A commit running on a helper thread whose provider call the machine holds."""

    session_id: str
    hold: Hold
    call: BoundedCall
    model_call: ModelCall

    def __repr__(self) -> str:
        return f"HeldCommit({self.session_id!r})"


@dataclass(frozen=True)
class HeldRef:
    """A held commit in a recorded step: the one of ``session_id`` when replayed."""

    session_id: str


F = TypeVar("F", bound=Callable[..., Any])


def recorded(method: F) -> F:
    """Record each call of a rule in ``machine.script`` (for replaying and minimising)."""

    @functools.wraps(method)
    def record(self: LifecycleMachine, **arguments: Any) -> Any:
        self.script.append(
            (
                method.__name__,
                {
                    key: HeldRef(value.session_id) if isinstance(value, HeldCommit) else value
                    for key, value in arguments.items()
                },
            )
        )
        return method(self, **arguments)

    return record  # type: ignore[return-value]


def guarantees(prop: Property) -> Callable[[F], F]:
    """Mark an invariant with the property it guarantees; it runs only when that is checked."""

    def mark(function: F) -> F:
        checked = precondition(lambda machine: prop.id in machine.supervisor.checked)(function)
        checked.guarantees = prop.id  # type: ignore[attr-defined]
        return checked

    return mark


class LifecycleMachine(RuleBasedStateMachine):
    """Runs one fresh target against the model; ``lifecycle_machine`` makes the subclass."""

    make_target: ClassVar[Callable[[], Target]]
    supervisor: ClassVar[Supervisor] = Supervisor()

    held_commits = Bundle("held_commits")

    def __init__(self) -> None:
        super().__init__()
        type(self).supervisor.run_started()
        self.target = type(self).make_target()
        self.provider = Provider()
        self.agents = {
            session_id: [
                self.provider.agent(session_id, f"{session_id}.a{index}")
                for index in range(AGENTS_PER_SESSION)
            ]
            for session_id in SESSIONS
        }
        self.model = Prediction(SESSIONS)
        self.modes = dict.fromkeys(SESSIONS, "ok")
        self.held: dict[str, HeldCommit] = {}
        self.drained = False
        self.trace: list[TraceStep] = []
        self.script: list[Step] = []
        self.seen = Observation("start", (), {})
        self.steps = 0
        self.left_track = False
        """The run met a discrepancy of a property it does not check: later rules do nothing."""
        self.failed = False
        self.origin = object()
        """Marks the threads of this run; every thread they start inherits it."""
        self._tracking = contextlib.ExitStack()
        self._tracking.enter_context(origin_tracking())
        self.own_threads: set[threading.Thread] = set()
        """Threads the machine started (a held call's thread is not the target's)."""
        self._call_start = 0
        self._threads_before: set[threading.Thread] = set()

    # --- the frame of every rule ------------------------------------------------------

    def begin(
        self, rule_name: str, acted: Sequence[str], *, drain: bool = False
    ) -> Observation | None:
        """Start a rule's observation; None when the run has left the model's track."""
        self._note_unclaimed()
        if self.left_track:
            return None
        type(self).supervisor.rule_starting()
        self.steps += 1
        self.seen = Observation(rule_name, tuple(acted), dict(self.model.failed), drain=drain)
        self._call_start = self.provider.call_count()
        self._threads_before = set(threading.enumerate())
        return self.seen

    def _note_unclaimed(self) -> None:
        """A discrepancy no invariant raised belongs to an unchecked property: leave the track."""
        if self.seen.leading is not None and not self.failed:
            self.left_track = True

    def call(self, function: Callable[[], Any], what: str, session_id: str) -> Any:
        """Call the target with a bound: its value, its exception, or ``HUNG``."""
        call = BoundedCall(function, origin=self.origin)
        self.own_threads.add(call.thread)
        outcome = call.start().result(CALL_BOUND)
        if outcome.hung:
            self.seen.hang(f"{what} did not return within {CALL_BOUND:g} s", (session_id,))
            return HUNG
        return outcome.error if outcome.error is not None else outcome.value

    def record(self, actor: str, action: str, result: str, session_id: str | None) -> None:
        state = "" if session_id is None else self.model.describe(session_id)
        self.trace.append(TraceStep(actor, action, result, state))

    def settle(self) -> None:
        """Wait for the rule's background work, then compare calls and dirty flags."""
        seen = self.seen
        if seen.hung:
            return
        alive = join_new_threads(self._threads_before | self.own_threads, CALL_BOUND, self.origin)
        if alive:
            names = ", ".join(thread.name for thread in alive)
            seen.add(ThreadsLeft(f"thread(s) started by the target still running: {names}"))
            return
        observed: dict[str, list[str]] = {}
        for item in self.provider.calls_since(self._call_start):
            observed.setdefault(item.session_id, []).append(item.agent_name)
            if item.overlapping:
                seen.add(
                    Overlap(
                        f"two provider calls of session {item.session_id!r} ran at once "
                        f"(second on {item.agent_name})",
                        item.session_id,
                    )
                )
        for session_id in SESSIONS:
            seen.compare_calls(
                session_id,
                observed.get(session_id, []),
                self.model.has_turns(session_id),
                self.model.describe(session_id),
            )
        for session_id in SESSIONS:
            value = self.call(
                lambda sid=session_id: self.target.has_uncommitted_work(sid),  # type: ignore[misc]
                f"has_uncommitted_work({session_id!r})",
                session_id,
            )
            if value is HUNG:
                return
            expected = self.model.dirty(session_id)
            before = len(seen.discrepancies)
            seen.compare_dirty(session_id, expected, value, self.model.describe(session_id))
            if len(seen.discrepancies) > before:
                self.record(
                    "host", f"has_uncommitted_work({session_id!r})", shown(value), session_id
                )

    def agent(self, session_id: str, index: int | None) -> FakeAgent | None:
        return None if index is None else self.agents[session_id][index]

    # --- rules ------------------------------------------------------------------------

    @initialize(registered=st.booleans())
    @recorded
    def start(self, registered: bool) -> None:
        """Most runs begin with an agent registered in every session (fewer ownerless turns)."""
        if not registered or self.begin("start", SESSIONS) is None:
            return
        for session_id in SESSIONS:
            self._register(session_id, self.agents[session_id][0])
        self.settle()

    @rule(session_id=SESSION, index=AGENT_OR_NONE)
    @recorded
    def register(self, session_id: str, index: int | None) -> None:
        """Register one of the session's agents, or (``index`` None) unregister it."""
        if self.begin("register", (session_id,)) is None:
            return
        if index is None:
            self.model.unregister(session_id)
            value = self.call(
                lambda: self.target.unregister_agent(session_id), "unregister_agent()", session_id
            )
            self.record("host", f"unregister_agent({session_id!r})", shown(value), session_id)
        else:
            self._register(session_id, self.agents[session_id][index])
        self.settle()

    def _register(self, session_id: str, agent: FakeAgent) -> None:
        self.model.register(session_id, agent)
        value = self.call(
            lambda: self.target.register_agent(session_id, agent), "register_agent()", session_id
        )
        self.record(
            "host", f"register_agent({session_id!r}, {agent.name})", shown(value), session_id
        )

    @rule(session_id=SESSION, index=AGENT_OR_NONE, ephemeral=EPHEMERAL, turns=TURNS)
    @recorded
    def complete_turn(
        self, session_id: str, index: int | None, ephemeral: bool, turns: int
    ) -> None:
        """The session's user completes one or more turns in a row, with one agent."""
        if self.begin("complete_turn", (session_id,)) is None:
            return
        for _ in range(turns):
            if self.seen.hung:
                break
            self._turn(session_id, self.agent(session_id, index), ephemeral)
        self.settle()

    def _turn(self, session_id: str, agent: FakeAgent | None, ephemeral: bool) -> None:
        ephemeral = ephemeral and self.target.has_ephemeral
        expected = self.model.turn(session_id, agent, ephemeral)
        value = self.call(
            lambda: self.target.mark_turn_completed(session_id, agent, ephemeral),
            "mark_turn_completed()",
            session_id,
        )
        flag = ", ephemeral=True" if ephemeral else ""
        self.record(
            "host",
            f"mark_turn_completed({session_id!r}, agent={show_agent(agent)}{flag})",
            shown(value),
            session_id,
        )
        if value is not HUNG:
            self.seen.compare_turn(session_id, expected, value, ephemeral)

    @rule(session_id=SESSION, mode=ENDS)
    @recorded
    def set_provider_mode(self, session_id: str, mode: str) -> None:
        if self.begin("set_provider_mode", ()) is None:
            return
        self.modes[session_id] = mode
        self.provider.modes[session_id] = mode
        self.record("provider", f"calls of {session_id!r} now end with {mode!r}", "", None)

    @rule(
        target=held_commits,
        session_id=SESSION,
        index=AGENT_OR_NONE,
        wait=st.booleans(),
        timeout=TIMEOUT,
        hold=st.booleans(),
    )
    @recorded
    def commit(
        self, session_id: str, index: int | None, wait: bool, timeout: float | None, hold: bool
    ) -> Any:
        """A commit; with ``hold``, of a dirty session with no call running, on a helper thread.

        A held commit's provider call stays in flight (the ``HeldCommit`` goes to
        ``held_commits``) until ``release_held_commit`` ends it.
        """
        if hold and self.model.dirty(session_id) and not self.model.in_flight(session_id):
            return self._hold(session_id, index, wait)
        if self.begin("commit", (session_id,)) is not None:
            self._commit(session_id, index, wait, timeout)
            self.settle()
        return multiple()

    def _commit(
        self, session_id: str, index: int | None, wait: bool, timeout: float | None
    ) -> None:
        seen = self.seen
        if wait and timeout is None and self.model.in_flight(session_id):
            timeout = SHORT_TIMEOUT
        agent = self.agent(session_id, index)
        expected = self.model.commit(session_id, agent, wait, self.modes, seen.forecast)
        seen.expected = expected
        value = self.call(
            lambda: self.target.commit(session_id, agent, wait, timeout),
            "commit_session_memory()",
            session_id,
        )
        self.record(
            "host",
            f"commit_session_memory({session_id!r}, {show_agent(agent)}, wait={wait}, "
            f"timeout={timeout})",
            f"{shown(value)} (model: {expected.name})",
            session_id,
        )
        if value is not HUNG:
            called = any(
                item.session_id == session_id
                for item in self.provider.calls_since(self._call_start)
            )
            seen.compare_commit(
                session_id,
                expected,
                value,
                aborted=seen.ended(session_id) == "abort",
                reraised=isinstance(value, ProviderAbort),
                called=called,
            )

    def _hold(self, session_id: str, index: int | None, wait: bool) -> Any:
        """Start a commit on a helper thread and hold its provider call in flight."""
        seen = self.begin("held commit", (session_id,))
        if seen is None:
            return multiple()
        agent = self.agent(session_id, index)
        expected, model_call = self.model.begin_commit(session_id, agent, wait)
        seen.expected = expected
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
            seen.hang(
                f"commit of {session_id!r} neither called the provider nor returned", (session_id,)
            )
        action = f"commit_session_memory({session_id!r}, {show_agent(agent)}, wait={wait})"
        held: HeldCommit | None = None
        if hold.entered.is_set():
            if model_call is not None:
                seen.forecast.add(model_call)
                held = HeldCommit(session_id, hold, call, model_call)
                self.held[session_id] = held
            else:
                hold.finish("ok")
                call.result(CALL_BOUND)
            self.record(
                f"thread {session_id}",
                action,
                f"provider call on {hold.agent_name} held in flight",
                session_id,
            )
        else:
            self.provider.cancel_hold(session_id)
            if model_call is not None:
                # The model runs the call; the target did not: end it as the model would.
                seen.forecast.add(model_call)
                self.model.end_call(model_call, "ok", self.modes, seen.forecast)
            value = HUNG if seen.hung else call.result(CALL_BOUND).value
            self.record(
                f"thread {session_id}",
                action,
                f"{shown(value)} (model: {expected.name})",
                session_id,
            )
        self.settle()
        return multiple() if held is None else held

    @rule(
        held=consumes(held_commits),
        turns=st.integers(0, 3),
        index=AGENT_OR_NONE,
        boundary=st.booleans(),
        wait=st.booleans(),
        timeout=TIMEOUT,
        how=ENDS,
    )
    @recorded
    def release_held_commit(
        self,
        held: HeldCommit,
        turns: int,
        index: int | None,
        boundary: bool,
        wait: bool,
        timeout: float | None,
        how: str,
    ) -> None:
        """While a held call runs, the user completes turns and the host may commit; then it ends.

        The turns must survive the call (S2) and coalesce with the owner's
        earlier ones (S10); a commit at this boundary finds the call running,
        and the work must be committed once it ends (L1). The call ends with
        success, an ``Exception`` or a ``BaseException`` (``how``).
        """
        session_id = held.session_id
        seen = self.begin("release_held_commit", (session_id,))
        if seen is None:
            return
        for _ in range(turns):
            self._turn(session_id, self.agent(session_id, index), False)
            if seen.hung:
                self.settle()
                return
        if boundary:
            self._commit(session_id, None, wait, timeout)
            if seen.hung:
                self.settle()
                return
            seen.forecast.ended.pop(session_id, None)
            seen.expected = None
        self.held.pop(session_id, None)
        seen.forecast.ended[session_id] = how
        held.hold.finish(how)
        outcome = held.call.result(CALL_BOUND)
        if outcome.hung:
            seen.hang(
                f"the commit of {session_id!r} did not return after its call ended", (session_id,)
            )
        self.model.end_call(held.model_call, how, self.modes, seen.forecast)
        value = outcome.error if outcome.error is not None else outcome.value
        self.record(
            "provider",
            f"held call of {session_id!r} ends with {how!r}",
            f"commit returned {shown(value)}",
            session_id,
        )
        if not outcome.hung:
            seen.compare_release(session_id, how, value, reraised=isinstance(value, ProviderAbort))
        self.settle()

    def may_discard(self) -> bool:
        return self.target.has_discard

    @precondition(lambda self: self.may_discard())
    @rule(session_id=SESSION)
    @recorded
    def discard(self, session_id: str) -> None:
        seen = self.begin("discard", (session_id,))
        if seen is None:
            return
        expected = self.model.discard(session_id)
        value = self.call(lambda: self.target.discard(session_id), "discard_session()", session_id)
        self.record("host", f"discard_session({session_id!r})", shown(value), session_id)
        if value is not HUNG:
            seen.compare_discard(session_id, expected, value)
        self.settle()

    def may_drain(self) -> bool:
        """Drain once per run (it is the shutdown), with nothing held and no provider set to abort
        in a dirty session."""
        if not self.target.has_drain or self.drained or self.held:
            return False
        return not any(
            mode == "abort" and self.model.dirty(session_id)
            for session_id, mode in self.modes.items()
        )

    @precondition(lambda self: self.may_drain())
    @rule()
    @recorded
    def drain(self) -> None:
        seen = self.begin("drain", SESSIONS, drain=True)
        if seen is None:
            return
        self.drained = True
        self.model.drain(self.modes, seen.forecast)
        call = BoundedCall(lambda: self.target.drain(DRAIN_DEADLINE), "drain", self.origin)
        self.own_threads.add(call.thread)
        outcome = call.start().result(DRAIN_DEADLINE + CALL_BOUND)
        if outcome.hung:
            seen.hang(
                f"drain did not return within its deadline of {DRAIN_DEADLINE:g} s",
                SESSIONS,
                drain=True,
            )
        self.record(
            "host",
            f"drain_all_on_shutdown({DRAIN_DEADLINE:g})"
            if self.target.drain_takes_deadline
            else "drain_all_on_shutdown()",
            shown(outcome.error if outcome.error is not None else outcome.value),
            None,
        )
        self.settle()

    # --- invariants: one per property, checked after every rule -----------------------

    def breaks(self, prop: Property, found: Discrepancy) -> None:
        """Fail the run when ``found`` leads the rule's discrepancies (else it is a symptom)."""
        if found is not self.seen.leading:
            return
        violation = PropertyViolation(prop.id, found.message, self.trace, self.script)
        self.failed = True
        type(self).supervisor.violated(violation)
        raise violation

    def found(self, kind: type[Discrepancy]) -> list[Any]:
        """The rule's discrepancies of one kind."""
        return [item for item in self.seen.discrepancies if isinstance(item, kind)]

    def commits_expected(self, *answers: Expected) -> list[ResultDiffers]:
        """The rule's commits that returned otherwise where the model answers one of
        ``answers`` (an abort the target swallowed is S3's, whatever the answer)."""
        return [
            result
            for result in self.found(ResultDiffers)
            if result.call == "commit" and not result.abort_swallowed and result.expected in answers
        ]

    @guarantees(L3)
    @invariant()
    def calls_return_L3(self) -> None:
        """L3: every call returns within its bound and leaves no thread of its own running."""
        for hang in self.found(Hang):
            if not hang.wedged and not hang.drain:
                self.breaks(L3, hang)
        for left in self.found(ThreadsLeft):
            self.breaks(L3, left)

    @guarantees(S5)
    @invariant()
    def one_call_at_a_time_S5(self) -> None:
        """S5: a session's calls never overlap; a commit finding one running does not succeed."""
        for overlap in self.found(Overlap):
            self.breaks(S5, overlap)
        for calls in self.found(CallsDiffer):
            if calls.difference == "extra" and not calls.no_turn_yet and calls.while_busy:
                self.breaks(S5, calls)
        for result in self.commits_expected(Expected.BUSY, Expected.TIMED_OUT):
            self.breaks(S5, result)

    @guarantees(S6)
    @invariant()
    def sessions_isolated_S6(self) -> None:
        """S6: acting on one session never calls another's provider or changes its dirty flag."""
        for stray in self.found(StrayCall):
            self.breaks(S6, stray)
        for dirty in self.found(DirtyDiffers):
            if dirty.other_session:
                self.breaks(S6, dirty)

    @guarantees(S1)
    @invariant()
    def only_completed_turns_count_S1(self) -> None:
        """S1: only completed, non-ephemeral turns make work; a turn alone calls no provider."""
        for calls in self.found(CallsDiffer):
            if calls.difference == "extra" and calls.no_turn_yet:
                self.breaks(S1, calls)
        for result in self.found(ResultDiffers):
            if result.call == "turn" and result.ephemeral:
                self.breaks(S1, result)
        for dirty in self.found(DirtyDiffers):
            if dirty.work_appeared and dirty.rule == "complete_turn":
                self.breaks(S1, dirty)

    @guarantees(S3)
    @invariant()
    def failed_work_stays_committable_S3(self) -> None:
        """S3: a failed call (Exception or BaseException) keeps the work dirty, its owner and the
        session usable; a BaseException is re-raised."""
        for hang in self.found(Hang):
            if hang.wedged:
                self.breaks(S3, hang)
        for calls in self.found(CallsDiffer):
            if calls.difference == "wrong_agent" and calls.after_failure:
                self.breaks(S3, calls)
            if calls.difference == "missing" and not calls.follow_up_due and calls.after_failure:
                self.breaks(S3, calls)
        for result in self.found(ResultDiffers):
            if result.abort_swallowed or (result.call == "held_commit" and result.ended == "fail"):
                self.breaks(S3, result)
            if (
                result.call == "commit"
                and result.expected not in _EXPLAINED_COMMITS
                and (result.expected is Expected.FAILED or result.after_failure)
            ):
                self.breaks(S3, result)
        for dirty in self.found(DirtyDiffers):
            if (
                dirty.work_lost
                and dirty.rule != "discard"
                and dirty.ended != "ok"
                and dirty.after_failure
            ):
                self.breaks(S3, dirty)

    @guarantees(S4)
    @invariant()
    def owner_commits_its_segment_S4(self) -> None:
        """S4: a segment is committed by its owner's agent; ownerless work waits for an adopter."""
        for calls in self.found(CallsDiffer):
            if calls.difference == "wrong_agent" and not calls.after_failure:
                self.breaks(S4, calls)
            if (
                calls.difference == "missing"
                and not calls.follow_up_due
                and not calls.after_failure
            ):
                self.breaks(S4, calls)
            if calls.difference == "extra_in_drain" and not calls.nothing_predicted:
                self.breaks(S4, calls)
            if calls.difference == "extra" and calls.no_agent:
                self.breaks(S4, calls)
        for result in self.commits_expected(Expected.NO_AGENT):
            self.breaks(S4, result)

    @guarantees(S2)
    @invariant()
    def late_turns_survive_a_commit_S2(self) -> None:
        """S2: a successful call commits what it captured and no more; its commit returns True."""
        for result in self.found(ResultDiffers):
            if result.call == "held_commit" and result.ended == "ok":
                self.breaks(S2, result)
        for dirty in self.found(DirtyDiffers):
            if dirty.work_lost and dirty.rule != "discard" and dirty.ended == "ok":
                self.breaks(S2, dirty)

    @guarantees(S8)
    @invariant()
    def discard_keeps_dirty_work_S8(self) -> None:
        """S8: discard refuses a session with dirty work or a running call, and keeps its work."""
        for result in self.found(ResultDiffers):
            if result.call == "discard" and result.expected not in _DISCARDED:
                self.breaks(S8, result)
        for dirty in self.found(DirtyDiffers):
            if dirty.work_lost and dirty.rule == "discard":
                self.breaks(S8, dirty)

    @guarantees(S9)
    @invariant()
    def no_call_without_work_S9(self) -> None:
        """S9: the provider is called only for new work."""
        for calls in self.found(CallsDiffer):
            if calls.difference == "extra" and not (
                calls.no_turn_yet or calls.while_busy or calls.repeats_owner or calls.no_agent
            ):
                self.breaks(S9, calls)
            if calls.difference == "extra_in_drain" and calls.nothing_predicted:
                self.breaks(S9, calls)
        for result in self.commits_expected(Expected.NOTHING_TO_COMMIT):
            self.breaks(S9, result)

    @guarantees(S10)
    @invariant()
    def turns_coalesce_S10(self) -> None:
        """S10: one owner's consecutive turns, even those completed during a call, take one call."""
        for calls in self.found(CallsDiffer):
            if (
                calls.difference == "extra"
                and not calls.no_turn_yet
                and not calls.while_busy
                and calls.repeats_owner
            ):
                self.breaks(S10, calls)
        for dirty in self.found(DirtyDiffers):
            if (
                dirty.work_appeared
                and dirty.rule not in ("complete_turn", "drain")
                and not dirty.follow_up
                and dirty.ended == "ok"
            ):
                self.breaks(S10, dirty)

    @guarantees(L1)
    @invariant()
    def busy_request_followed_up_L1(self) -> None:
        """L1: work whose commit found another call running is committed when that call ends."""
        for calls in self.found(CallsDiffer):
            if calls.difference == "missing" and calls.follow_up_due:
                self.breaks(L1, calls)
        for dirty in self.found(DirtyDiffers):
            if (
                dirty.work_appeared
                and dirty.rule not in ("complete_turn", "drain")
                and dirty.follow_up
            ):
                self.breaks(L1, dirty)

    @guarantees(L2)
    @invariant()
    def drain_bounded_and_complete_L2(self) -> None:
        """L2: a drain returns by its deadline, having committed what providers accept."""
        for hang in self.found(Hang):
            if hang.drain and not hang.wedged:
                self.breaks(L2, hang)
        for dirty in self.found(DirtyDiffers):
            if dirty.work_appeared and dirty.rule == "drain":
                self.breaks(L2, dirty)

    @guarantees(L4)
    @invariant()
    def discard_frees_entry_L4(self) -> None:
        """L4: discard of a clean, idle (or absent) session succeeds."""
        for result in self.found(ResultDiffers):
            if result.call == "discard" and result.expected in _DISCARDED:
                self.breaks(L4, result)

    @guarantees(S7)
    @invariant()
    def counts_well_formed_S7(self) -> None:
        """S7: generations count completed turns; the dirty flag is a bool that tells the truth."""
        for result in self.found(ResultDiffers):
            if result.call == "turn" and not result.ephemeral:
                self.breaks(S7, result)
            if (
                result.call == "commit"
                and not result.abort_swallowed
                and result.expected not in _EXPLAINED_COMMITS
                and result.expected is not Expected.FAILED
                and not result.after_failure
            ):
                self.breaks(S7, result)
        for dirty in self.found(DirtyDiffers):
            if not dirty.other_session and dirty.not_a_bool:
                self.breaks(S7, dirty)
            if (
                dirty.work_lost
                and dirty.rule != "discard"
                and dirty.ended != "ok"
                and not dirty.after_failure
            ):
                self.breaks(S7, dirty)
            if (
                dirty.work_appeared
                and dirty.rule not in ("complete_turn", "drain")
                and not dirty.follow_up
                and dirty.ended != "ok"
            ):
                self.breaks(S7, dirty)

    # --- replay -----------------------------------------------------------------------

    def check_now(self) -> None:
        """Run every invariant of a checked property, as Hypothesis does after a rule."""
        checked = type(self).supervisor.checked
        for name in invariant_names(type(self)):
            method = getattr(self, name)
            if method.guarantees in checked:
                method()

    def resolve(self, arguments: dict[str, Any]) -> dict[str, Any] | None:
        """A recorded step's arguments for this run; None when the step is impossible now."""
        resolved: dict[str, Any] = {}
        for key, value in arguments.items():
            if isinstance(value, HeldRef):
                held = self.held.get(value.session_id)
                if held is None:
                    return None
                value = held
            resolved[key] = value
        return resolved

    def allows(self, rule_name: str) -> bool:
        """The precondition of a rule, for replaying recorded steps."""
        conditions: dict[str, Callable[[], bool]] = {
            "discard": self.may_discard,
            "drain": self.may_drain,
        }
        return conditions.get(rule_name, lambda: True)()

    def teardown(self) -> None:
        self._note_unclaimed()
        for held in self.held.values():
            held.hold.finish("ok")
        for held in self.held.values():
            held.call.result(CALL_BOUND)
        self.held.clear()
        self._tracking.close()
        type(self).supervisor.run_ended(self.steps)


_EXPLAINED_COMMITS = (
    Expected.BUSY,
    Expected.TIMED_OUT,
    Expected.NOTHING_TO_COMMIT,
    Expected.NO_AGENT,
)
"""Commit outcomes whose wrong return S5, S9 or S4 explains."""

_DISCARDED = (Expected.DISCARDED, Expected.ALREADY_ABSENT)
"""Discard outcomes that must return True."""


@functools.cache
def invariant_names(machine: type[LifecycleMachine]) -> tuple[str, ...]:
    """The machine's invariants (one per property), by name."""
    names = {
        name
        for klass in machine.__mro__
        for name, value in vars(klass).items()
        if getattr(value, "guarantees", None)
    }
    return tuple(sorted(names))


def lifecycle_machine(
    factory: TargetFactory, supervisor: Supervisor | None = None
) -> type[LifecycleMachine]:
    """A ``LifecycleMachine`` subclass checking targets made by ``factory``.

    ``supervisor`` (default: check every property, never stop) chooses the
    properties the machine checks and may stop its search.
    """
    return type(
        "LifecycleMachine",
        (LifecycleMachine,),
        {
            "make_target": staticmethod(factory),
            "supervisor": supervisor if supervisor is not None else Supervisor(),
        },
    )
