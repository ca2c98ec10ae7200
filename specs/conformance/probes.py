"""Fault injection: short, deterministic scenarios, one property each.

Each probe gets a fresh target and a scripted ``Provider`` and drives one
situation the stateful comparison reaches only by luck: a provider that hangs,
raises a BaseException or calls the lifecycle (or the drain) from inside; two
providers that commit each other's sessions; an agent without
``commit_memory_session``; falsy session ids; negative timeouts; a waiter that
must be woken; a drain that must keep its deadline, commit sessions in
parallel, retry a failed one beside a hung one, not wait for a hung
background commit, and leave the lifecycle as it found it. Some faults live
outside any schedule, so only a probe reaches them: a session id whose
``__hash__`` starts raising during the provider call, or whose ``repr``
raises, or that is huge; an agent whose ``__del__`` calls the lifecycle; bad
timeouts and deadlines. Every target call is bounded; a probe fails with a
``Trace`` of what it did. Only the waiter probe polls (every 5 ms, for at
most ``BOUND``) until its waiter sits in a ``threading`` wait, so the release
comes while it waits; its verdict does not depend on that timing.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..trace import Trace, TraceStep
from .fakes import BareAgent, FakeAgent, Hold, Provider, ProviderAbort, ended_text
from .target import (
    ORIGIN,
    BoundedCall,
    Target,
    TargetFactory,
    blocked_in_wait,
    join_new_threads,
    origin_tracking,
)

BOUND = 1.5
"""Seconds an ordinary call may take."""
DRAIN_DEADLINE = 1.0
"""The deadline the drain probes pass; the drain must return within it plus ``BOUND``."""


class NotApplicable(Exception):
    """The target lacks a call this probe needs."""


class ProbeFailed(Exception):
    """A probe saw the property broken."""


@dataclass(frozen=True)
class Probe:
    """One fault-injection scenario and the property it checks."""

    property_id: str
    name: str
    run: Callable[[Driver], None]


class Driver:
    """Calls one fresh target with bounds, recording every call as a trace step."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.provider = Provider()
        self.steps: list[TraceStep] = []
        self.own: set[threading.Thread] = set()
        self.origin = object()

    def agent(self, session_id: str, name: str) -> FakeAgent:
        return self.provider.agent(session_id, name)

    def note(self, actor: str, action: str, result: str = "") -> None:
        self.steps.append(TraceStep(actor, action, result, ""))

    def start(self, action: str, function: Callable[[], Any], actor: str = "thread") -> BoundedCall:
        """Run ``function`` on its own daemon thread (not joined)."""
        call = BoundedCall(function, action, self.origin)
        self.own.add(call.thread)
        self.note(actor, action, "started")
        return call.start()

    def call(self, action: str, function: Callable[[], Any], bound: float = BOUND) -> Any:
        """Call the target; fail the probe when it hangs; return its value or exception."""
        call = BoundedCall(function, action, self.origin)
        self.own.add(call.thread)
        outcome = call.start().result(bound)
        if outcome.hung:
            self.note("host", action, f"still running after {bound:g} s")
            raise ProbeFailed(f"{action} did not return within {bound:g} s")
        seen = outcome.error if outcome.error is not None else outcome.value
        shown = ended_text(seen) if isinstance(seen, BaseException) else repr(seen)
        self.note("host", action, shown)
        return seen

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise ProbeFailed(message)

    def settle(self, before: set[threading.Thread]) -> None:
        """Join the threads the target started since ``before`` (bounded)."""
        alive = join_new_threads(before | self.own, BOUND, self.origin)
        if alive:
            raise ProbeFailed(f"target thread(s) still running: {[t.name for t in alive]}")

    def hold(self, session_id: str, agent: object | None = None) -> tuple[Hold, BoundedCall]:
        """Start a commit on a helper thread and wait until its provider call is held."""
        hold = self.provider.hold_next(session_id)
        call = self.start(
            f"commit_session_memory({session_id!r})",
            lambda: self.target.commit(session_id, agent, False, None),
        )
        if not hold.entered.wait(BOUND):
            self.provider.cancel_hold(session_id)
            raise ProbeFailed(f"the commit of {session_id!r} never called the provider")
        self.note("provider", f"call of {session_id!r} on {hold.agent_name} held in flight")
        return hold, call

    def release(self, hold: Hold, call: BoundedCall, how: str = "ok") -> Any:
        self.note("provider", f"held call ends with {how!r}")
        hold.finish(how)
        outcome = call.result(BOUND)
        if outcome.hung:
            raise ProbeFailed("the held commit did not return after its provider call ended")
        return outcome.error if outcome.error is not None else outcome.value

    def dirty(self, session_id: Any) -> Any:
        return self.call(
            f"has_uncommitted_work({session_id!r})",
            lambda: self.target.has_uncommitted_work(session_id),
        )

    def register(self, session_id: str, agent: object) -> None:
        self.call(
            f"register_agent({session_id!r}, {agent!r})",
            lambda: self.target.register_agent(session_id, agent),
        )

    def turn(self, session_id: Any, agent: object | None = None, ephemeral: bool = False) -> Any:
        flag = ", ephemeral=True" if ephemeral else ""
        return self.call(
            f"mark_turn_completed({session_id!r}{flag})",
            lambda: self.target.mark_turn_completed(session_id, agent, ephemeral),
        )

    def commit(
        self,
        session_id: Any,
        agent: object | None = None,
        wait: bool = False,
        timeout: Any = None,
        bound: float = BOUND,
    ) -> Any:
        return self.call(
            f"commit_session_memory({session_id!r}, {agent!r}, wait={wait}, timeout={timeout})",
            lambda: self.target.commit(session_id, agent, wait, timeout),
            bound,
        )

    def calls(self) -> list[str]:
        return [item.agent_name for item in self.provider.calls]


def _dirty_session(driver: Driver, session_id: str = "p1") -> FakeAgent:
    agent = driver.agent(session_id, f"{session_id}.a")
    driver.register(session_id, agent)
    driver.turn(session_id)
    return agent


# --- the probes -------------------------------------------------------------------------


def _s1_only_completed_turns(driver: Driver) -> None:
    agent = driver.agent("p1", "p1.a")
    driver.register("p1", agent)
    driver.expect(driver.commit("p1") is False, "a session with no completed turn was committed")
    for bad in ("", None):
        driver.expect(driver.turn(bad) in (0, None), f"mark_turn_completed({bad!r}) counted a turn")
        driver.expect(driver.commit(bad) is False, f"commit of session id {bad!r} returned True")
        driver.expect(driver.dirty(bad) is False, f"session id {bad!r} has uncommitted work")
    if driver.target.has_ephemeral:
        driver.expect(driver.turn("p1", ephemeral=True) == 0, "an ephemeral turn was counted")
        driver.expect(driver.dirty("p1") is False, "an ephemeral turn left uncommitted work")
        driver.commit("p1")
    driver.expect(not driver.calls(), f"provider called with no completed turn: {driver.calls()}")


def _s2_late_turn_stays_dirty(driver: Driver) -> None:
    _dirty_session(driver)
    hold, call = driver.hold("p1")
    driver.turn("p1")
    driver.expect(driver.release(hold, call) is True, "the held commit did not report success")
    driver.expect(
        driver.dirty("p1") is True, "a turn completed during the commit was cleared with it"
    )


def _s3_base_exception_then_retry(driver: Driver) -> None:
    _dirty_session(driver)
    driver.provider.modes["p1"] = "abort"
    seen = driver.commit("p1")
    driver.expect(isinstance(seen, ProviderAbort), f"the BaseException was not re-raised: {seen!r}")
    driver.expect(driver.dirty("p1") is True, "the work was lost when the provider aborted")
    driver.provider.modes["p1"] = "ok"
    retried = driver.commit("p1", wait=True, timeout=BOUND / 2, bound=BOUND * 2)
    driver.expect(retried is True, "after a BaseException the session can no longer be committed")


def _s3_failure_keeps_owner(driver: Driver) -> None:
    owner = _dirty_session(driver)
    driver.provider.modes["p1"] = "fail"
    driver.expect(driver.commit("p1") is False, "a failing provider call reported success")
    driver.call("unregister_agent('p1')", lambda: driver.target.unregister_agent("p1"))
    driver.provider.modes["p1"] = "ok"
    driver.expect(
        driver.commit("p1") is True, "after a failure the work lost its owner: nobody can commit it"
    )
    driver.expect(
        driver.calls() == [owner.name, owner.name],
        f"the failed segment changed owner: provider calls {driver.calls()}",
    )


def _s3_agent_without_commit_method(driver: Driver) -> None:
    bare = BareAgent("bare")
    driver.register("p1", bare)
    driver.turn("p1")
    seen = driver.commit("p1")
    driver.expect(seen is False, f"commit with an agent lacking commit_memory_session: {seen!r}")
    driver.expect(driver.dirty("p1") is True, "the work was cleared though no provider ran")
    again = driver.commit("p1", wait=True, timeout=0.2)
    driver.expect(again is False, f"the session stayed in flight after the failure: {again!r}")


def _s4_new_agent_cannot_steal(driver: Driver) -> None:
    owner = _dirty_session(driver)
    newcomer = driver.agent("p1", "p1.new")
    driver.register("p1", newcomer)
    driver.expect(driver.commit("p1", newcomer) is True, "the owner's commit did not succeed")
    driver.expect(
        driver.calls() == [owner.name],
        f"the older segment was committed by {driver.calls()}, not its owner {owner.name}",
    )


def _s5_busy_and_negative_timeouts(driver: Driver) -> None:
    _dirty_session(driver)
    hold, call = driver.hold("p1")
    for wait, timeout in ((False, None), (True, -1.0), (True, 0.0)):
        started = time.monotonic()
        seen = driver.commit("p1", wait=wait, timeout=timeout, bound=BOUND)
        driver.expect(seen is False, f"a commit while busy returned {seen!r}")
        driver.expect(
            time.monotonic() - started < BOUND / 2,
            f"commit(wait={wait}, timeout={timeout}) waited though it may not",
        )
    overlapping = [item for item in driver.provider.calls if item.overlapping]
    driver.release(hold, call)
    driver.expect(not overlapping, "a second provider call ran while the first was in flight")


def _s6_sessions_isolated(driver: Driver) -> None:
    other = _dirty_session(driver, "p2")
    _dirty_session(driver, "p1")
    driver.provider.modes["p1"] = "fail"
    driver.commit("p1")
    driver.provider.modes["p1"] = "ok"
    driver.commit("p1")
    if driver.target.has_discard:
        driver.call("discard_session('p1')", lambda: driver.target.discard("p1"))
    driver.expect(driver.dirty("p2") is True, "work on p1 changed p2's uncommitted work")
    driver.expect(
        other.name not in driver.calls(), "committing p1 called the provider of session p2"
    )


def _s7_generations_count(driver: Driver) -> None:
    driver.register("p1", driver.agent("p1", "p1.a"))
    counts = [driver.turn("p1") for _ in range(3)]
    driver.expect(counts == [1, 2, 3], f"generations returned {counts}, expected [1, 2, 3]")
    driver.commit("p1")
    driver.expect(driver.dirty("p1") is False, "one commit did not cover one owner's turns")
    driver.expect(driver.turn("p1") == 4, "the generation did not continue after a commit")


def _s8_discard_only_clean(driver: Driver) -> None:
    _dirty_session(driver)
    driver.expect(
        driver.call("discard_session('p1')", lambda: driver.target.discard("p1")) is False,
        "a dirty entry was discarded",
    )
    driver.expect(driver.dirty("p1") is True, "discard dropped uncommitted work")
    hold, call = driver.hold("p1")
    seen = driver.call("discard_session('p1')", lambda: driver.target.discard("p1"))
    driver.release(hold, call)
    driver.expect(seen is False, "an entry was discarded while its commit was in flight")
    driver.expect(
        driver.call("discard_session('')", lambda: driver.target.discard("")) is False,
        "discard of a falsy id returned True",
    )


def _s9_no_call_without_work(driver: Driver) -> None:
    _dirty_session(driver)
    driver.commit("p1")
    driver.commit("p1")
    driver.commit("p1", wait=True, timeout=0.1)
    driver.expect(
        len(driver.calls()) == 1, f"provider called again with nothing new: {driver.calls()}"
    )


def _s10_turns_coalesce(driver: Driver) -> None:
    _dirty_session(driver)
    hold, call = driver.hold("p1")
    driver.turn("p1")
    driver.turn("p1")
    driver.release(hold, call)
    if driver.dirty("p1") is not True:
        return  # the late turns were lost: S2's probe reports that
    driver.commit("p1")
    driver.expect(
        driver.dirty("p1") is False and len(driver.calls()) == 2,
        f"two turns of one owner took more than one provider call: {driver.calls()}",
    )


def _l1_busy_commit_followed_up(driver: Driver) -> None:
    _expect_followed_up(
        driver, "the work of a commit requested while busy was left for the next boundary"
    )


def _expect_followed_up(driver: Driver, message: str) -> None:
    """L1: a commit refused as busy is committed when the running call ends."""
    _dirty_session(driver)
    before = set(threading.enumerate())
    hold, call = driver.hold("p1")
    driver.turn("p1")
    driver.expect(driver.commit("p1") is False, "a commit while busy reported success")
    driver.release(hold, call)
    driver.settle(before)
    driver.expect(driver.dirty("p1") is False, message)


def _drain_action(target: Target, deadline: float) -> str:
    if target.drain_takes_deadline:
        return f"drain_all_on_shutdown({deadline:g})"
    return f"drain_all_on_shutdown() (takes no deadline; {deadline:g} s expected)"


def _l2_drain_keeps_deadline(driver: Driver) -> None:
    if not driver.target.has_drain:
        raise NotApplicable("no drain_all_on_shutdown")
    _dirty_session(driver, "p1")
    _dirty_session(driver, "p2")
    hold = driver.provider.hold_next("p1")
    driver.note("provider", "the next call of 'p1' hangs")
    started = time.monotonic()
    seen = driver.call(
        _drain_action(driver.target, DRAIN_DEADLINE),
        lambda: driver.target.drain(DRAIN_DEADLINE),
        bound=DRAIN_DEADLINE + BOUND,
    )
    hold.finish("fail")
    driver.expect(not isinstance(seen, Exception), f"the drain raised {seen!r}")
    driver.expect(
        time.monotonic() - started <= DRAIN_DEADLINE + BOUND, "the drain overran its deadline"
    )
    driver.expect(driver.dirty("p2") is False, "a hung provider kept the drain from p2")


def _l2_drain_in_parallel(driver: Driver) -> None:
    if not driver.target.has_drain:
        raise NotApplicable("no drain_all_on_shutdown")
    sessions = ("p1", "p2", "p3")
    barrier = threading.Barrier(len(sessions), timeout=BOUND)

    def meet() -> None:
        barrier.wait()

    for session_id in sessions:
        _dirty_session(driver, session_id)
        driver.provider.hooks[session_id] = meet
    driver.note("provider", f"each call waits until all of {sessions} are in flight at once")
    driver.call(
        _drain_action(driver.target, DRAIN_DEADLINE * 3),
        lambda: driver.target.drain(DRAIN_DEADLINE * 3),
        bound=DRAIN_DEADLINE * 3 + BOUND,
    )
    left = [sid for sid in sessions if driver.dirty(sid) is not False]
    driver.expect(not left, f"the drain committed independent sessions one at a time: {left} left")


def _l3_reentrant_provider(driver: Driver) -> None:
    _dirty_session(driver)
    inner: list[Any] = []

    def reenter() -> None:
        driver.provider.hooks.pop("p1", None)
        inner.append(driver.target.has_uncommitted_work("p1"))
        inner.append(driver.target.mark_turn_completed("p1"))
        inner.append(driver.target.commit("p1", None, True, None))

    driver.provider.hooks["p1"] = reenter
    driver.note(
        "provider",
        "the call of 'p1' calls has_uncommitted_work, mark_turn_completed and "
        "commit_session_memory('p1', wait=True) from inside",
    )
    driver.commit("p1", bound=BOUND * 2)
    driver.expect(len(inner) == 3, "the re-entrant calls from inside the provider did not return")


def _l3_waiter_woken(driver: Driver) -> None:
    _dirty_session(driver)
    hold, call = driver.hold("p1")
    driver.turn("p1")
    waiter = driver.start(
        "commit_session_memory('p1', wait=True)",
        lambda: driver.target.commit("p1", None, True, None),
    )
    ends_at = time.monotonic() + BOUND
    while not blocked_in_wait(waiter.thread) and time.monotonic() < ends_at:
        waiter.done.wait(0.005)
    driver.release(hold, call)
    outcome = waiter.result(BOUND)
    driver.expect(not outcome.hung, "a waiting commit was never woken when the running call ended")


def _l3_hung_provider_blocks_nobody_else(driver: Driver) -> None:
    _dirty_session(driver)
    hold, call = driver.hold("p1")
    other = _dirty_session(driver, "p2")
    try:
        driver.expect(driver.commit("p2", other) is True, "p2 could not commit while p1 hung")
        driver.expect(driver.dirty("p2") is False, "p2 stayed dirty while p1 hung")
    finally:
        driver.release(hold, call)


def _l4_discarded_entry_frees_agent(driver: Driver) -> None:
    if not driver.target.has_discard:
        raise NotApplicable("no discard_session: entries can never be removed")
    agent: FakeAgent | None = _dirty_session(driver)
    driver.commit("p1")
    driver.call("unregister_agent('p1')", lambda: driver.target.unregister_agent("p1"))
    removed = driver.call("discard_session('p1')", lambda: driver.target.discard("p1"))
    driver.expect(removed is True, "a committed, unregistered session could not be discarded")
    entries = driver.target.entries()
    driver.expect(entries is None or "p1" not in entries, "the discarded entry is still there")
    assert agent is not None
    reference = weakref.ref(agent)
    agent = None
    driver.steps.append(TraceStep("host", "drop the last reference to p1.a; gc.collect()", "", ""))
    gc.collect()
    driver.expect(
        reference() is None, "the lifecycle still references the discarded session's agent"
    )


# --- faults of the clock, the drain and the host ---------------------------------------------


def _needs_drain(driver: Driver) -> None:
    if not driver.target.has_drain:
        raise NotApplicable("no drain_all_on_shutdown")


def _l2_hung_background_commit(driver: Driver) -> None:
    _needs_drain(driver)
    if not driver.target.has_background_registry:
        raise NotApplicable("no _register_background_commit_thread")
    _dirty_session(driver, "p1")
    hold = driver.provider.hold_next("p1")
    target = driver.target

    def background() -> None:
        try:
            target.commit("p1", None, True, None)
        finally:
            target.unregister_background(threading.current_thread())

    thread = threading.Thread(target=background, name="background commit p1", daemon=True)
    setattr(thread, ORIGIN, driver.origin)
    admitted = driver.call(
        "_register_background_commit_thread(<thread committing 'p1'>)",
        lambda: target.register_background(thread),
    )
    driver.expect(admitted is True, f"a background commit was refused: {admitted!r}")
    thread.start()
    driver.expect(hold.entered.wait(BOUND), "the background commit never called the provider")
    driver.note("provider", "the background commit's call of 'p1' hangs")
    for session_id in ("p2", "p3"):
        _dirty_session(driver, session_id)
    try:
        driver.call(
            _drain_action(target, DRAIN_DEADLINE),
            lambda: target.drain(DRAIN_DEADLINE),
            bound=DRAIN_DEADLINE + BOUND,
        )
        left = [sid for sid in ("p2", "p3") if driver.dirty(sid) is not False]
    finally:
        hold.finish("ok")
    driver.expect(
        not left,
        f"a hung background commit of 'p1' cost the drain every other session: {left} left dirty",
    )


def _l2_drain_retries_beside_hung(driver: Driver) -> None:
    _needs_drain(driver)
    _dirty_session(driver, "p1")
    _dirty_session(driver, "p2")
    hold = driver.provider.hold_next("p1")
    driver.provider.modes["p2"] = "fail"
    driver.provider.hooks["p2"] = lambda: driver.provider.modes.__setitem__("p2", "ok")
    driver.note("provider", "the next call of 'p1' hangs; the first call of 'p2' fails")
    try:
        driver.call(
            _drain_action(driver.target, DRAIN_DEADLINE),
            lambda: driver.target.drain(DRAIN_DEADLINE),
            bound=DRAIN_DEADLINE + BOUND,
        )
        still = driver.dirty("p2")
    finally:
        hold.finish("ok")
    driver.expect(
        still is False,
        "the drain never retried 'p2' after one failure, although its deadline had time to "
        "spare: a hung provider held its round open",
    )


def _l2_drain_called_by_provider(driver: Driver) -> None:
    _needs_drain(driver)
    if not driver.target.drain_takes_deadline:
        raise NotApplicable("the drain takes no deadline")
    _dirty_session(driver, "p1")
    _dirty_session(driver, "p2")
    took: list[float] = []
    deadline = DRAIN_DEADLINE * 3

    def drain_inside() -> None:
        driver.provider.hooks.pop("p1", None)
        started = time.monotonic()
        driver.target.drain(deadline)
        took.append(time.monotonic() - started)

    driver.provider.hooks["p1"] = drain_inside
    driver.note("provider", f"the call of 'p1' calls drain_all_on_shutdown({deadline:g})")
    driver.commit("p1", bound=deadline + BOUND)
    driver.expect(bool(took), "the drain called from inside the provider call did not return")
    driver.expect(driver.dirty("p2") is False, "the drain called by a provider left 'p2' dirty")
    driver.expect(
        took[0] < BOUND,
        f"the drain called from inside 'p1''s provider call took {took[0]:.1f} s of its "
        f"{deadline:g} s deadline with nothing else to commit: it waited for its own caller",
    )


def _l1_follow_up_after_drain(driver: Driver) -> None:
    _needs_drain(driver)
    driver.call(
        _drain_action(driver.target, DRAIN_DEADLINE),
        lambda: driver.target.drain(DRAIN_DEADLINE),
        bound=DRAIN_DEADLINE + BOUND,
    )
    _expect_lifecycle_running(driver, "after a drain returned")


def _l1_bad_drain_deadline_changes_nothing(driver: Driver) -> None:
    _needs_drain(driver)
    if not driver.target.drain_takes_deadline:
        raise NotApplicable("the drain takes no deadline")
    bad_deadlines: tuple[object, ...] = ("5", [1])
    for bad in bad_deadlines:
        driver.call(f"drain_all_on_shutdown({bad!r})", partial(driver.target.drain, bad))
    _expect_lifecycle_running(driver, "after drain_all_on_shutdown was given a bad deadline")


def _expect_lifecycle_running(driver: Driver, when: str) -> None:
    """L1: background commits are admitted and a busy commit is followed up."""
    if driver.target.has_background_registry:
        thread = threading.Thread(target=lambda: None, name="unstarted background commit")
        admitted = driver.call(
            "_register_background_commit_thread(<thread>)",
            lambda: driver.target.register_background(thread),
        )
        driver.call(
            "_unregister_background_commit_thread(<thread>)",
            lambda: driver.target.unregister_background(thread),
        )
        driver.expect(
            admitted is True,
            f"{when}, background commits are refused for good: a host's boundary commits are "
            f"never started",
        )
    _expect_followed_up(
        driver,
        f"{when}, a commit refused as busy is no longer followed up: its work waits for the "
        f"next boundary",
    )


def _l3_providers_commit_each_other(driver: Driver) -> None:
    _dirty_session(driver, "p1")
    _dirty_session(driver, "p2")
    entered = {"p1": threading.Event(), "p2": threading.Event()}
    inner: list[Any] = []

    def cross(own: str, other: str) -> Callable[[], None]:
        def hook() -> None:
            driver.provider.hooks.pop(own, None)
            entered[own].set()
            entered[other].wait(BOUND)
            inner.append(driver.target.commit(other, None, True, None))

        return hook

    driver.provider.hooks["p1"] = cross("p1", "p2")
    driver.provider.hooks["p2"] = cross("p2", "p1")
    driver.note(
        "provider",
        "once both calls run, the call of 'p1' commits 'p2' with wait=True and the call of "
        "'p2' commits 'p1' with wait=True",
    )
    first = driver.start(
        "commit_session_memory('p1')", lambda: driver.target.commit("p1", None, False, None)
    )
    second = driver.start(
        "commit_session_memory('p2')", lambda: driver.target.commit("p2", None, False, None)
    )
    ends_at = time.monotonic() + BOUND * 2
    hung = [
        name
        for name, call in (("p1", first), ("p2", second))
        if call.result(max(0.0, ends_at - time.monotonic())).hung
    ]
    driver.note("host", "both commits joined", f"still running: {hung}" if hung else "returned")
    driver.expect(
        not hung,
        "two providers that commit each other's sessions with wait=True wait for each other "
        "forever (a cycle of waits)",
    )


class _FlakyId:
    """A session id equal to ``text`` whose ``__hash__`` raises while ``broken``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.broken = False

    def __hash__(self) -> int:
        if self.broken:
            raise TypeError("session id hash failed")
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _FlakyId) and other.text == self.text

    def __repr__(self) -> str:
        return f"_FlakyId({self.text!r})"


class _RaisingReprId:
    """A session id equal to ``text`` whose ``repr`` raises."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _RaisingReprId) and other.text == self.text

    def __repr__(self) -> str:
        raise RuntimeError("this session id has no repr")


def _l3_hash_raises_during_call(driver: Driver) -> None:
    session_id = _FlakyId("p1")
    agent = driver.agent("p1", "p1.a")
    target = driver.target
    driver.call("register_agent(<id>, p1.a)", lambda: target.register_agent(session_id, agent))
    driver.call("mark_turn_completed(<id>)", lambda: target.mark_turn_completed(session_id))

    def breaks() -> None:
        driver.provider.hooks.pop("p1", None)
        session_id.broken = True

    driver.provider.hooks["p1"] = breaks
    driver.note("provider", "during the call, the session id's __hash__ starts raising")
    try:
        call = BoundedCall(
            lambda: target.commit(session_id, None, False, None), "commit", driver.origin
        )
        driver.own.add(call.thread)
        outcome = call.start().result(BOUND)
        shown = (
            "still running"
            if outcome.hung
            else ended_text(outcome.error)
            if outcome.error
            else repr(outcome.value)
        )
        driver.note("host", "commit_session_memory(<id>)", shown)
    finally:
        session_id.broken = False  # lets a retrying loop finish instead of spinning on
    driver.expect(
        not outcome.hung,
        f"commit_session_memory did not return within {BOUND:g} s once the session id's hash "
        f"raised: the end of the call is retried forever (a busy loop)",
    )


def _l1_follow_up_with_raising_repr(driver: Driver) -> None:
    session_id = _RaisingReprId("p1")
    target = driver.target
    agent = driver.agent("p1", "p1.a")
    driver.call(
        "register_agent(<id whose repr raises>, p1.a)",
        lambda: target.register_agent(session_id, agent),
    )
    driver.call("mark_turn_completed(<id>)", lambda: target.mark_turn_completed(session_id))
    before = set(threading.enumerate())
    hold = driver.provider.hold_next("p1")
    first = driver.start(
        "commit_session_memory(<id>)", lambda: target.commit(session_id, None, False, None)
    )
    driver.expect(hold.entered.wait(BOUND), "the commit never called the provider")
    driver.call("mark_turn_completed(<id>)", lambda: target.mark_turn_completed(session_id))
    busy = driver.call(
        "commit_session_memory(<id>)", lambda: target.commit(session_id, None, False, None)
    )
    driver.expect(busy is False, f"a commit while busy returned {busy!r}")
    driver.release(hold, first)
    driver.settle(before)
    left = driver.call(
        "has_uncommitted_work(<id>)", lambda: target.has_uncommitted_work(session_id)
    )
    driver.expect(
        left is False,
        "with a session id whose repr raises, the follow-up of a busy commit was lost "
        "(its thread name needed the repr)",
    )


HUGE_ID_CHARACTERS = 2_000_000
"""Length of the huge session id: 2 MB that no thread name may copy."""


def _l4_huge_id_not_copied(driver: Driver) -> None:
    session_id = "x" * HUGE_ID_CHARACTERS
    target = driver.target
    agent = driver.agent("p1", "p1.a")
    driver.call("register_agent(<2 MB id>, p1.a)", lambda: target.register_agent(session_id, agent))
    driver.call("mark_turn_completed(<2 MB id>)", lambda: target.mark_turn_completed(session_id))
    hold = driver.provider.hold_next("p1")
    first = BoundedCall(
        lambda: target.commit(session_id, None, False, None), "commit", driver.origin
    )
    driver.own.add(first.thread)
    first.start()
    driver.expect(hold.entered.wait(BOUND), "the commit never called the provider")
    driver.call("mark_turn_completed(<2 MB id>)", lambda: target.mark_turn_completed(session_id))
    driver.call(
        "commit_session_memory(<2 MB id>)", lambda: target.commit(session_id, None, False, None)
    )
    again = driver.provider.hold_next("p1")
    driver.release(hold, first)
    reached = again.entered.wait(BOUND)
    longest = max((len(thread.name) for thread in threading.enumerate()), default=0)
    driver.note("host", "the longest thread name", f"{longest:,} characters")
    again.finish("ok")
    driver.provider.cancel_hold("p1")
    driver.expect(
        not reached or longest < HUGE_ID_CHARACTERS // 100,
        f"a thread name holds a copy of the {HUGE_ID_CHARACTERS // 1_000_000} MB session id "
        f"({longest:,} characters): every such id is kept twice while its thread lives",
    )


class _ReentrantDelAgent:
    """An agent whose ``__del__`` asks the lifecycle something."""

    def __init__(self, target: Target, session_id: str, seen: list[Any]) -> None:
        self.target = target
        self.session_id = session_id
        self.seen = seen

    def commit_memory_session(self) -> None:
        """Nothing to extract."""

    def __del__(self) -> None:
        self.seen.append(self.target.has_uncommitted_work(self.session_id))


def _l3_agent_del_reenters(driver: Driver) -> None:
    target = driver.target
    seen: list[Any] = []
    driver.call(
        "register_agent('p1', <agent whose __del__ calls has_uncommitted_work>)",
        lambda: target.register_agent("p1", _ReentrantDelAgent(target, "p1", seen)),
    )
    outcome = BoundedCall(lambda: target.unregister_agent("p1"), "unregister", driver.origin)
    driver.own.add(outcome.thread)
    ended = outcome.start().result(BOUND)
    driver.note(
        "host",
        "unregister_agent('p1') (drops the last reference to the agent)",
        "still running" if ended.hung else "returned",
    )
    driver.expect(
        not ended.hung,
        "unregister_agent never returned: the agent was freed while the lock was held and its "
        "__del__ called the lifecycle (let references go outside the lock)",
    )


def _s4_owner_commits_whatever_agent_is_passed(driver: Driver) -> None:
    owner = _dirty_session(driver)
    bare = BareAgent("bare")
    seen = driver.commit("p1", bare)
    if isinstance(seen, TypeError | ValueError):
        driver.expect(
            not driver.calls() and driver.dirty("p1") is True,
            "a commit refused for its bad agent changed the session",
        )
        return  # refused as bad input, with a message: nothing was silently skipped
    driver.expect(
        seen is True and driver.calls() == [owner.name],
        f"work owned by {owner.name} was not committed through it when the commit passed an "
        f"agent without commit_memory_session: returned {seen!r}, provider calls {driver.calls()}",
    )


def _s7_bad_input_refused_alike(driver: Driver) -> None:
    driver.register("p1", driver.agent("p1", "p1.a"))

    def raised(value: Any) -> str:
        return type(value).__name__ if isinstance(value, Exception) else "accepted"

    for bad in (float("nan"), "1", [1]):
        waiting = driver.commit("p1", None, True, bad)
        not_waiting = driver.commit("p1", None, False, bad)
        driver.expect(
            raised(waiting) == raised(not_waiting),
            f"timeout={bad!r} is checked in some places only: with wait=True "
            f"{raised(waiting)}, with wait=False {raised(not_waiting)}",
        )
    plain = driver.call(
        "commit_session_memory(['p1'])", lambda: driver.target.commit(["p1"], None, False, None)
    )
    with_bare = driver.call(
        "commit_session_memory(['p1'], <bare agent>)",
        lambda: driver.target.commit(["p1"], BareAgent("bare"), False, None),
    )
    driver.expect(
        raised(plain) == raised(with_bare),
        f"an unhashable session id is checked in some places only: alone {raised(plain)}, "
        f"with an agent lacking commit_memory_session {raised(with_bare)}",
    )


PROBES: tuple[Probe, ...] = (
    Probe("S1", "only completed turns, falsy ids", _s1_only_completed_turns),
    Probe("S2", "late turn stays dirty", _s2_late_turn_stays_dirty),
    Probe("S3", "BaseException then retry", _s3_base_exception_then_retry),
    Probe("S3", "failure keeps the owner", _s3_failure_keeps_owner),
    Probe("S3", "agent without commit_memory_session", _s3_agent_without_commit_method),
    Probe("S4", "new agent cannot steal", _s4_new_agent_cannot_steal),
    Probe(
        "S4", "owner commits whatever agent is passed", _s4_owner_commits_whatever_agent_is_passed
    ),
    Probe("S5", "busy, zero and negative timeouts", _s5_busy_and_negative_timeouts),
    Probe("S6", "sessions isolated", _s6_sessions_isolated),
    Probe("S7", "generations count", _s7_generations_count),
    Probe("S7", "bad input refused alike everywhere", _s7_bad_input_refused_alike),
    Probe("S8", "discard only clean, idle entries", _s8_discard_only_clean),
    Probe("S9", "no call without new work", _s9_no_call_without_work),
    Probe("S10", "turns during a commit coalesce", _s10_turns_coalesce),
    Probe("L1", "busy commit followed up", _l1_busy_commit_followed_up),
    Probe("L1", "follow-up after a drain", _l1_follow_up_after_drain),
    Probe("L1", "bad drain deadline changes nothing", _l1_bad_drain_deadline_changes_nothing),
    Probe("L1", "follow-up for an id whose repr raises", _l1_follow_up_with_raising_repr),
    Probe("L2", "drain keeps its deadline", _l2_drain_keeps_deadline),
    Probe("L2", "drain commits in parallel", _l2_drain_in_parallel),
    Probe("L2", "hung background commit costs one session", _l2_hung_background_commit),
    Probe("L2", "drain retries beside a hung provider", _l2_drain_retries_beside_hung),
    Probe("L2", "drain called by a provider", _l2_drain_called_by_provider),
    Probe("L3", "re-entrant provider", _l3_reentrant_provider),
    Probe("L3", "waiter woken", _l3_waiter_woken),
    Probe("L3", "hung provider blocks nobody else", _l3_hung_provider_blocks_nobody_else),
    Probe("L3", "providers commit each other's sessions", _l3_providers_commit_each_other),
    Probe("L3", "session id hash raises during the call", _l3_hash_raises_during_call),
    Probe("L3", "agent __del__ calls the lifecycle", _l3_agent_del_reenters),
    Probe("L4", "discarded entry frees its agent", _l4_discarded_entry_frees_agent),
    Probe("L4", "huge session id not copied", _l4_huge_id_not_copied),
)
"""Every fault-injection probe, in catalogue order."""

NEEDS: dict[str, str] = {"S8": "has_discard", "L4": "has_discard"}
"""Probes (by property) that need an optional call, by ``Target`` flag."""


@dataclass
class ProbeResult:
    """How one probe ended: passed, failed (with a trace) or not applicable."""

    probe: Probe
    status: str
    trace: Trace | None = None
    reason: str = ""


def run_probe(probe: Probe, factory: TargetFactory) -> ProbeResult:
    """Run one probe on a fresh target."""
    target = factory()
    flag = NEEDS.get(probe.property_id)
    if flag is not None and not getattr(target, flag):
        return ProbeResult(probe, "not_applicable", reason=f"target lacks {flag[4:]}_session")
    driver = Driver(target)
    try:
        with origin_tracking():
            probe.run(driver)
    except NotApplicable as why:
        return ProbeResult(probe, "not_applicable", reason=str(why))
    except ProbeFailed as failure:
        trace = Trace(probe.property_id, f"{probe.name}: {failure}", tuple(driver.steps))
        return ProbeResult(probe, "violated", trace, str(failure))
    finally:
        for hold in list(driver.provider.holds.values()):
            hold.finish("fail")
    return ProbeResult(probe, "passed")
