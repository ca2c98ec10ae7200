"""Differential comparison: a target against a reference implementation of the same API.

``memory-lifecycle conform TARGET --reference MODULE`` is an oracle that does not
read the model: it runs the same generated, single-threaded call sequences on a
fresh copy of TARGET and of MODULE (typically the published hermes-webui module,
or the host's previous release) and compares, after every step, what the step
returned, which provider calls each agent received (and what any re-entrant call
made from inside a provider returned), and ``has_uncommitted_work`` of every
session.

Sequences mix registration, turns with and without an explicit agent, commits
with and without ``wait`` and an agent (including one without
``commit_memory_session``), discards and drains when both implementations have
them. Providers succeed, raise an ``Exception`` or a ``BaseException``, and can be
armed to call the lifecycle once from inside their call: complete a turn, commit
or discard their own session (the single-threaded way to meet a session whose
call is running), commit another session (whose provider may be armed to commit
the first: a wait cycle) or run the shutdown drain. Now and then a step passes
an argument of a kind the API does not take (``ODD_ARGUMENTS``): an unhashable
session id, a ``wait`` that is not a bool, a timeout that is a bool, NaN, a
string or too large for a float.

A difference is allowed only when a declared divergence (``divergences``)
explains it; the first one a divergence explains may end the comparison of that
session or of the sequence, as the divergence says, since the two states no
longer correspond. Every other difference is reported with its sequence, shrunk
until no step can be removed or simplified.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import shlex
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from .divergences import DECLARED, UNOBSERVABLE, Divergence, combined, load_divergences
from .target import BoundedCall, Target, TargetFactory, join_new_threads, origin_tracking

DIFFERENTIAL = "differential"
"""The name of this check in ``conform --checks``."""
SESSIONS = ("s1", "s2")
"""Sessions the sequences use; a falsy id ("") appears now and then too."""
OBSERVED = ("s1", "s2", "")
"""Sessions whose ``has_uncommitted_work`` is compared after every step."""
GOOD_AGENTS = ("A", "B")
BAD_AGENT = "X"
"""The agent of each session that has no ``commit_memory_session``."""

STEP_BOUND = 1.0
"""Seconds a step may take before it counts as not returning."""
SETTLE_BOUND = 2.0
"""Seconds to wait for threads a step started (follow-ups, drain workers)."""
DRAIN_DEADLINE = 5.0
"""The deadline passed to a drain that takes one."""
MAX_FINDINGS = 5
"""Distinct undeclared differences collected before the search stops."""
SHRINK_RUNS = 300
"""Sequence runs one shrink may spend."""
SHRINK_SECONDS = 30.0
"""Seconds one shrink may spend (calls that never return cost a bound each)."""


@dataclass(frozen=True)
class DifferentialBudget:
    """How many sequences, of up to how many steps."""

    name: str
    sequences: int
    max_steps: int


BUDGETS: dict[str, DifferentialBudget] = {
    "quick": DifferentialBudget("quick", 300, 16),
    "standard": DifferentialBudget("standard", 1000, 24),
    "thorough": DifferentialBudget("thorough", 5000, 32),
}


# --- sequences -----------------------------------------------------------------


@dataclass(frozen=True)
class OddArgument:
    """An argument of a kind the API does not take, passed in place of one it does."""

    parameter: str
    """``session_id``, ``wait`` or ``timeout``."""
    text: str
    """How the call is shown with it."""
    make: Callable[[], Any]


ODD_ARGUMENTS: dict[str, OddArgument] = {
    "unhashable id": OddArgument("session_id", "['s1']", lambda: ["s1"]),
    "falsy unhashable id": OddArgument("session_id", "[]", lambda: []),
    "wait=1": OddArgument("wait", "wait=1", lambda: 1),
    "wait='yes'": OddArgument("wait", "wait='yes'", lambda: "yes"),
    "timeout=True": OddArgument("timeout", "wait=True, timeout=True", lambda: True),
    "timeout=NaN": OddArgument("timeout", "wait=True, timeout=nan", lambda: math.nan),
    "timeout='1'": OddArgument("timeout", "wait=True, timeout='1'", lambda: "1"),
    "timeout=10**400": OddArgument("timeout", "wait=True, timeout=10**400", lambda: 10**400),
}
"""Odd arguments a step may pass, by name; a timeout comes with ``wait=True``."""
ID_CALLS = ("register", "unregister", "turn", "commit", "discard")
"""Calls that take a session id (an odd id may replace it)."""


def _timeout_text(timeout: float | None) -> str:
    return "None" if timeout is None else f"{timeout:g}"


@dataclass(frozen=True)
class Action:
    """A call a provider makes from inside its own provider call, once."""

    kind: str
    """``turn``, ``commit``, ``discard`` or ``drain``."""
    session: str
    wait: bool = False
    timeout: float | None = None

    def describe(self) -> str:
        if self.kind == "turn":
            return f"mark_turn_completed({self.session!r})"
        if self.kind == "discard":
            return f"discard_session({self.session!r})"
        if self.kind == "drain":
            return "drain_all_on_shutdown()"
        options = f", wait=True, timeout={_timeout_text(self.timeout)}" if self.wait else ""
        return f"commit_session_memory({self.session!r}{options})"


MODE_TEXT = {"ok": "succeed", "fail": "raise an Exception", "interrupt": "raise a BaseException"}


@dataclass(frozen=True)
class Op:
    """One step of a sequence: an API call, or a change to a provider's script."""

    kind: str
    """register, unregister, turn, commit, discard, drain (calls); mode, arm (providers)."""
    session: str = ""
    agent: str | None = None
    """Agent name, ``session.letter`` (``s1.A``; ``s1.X`` has no commit_memory_session)."""
    wait: bool = False
    timeout: float | None = None
    mode: str = "ok"
    action: Action | None = None
    odd: str | None = None
    """Name of an ``ODD_ARGUMENTS`` entry passed in place of the usual argument."""

    @property
    def calls_target(self) -> bool:
        return self.kind not in ("mode", "arm")

    def describe(self) -> str:
        if self.odd is not None:
            return self._describe_odd(ODD_ARGUMENTS[self.odd])
        agent = self.agent
        if self.kind == "register":
            return f"register_agent({self.session!r}, {agent})"
        if self.kind == "unregister":
            return f"unregister_agent({self.session!r})"
        if self.kind == "turn":
            extra = f", agent={agent}" if agent else ""
            return f"mark_turn_completed({self.session!r}{extra})"
        if self.kind == "commit":
            parts = [repr(self.session)]
            if agent:
                parts.append(agent)
            if self.wait:
                parts.append(f"wait=True, timeout={_timeout_text(self.timeout)}")
            return f"commit_session_memory({', '.join(parts)})"
        if self.kind == "discard":
            return f"discard_session({self.session!r})"
        if self.kind == "drain":
            return "drain_all_on_shutdown()"
        if self.kind == "mode":
            return f"provider {agent}: calls {MODE_TEXT[self.mode]} from now on"
        assert self.action is not None
        return f"provider {agent}: its next call first runs {self.action.describe()}"

    def _describe_odd(self, odd: OddArgument) -> str:
        if odd.parameter == "session_id":
            agent = f", {self.agent}" if self.kind == "register" else ""
            return f"{CALL_NAMES[self.kind]}({odd.text}{agent})"
        return f"commit_session_memory({self.session!r}, {odd.text})"


@dataclass(frozen=True)
class Capabilities:
    """Which optional calls both implementations have."""

    discard: bool
    drain: bool


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _session(rng: random.Random) -> str:
    """Mostly the first session, so that its history grows long; the second for isolation."""
    draw = rng.random()
    return "" if draw < 0.03 else SESSIONS[0] if draw < 0.73 else SESSIONS[1]


def _agent(rng: random.Random, session: str, bad: int = 0) -> str:
    owner = session or SESSIONS[0]
    if bad and rng.randrange(100) < bad:
        return f"{owner}.{BAD_AGENT}"
    return f"{owner}.{rng.choice(GOOD_AGENTS)}"


def _waiting(rng: random.Random, share: float) -> tuple[bool, float | None]:
    """``wait`` (with chance ``share``) and a timeout; rarely none, since a wait on a
    session that stays in flight then never ends in the reference."""
    if rng.random() >= share:
        return False, None
    return True, rng.choices([0.0, 0.02, None], weights=[47, 47, 6])[0]


def generate(rng: random.Random, length: int, capabilities: Capabilities) -> list[Op]:
    """A random sequence of ``length`` steps."""
    weights = {
        "register": 12,
        "unregister": 5,
        "turn": 24,
        "commit": 24,
        "mode": 9,
        "arm": 11,
        "odd": 1,
    }
    if capabilities.discard:
        weights["discard"] = 4
    if capabilities.drain:
        weights["drain"] = 3
    ops: list[Op] = []
    for _ in range(length):
        kind = _pick(rng, weights)
        session = _session(rng)
        if kind == "register":
            ops.append(Op("register", session, _agent(rng, session, bad=8)))
        elif kind in ("unregister", "discard"):
            ops.append(Op(kind, session))
        elif kind == "turn":
            agent = _agent(rng, session) if rng.random() < 0.5 else None
            ops.append(Op("turn", session, agent))
        elif kind == "commit":
            agent = _agent(rng, session, bad=25) if rng.random() < 0.4 else None
            wait, timeout = _waiting(rng, 0.1)
            ops.append(Op("commit", session, agent, wait, timeout))
        elif kind == "drain":
            ops.append(Op("drain"))
        elif kind == "odd":
            ops.append(_odd(rng, session or SESSIONS[0], capabilities))
        elif kind == "mode":
            mode = _pick(rng, {"ok": 5, "fail": 3, "interrupt": 2})
            ops.append(Op("mode", agent=_agent(rng, _session(rng)), mode=mode))
        else:
            owner = _session(rng) or SESSIONS[0]
            ops.append(
                Op("arm", agent=_agent(rng, owner), action=_action(rng, owner, capabilities))
            )
    return ops


def _odd(rng: random.Random, session: str, capabilities: Capabilities) -> Op:
    """A step passing one odd argument: an odd id to any call, odd flags to a commit."""
    odd = rng.choice(list(ODD_ARGUMENTS))
    if ODD_ARGUMENTS[odd].parameter != "session_id":
        return Op("commit", session, odd=odd)
    calls = [call for call in ID_CALLS if call != "discard" or capabilities.discard]
    kind = rng.choice(calls)
    agent = _agent(rng, session) if kind == "register" else None
    return Op(kind, session, agent, odd=odd)


def _action(rng: random.Random, owner: str, capabilities: Capabilities) -> Action:
    choices = {"turn": 35, "commit": 40, "other": 15}
    if capabilities.discard:
        choices["discard"] = 10
    if capabilities.drain:
        choices["drain"] = 5
    kind = _pick(rng, choices)
    if kind == "other":
        other = next(item for item in SESSIONS if item != owner)
        wait, timeout = _waiting(rng, 0.3)
        return Action("commit", other, wait, timeout)
    if kind == "commit":
        wait, timeout = _waiting(rng, 0.3)
        return Action("commit", owner, wait, timeout)
    return Action(kind, owner)


# --- running one implementation ------------------------------------------------


class ProviderFailed(RuntimeError):
    """A scripted provider call failing with an ordinary exception."""


class ProviderInterrupted(BaseException):
    """A scripted provider call interrupted by a BaseException (as by Ctrl-C)."""


@dataclass(frozen=True)
class Call:
    """One provider call as the provider saw it: the agent and how the call ended."""

    agent: str
    outcome: str
    """``ok``, ``failed`` (an Exception) or ``interrupted`` (a BaseException)."""

    def describe(self) -> str:
        return f"{self.agent} {self.outcome}"


@dataclass(frozen=True)
class Inner:
    """A call a provider made from inside its own call, and what it returned."""

    session: str
    """The session the call was about."""
    caller: str
    """The session whose provider made it."""
    text: str


@dataclass(frozen=True)
class Observation:
    """What one step did in one implementation."""

    result: str
    calls: tuple[Call, ...] = ()
    inner: tuple[Inner, ...] = ()
    dirty: tuple[tuple[str, str], ...] = ()
    """``(session, has_uncommitted_work)`` for every observed session, as text."""
    hung: bool = False

    def dirty_text(self) -> str:
        odd = [f"{sid!r}={value}" for sid, value in self.dirty if value not in ("True", "False")]
        shown = [repr(sid) for sid, value in self.dirty if value == "True"]
        return ", ".join(odd or shown) or "none"

    def describe(self) -> str:
        calls = ", ".join(call.describe() for call in self.calls) or "none"
        inner = "".join(f"; inside: {item.text}" for item in self.inner)
        return f"-> {self.result}; provider calls: {calls}{inner}; dirty: {self.dirty_text()}"


class _Agent:
    def __init__(self, run: _Implementation, name: str) -> None:
        self._run = run
        self.name = name

    def commit_memory_session(self) -> None:
        self._run.provider_call(self.name)

    def __repr__(self) -> str:
        return f"<agent {self.name}>"


class _BadAgent:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<agent {self.name} without commit_memory_session>"


def _outcome_text(value: Any = None, error: BaseException | None = None) -> str:
    return f"raised {type(error).__name__}" if error is not None else repr(value)


@dataclass(frozen=True)
class _View:
    """A session as the hermes-webui module's ``_sessions`` entry shows it."""

    registered: object
    in_flight: bool
    owners: tuple[object, ...]
    """Owner of each segment with uncommitted work, oldest first (None: no owner)."""


def hermes_view(api: object, session: str) -> _View | None:
    """The session from the module's ``_sessions`` (hermes-webui's dict shape), if readable."""
    sessions = getattr(api, "_sessions", None)
    if not isinstance(sessions, Mapping):
        return None
    try:
        entry = sessions.get(session)
        if entry is None:
            return _View(None, False, ())
        committed = entry["committed_generation"]
        owners = tuple(item["agent"] for item in entry["segments"] if item["end"] > committed)
        return _View(entry["agent"], bool(entry["in_flight"]), owners)
    except (KeyError, TypeError, AttributeError):
        return None


class _Implementation:
    """One fresh copy of an implementation and the scripted agents it is given.

    For the reference it also notes, from its ``_sessions``, the facts that some
    divergences' conditions need (an adoption that merges, a turn the target
    would coalesce).
    """

    def __init__(self, target: Target, reference: bool) -> None:
        self.target = target
        self.reference = reference
        self.lock = threading.Lock()
        self.modes: dict[str, str] = {}
        self.armed: dict[str, Action] = {}
        self.muted: set[str] = set()
        self.calls: list[Call] = []
        self.inner: list[Inner] = []
        self.active: Counter[str] = Counter()
        self.facts: set[tuple[str, str]] = set()
        self.origin = object()
        self.agents: dict[str, object] = {}
        for session in SESSIONS:
            for letter in GOOD_AGENTS:
                self.agents[f"{session}.{letter}"] = _Agent(self, f"{session}.{letter}")
            self.agents[f"{session}.{BAD_AGENT}"] = _BadAgent(f"{session}.{BAD_AGENT}")
        self.dirty: tuple[tuple[str, str], ...] = tuple((sid, "False") for sid in OBSERVED)

    def provider_call(self, name: str) -> None:
        """The body of every scripted ``commit_memory_session()``."""
        session = _session_of(name)
        with self.lock:
            action = self.armed.pop(name, None)
            mode = self.modes.get(name, "ok")
            self.active[session] += 1
        try:
            if action is not None:
                self._note(action)
                text = f"{action.describe()} -> {self._inner(action)}"
                with self.lock:
                    self.inner.append(Inner(action.session, session, text))
        finally:
            with self.lock:
                self.active[session] -= 1
                self.calls.append(Call(name, OUTCOMES[mode]))
                if mode == "interrupt":
                    self.facts.add((session, "base_exception"))
        if mode == "fail":
            raise ProviderFailed(f"scripted failure of {name}")
        if mode == "interrupt":
            raise ProviderInterrupted(f"scripted BaseException of {name}")

    def _note(self, action: Action) -> None:
        """Record what the action meets: a call of its session already running."""
        session = action.session
        with self.lock:
            busy = self.active[session] > 0
            self.facts.add((session, f"inner_{action.kind}"))
            if action.kind == "drain":
                self.facts.add((session, "inner_drain"))
            if busy and action.kind == "turn":
                self.facts.add((session, "busy_turn"))
            if busy and action.kind == "commit":
                self.facts.add((session, "busy_commit"))
                if action.wait:
                    self.facts.add((session, "busy_wait"))
        if not self.reference:
            return
        view = hermes_view(self.target.api, session)
        if view is None:
            return
        if action.kind == "commit" and merges_on_adoption(view, view.registered):
            self.facts.add((session, "adoption_merge"))
        if (
            action.kind == "turn"
            and view.in_flight
            and view.owners
            and view.owners[-1] is view.registered
        ):
            self.facts.add((session, "turn_coalesced"))

    def _inner(self, action: Action) -> str:
        try:
            if action.kind == "turn":
                value: Any = self.target.mark_turn_completed(action.session)
            elif action.kind == "discard":
                value = self.target.discard(action.session)
            elif action.kind == "drain":
                value = self.target.drain(DRAIN_DEADLINE)
            else:
                value = self.target.commit(action.session, None, action.wait, action.timeout)
        except BaseException as error:
            return _outcome_text(error=error)
        return _outcome_text(value)

    def _invoke(self, op: Op) -> Any:
        target = self.target
        agent = self.agents.get(op.agent) if op.agent else None
        session: Any = op.session
        wait: Any = op.wait
        timeout: Any = op.timeout
        if op.odd is not None:
            odd = ODD_ARGUMENTS[op.odd]
            if odd.parameter == "session_id":
                session = odd.make()
            elif odd.parameter == "wait":
                wait = odd.make()
            else:
                wait, timeout = True, odd.make()
        if op.kind == "register":
            return target.register_agent(session, agent)
        if op.kind == "unregister":
            return target.unregister_agent(session)
        if op.kind == "turn":
            return target.mark_turn_completed(session, agent)
        if op.kind == "commit":
            return target.commit(session, agent, wait, timeout)
        if op.kind == "discard":
            return target.discard(session)
        return target.drain(DRAIN_DEADLINE)

    def mute(self, session: str) -> None:
        """Disarm the agents of a session no longer compared, so they affect no other."""
        with self.lock:
            self.muted.add(session)
            for name in [name for name in self.armed if _session_of(name) == session]:
                del self.armed[name]

    def perform(self, op: Op) -> Observation:
        """Carry out one step, then observe every session."""
        if op.kind == "mode":
            assert op.agent is not None
            self.modes[op.agent] = op.mode
            return Observation("-", dirty=self.dirty)
        if op.kind == "arm":
            assert op.agent is not None and op.action is not None
            if _session_of(op.agent) not in self.muted:
                self.armed[op.agent] = op.action
            return Observation("-", dirty=self.dirty)
        with self.lock:
            calls_before, inner_before = len(self.calls), len(self.inner)
        threads_before = set(threading.enumerate())
        call = BoundedCall(lambda: self._invoke(op), "differential step", self.origin).start()
        ended = call.result(STEP_BOUND)
        if ended.hung:
            result, hung = f"no return within {STEP_BOUND:g} s", True
        else:
            join_new_threads(threads_before, SETTLE_BOUND, self.origin)
            self.dirty = self._observe()
            result, hung = _outcome_text(ended.value, ended.error), False
        with self.lock:
            calls = tuple(self.calls[calls_before:])
            inner = tuple(self.inner[inner_before:])
        return Observation(result, calls, inner, self.dirty, hung)

    def _observe(self) -> tuple[tuple[str, str], ...]:
        def look() -> tuple[tuple[str, str], ...]:
            values = []
            for sid in OBSERVED:
                try:
                    values.append((sid, _outcome_text(self.target.has_uncommitted_work(sid))))
                except Exception as error:
                    values.append((sid, _outcome_text(error=error)))
            return tuple(values)

        seen = BoundedCall(look, "differential observation", self.origin).start().result(STEP_BOUND)
        if seen.hung or seen.error is not None:
            return tuple((sid, "no answer") for sid in OBSERVED)
        value: tuple[tuple[str, str], ...] = seen.value
        return value

    def close(self) -> None:
        """Release anything left waiting (a wedged commit, a hung drain) by resetting."""
        reset = getattr(self.target.api, "_reset_for_tests", None)
        if callable(reset):
            BoundedCall(reset, "differential reset", self.origin).start().result(STEP_BOUND)


OUTCOMES = {"ok": "ok", "fail": "failed", "interrupt": "interrupted"}


def merges_on_adoption(view: _View, adopter: object) -> bool:
    """True when a commit adopting with ``adopter`` takes its next segment too in the target."""
    return (
        adopter is not None
        and len(view.owners) >= 2
        and view.owners[0] is None
        and view.owners[1] is adopter
    )


# --- comparing -----------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One aspect of one step on which the target and the reference disagree."""

    session: str | None
    """The session it concerns; None for a drain's own return value."""
    aspect: str
    """``result``, ``calls``, ``inner`` or ``dirty``."""
    target: str
    reference: str

    def describe(self) -> str:
        what = {
            "result": "returned",
            "calls": "provider calls",
            "inner": "calls from inside a provider",
            "dirty": "has_uncommitted_work",
        }[self.aspect]
        where = "" if self.session is None else f" ({self.session!r})"
        return f"{what}{where}: target {self.target}, reference {self.reference}"


def _session_of(agent: str) -> str:
    return agent.split(".")[0]


def _calls_of(observation: Observation, session: str) -> dict[str, list[Call]]:
    found: dict[str, list[Call]] = {}
    for call in observation.calls:
        if _session_of(call.agent) == session:
            found.setdefault(call.agent, []).append(call)
    return found


def _calls_text(calls: dict[str, list[Call]]) -> str:
    return ", ".join(call.describe() for items in calls.values() for call in items) or "none"


def _inner_of(observation: Observation, session: str) -> list[str]:
    return [item.text for item in observation.inner if item.session == session]


def compare(op: Op, target: Observation, reference: Observation) -> list[Difference]:
    """Every aspect of the step on which the two observations disagree."""
    found: list[Difference] = []
    own = None if op.kind == "drain" else op.session
    if target.result != reference.result:
        found.append(Difference(own, "result", target.result, reference.result))
    if target.hung or reference.hung:
        return found
    for session in SESSIONS:
        mine, theirs = _calls_of(target, session), _calls_of(reference, session)
        if mine != theirs:
            found.append(Difference(session, "calls", _calls_text(mine), _calls_text(theirs)))
        said, heard = _inner_of(target, session), _inner_of(reference, session)
        if said != heard:
            found.append(
                Difference(session, "inner", "; ".join(said) or "none", "; ".join(heard) or "none")
            )
    for (session, mine_dirty), (_, theirs_dirty) in zip(target.dirty, reference.dirty, strict=True):
        if mine_dirty != theirs_dirty:
            found.append(Difference(session, "dirty", mine_dirty, theirs_dirty))
    return found


@dataclass(frozen=True)
class StepContext:
    """What an allowance may look at: the step, both observations, the session."""

    op: Op
    target: Observation
    reference: Observation
    session: str | None
    differences: tuple[Difference, ...]


def _aspects(context: StepContext) -> set[str]:
    return {item.aspect for item in context.differences}


def _cleaner_target(context: StepContext) -> bool:
    return all(
        item.target == "False" and item.reference == "True"
        for item in context.differences
        if item.aspect == "dirty"
    )


def _contains(bigger: list[Call], smaller: list[Call]) -> bool:
    have = Counter(bigger)
    have.subtract(Counter(smaller))
    return all(count >= 0 for count in have.values())


def _commits_more(context: StepContext, swap: bool) -> bool:
    if context.session is None or "result" in _aspects(context) or not _cleaner_target(context):
        return False
    mine = _calls_of(context.target, context.session)
    theirs = _calls_of(context.reference, context.session)
    bigger, smaller = (theirs, mine) if swap else (mine, theirs)
    return all(
        _contains(bigger.get(agent, []), smaller.get(agent, []))
        for agent in set(bigger) | set(smaller)
    )


def _drain_schedule(context: StepContext) -> bool:
    if context.session is None or not _aspects(context) <= {"calls", "inner"}:
        return False
    mine = _calls_of(context.target, context.session)
    theirs = _calls_of(context.reference, context.session)
    if set(mine) != set(theirs):
        return False
    for agent, calls in mine.items():
        pair = (calls, theirs[agent])
        succeeded = [sum(call.outcome == "ok" for call in side) for side in pair]
        kinds = [{call.outcome for call in side} for side in pair]
        if succeeded[0] != succeeded[1] or kinds[0] != kinds[1]:
            return False
    return True


CALL_NAMES = {
    "register": "register_agent",
    "unregister": "unregister_agent",
    "turn": "mark_turn_completed",
    "commit": "commit_session_memory",
    "discard": "discard_session",
    "drain": "drain_all_on_shutdown",
}


def _results_of(call: str) -> Callable[[StepContext], bool]:
    """The allowance: only what ``call`` returned differs, in the step or from inside."""

    def masked(seen: Observation) -> list[str]:
        return [
            f"{item.text.split(' -> ')[0]} -> *" if item.text.startswith(f"{call}(") else item.text
            for item in seen.inner
        ]

    def allows(context: StepContext) -> bool:
        if not _aspects(context) <= {"result", "inner"}:
            return False
        if "result" in _aspects(context) and CALL_NAMES.get(context.op.kind) != call:
            return False
        return masked(context.target) == masked(context.reference)

    return allows


REFUSALS = ("raised TypeError", "raised ValueError", "raised OverflowError")
"""How a call that refuses its arguments ends."""


def _refuses(context: StepContext, reference: bool) -> bool:
    """One side refused the step's arguments: it raised and called no provider."""
    refusing = context.reference if reference else context.target
    return refusing.result in REFUSALS and not refusing.calls and not refusing.inner


ALLOWED: dict[str, Callable[[StepContext], bool]] = {
    "anything": lambda context: True,
    "reference_hangs": lambda context: context.reference.hung and not context.target.hung,
    "target_commits_more": lambda context: _commits_more(context, swap=False),
    "target_commits_sooner": lambda context: _commits_more(context, swap=True),
    "drain_schedule": _drain_schedule,
    "result_only": lambda context: _aspects(context) == {"result"},
    "target_refuses": lambda context: _refuses(context, reference=False),
    "reference_refuses": lambda context: _refuses(context, reference=True),
    **{f"results_of:{call}": _results_of(call) for call in CALL_NAMES.values()},
}
"""The meaning of each name in ``divergences.ALLOWANCES``."""


def _odd_id(op: Op) -> bool:
    """The step passes an odd session id, so it is about none of the sessions compared."""
    return op.odd is not None and ODD_ARGUMENTS[op.odd].parameter == "session_id"


class _History:
    """Facts about the sequence so far that divergences' conditions read."""

    def __init__(self, reference: _Implementation) -> None:
        self.reference = reference
        self.facts: set[tuple[str, str]] = set()
        self.registered: dict[str, bool] = {}
        self.step: set[str] = set()

    def before(self, op: Op) -> None:
        """Note what the step's arguments and the reference's state say, before it runs."""
        if _odd_id(op):
            return
        bad = bool(op.agent and op.agent.endswith(f".{BAD_AGENT}"))
        if op.kind == "turn" and op.agent is None and not self.registered.get(op.session):
            self.facts.add((op.session, "ownerless_turn"))
        if op.kind == "commit" and bad:
            self.facts.add((op.session, "bad_agent_commit"))
        if op.kind not in ("commit", "drain"):
            return
        api = self.reference.target.api
        for session in SESSIONS if op.kind == "drain" else (op.session,):
            view = hermes_view(api, session)
            if view is None:
                continue
            adopter = view.registered
            if op.kind == "commit" and op.agent:
                adopter = self.reference.agents[op.agent]
            if bad and view.owners and view.owners[0] is None:
                self.facts.add((session, "bad_agent_adopts"))
            elif merges_on_adoption(view, adopter) or (
                # A drain commits segment after segment, so any ownerless one may be
                # adopted next to the registered agent's turns, some made from inside.
                op.kind == "drain" and adopter is not None and None in view.owners
            ):
                self.facts.add((session, "adoption_merge"))

    def after(self, op: Op, runs: Sequence[_Implementation], seen: Sequence[Observation]) -> None:
        """Take in what happened during the step in both implementations."""
        for run in runs:
            with run.lock:
                for session, fact in run.facts:
                    if fact == "inner_turn" and not self.registered.get(session):
                        self.facts.add((session, "ownerless_turn"))
                    self.facts.add((session, fact))
                run.facts.clear()
        if _odd_id(op):
            pass
        elif op.kind == "register":
            self.registered[op.session] = True
        elif op.kind == "unregister":
            self.registered[op.session] = False
        elif op.kind == "turn" and op.agent:
            self.registered[op.session] = True
        self.step = {f"step_{op.kind}"} if op.calls_target else set()
        if op.odd is not None:
            self.step.add("step_odd_argument")
        if any(call.outcome == "interrupted" for item in seen for call in item.calls):
            self.step.add("step_base_exception")

    def holds(self, condition: str, session: str) -> bool:
        if condition.startswith("step_"):
            return condition in self.step
        return (session, condition) in self.facts


def _explaining(
    divergences: Sequence[Divergence], history: _History, context: StepContext
) -> Divergence | None:
    for divergence in divergences:
        if divergence.scope == "session":
            if context.session is None or not all(
                history.holds(item, context.session) for item in divergence.when
            ):
                continue
        elif not any(
            all(history.holds(item, session) for item in divergence.when) for session in OBSERVED
        ):
            continue
        if ALLOWED[divergence.allows](context):
            return divergence
    return None


# --- one sequence --------------------------------------------------------------


@dataclass(frozen=True)
class StepRecord:
    """A step as both implementations saw it."""

    op: Op
    target: Observation
    reference: Observation


@dataclass
class SequenceOutcome:
    """How one sequence went."""

    records: list[StepRecord] = field(default_factory=list)
    undeclared: tuple[Difference, ...] = ()
    explained: Counter[str] = field(default_factory=Counter)
    hung: bool = False

    @property
    def failing_step(self) -> int:
        return len(self.records) - 1

    def signature(self) -> tuple[str, ...]:
        """The shape of the step that differed: its call and the kind of agent it passed."""
        return _shape(self.records[-1].op)


def _shape(op: Op) -> tuple[str, ...]:
    agent = "none" if not op.agent else "bad" if op.agent.endswith(f".{BAD_AGENT}") else "agent"
    return (op.kind, agent)


def run_sequence(
    ops: Sequence[Op],
    target: TargetFactory,
    reference: TargetFactory,
    divergences: Sequence[Divergence] = DECLARED,
) -> SequenceOutcome:
    """Run ``ops`` on fresh copies of both; stop at the first undeclared difference."""
    runs = (
        _Implementation(target(), reference=False),
        _Implementation(reference(), reference=True),
    )
    history = _History(runs[1])
    outcome = SequenceOutcome()
    stopped: set[str] = set()
    with ExitStack() as cleanup:
        cleanup.enter_context(origin_tracking())
        for run in runs:
            cleanup.callback(run.close)
        for op in ops:
            history.before(op)
            mine, theirs = runs[0].perform(op), runs[1].perform(op)
            history.after(op, runs, (mine, theirs))
            outcome.records.append(StepRecord(op, mine, theirs))
            verdict = _judge(op, mine, theirs, history, divergences, stopped)
            outcome.explained.update(verdict.explained)
            for session in verdict.stop:
                stopped.add(session)
                for run in runs:
                    run.mute(session)
            if verdict.unexplained:
                outcome.undeclared = verdict.unexplained
                return outcome
            if verdict.stop_sequence or mine.hung or theirs.hung:
                outcome.hung = mine.hung or theirs.hung
                return outcome
    return outcome


@dataclass
class _Verdict:
    explained: Counter[str] = field(default_factory=Counter)
    unexplained: tuple[Difference, ...] = ()
    stop: set[str] = field(default_factory=set)
    stop_sequence: bool = False


def _judge(
    op: Op,
    mine: Observation,
    theirs: Observation,
    history: _History,
    divergences: Sequence[Divergence],
    stopped: set[str],
) -> _Verdict:
    """Explain every difference of one step by a divergence, or say which are left.

    Differences of sessions no longer compared are ignored, and so is a drain's
    return value once any session is (unless the target hangs). A difference in
    a session that a provider of an explained session reached from inside its
    call is explained with it.
    """
    verdict = _Verdict()
    groups: dict[str | None, list[Difference]] = {}
    for item in compare(op, mine, theirs):
        if item.session in stopped or (item.session is None and stopped and not mine.hung):
            continue
        groups.setdefault(item.session, []).append(item)
    reasons: dict[str | None, Divergence] = {}
    for session, group in groups.items():
        context = StepContext(op, mine, theirs, session, tuple(group))
        divergence = _explaining(divergences, history, context)
        if divergence is not None:
            reasons[session] = divergence
    changed = True
    while changed:
        changed = False
        for session in groups:
            if session in reasons or session is None:
                continue
            reached_from = {
                item.caller
                for seen in (mine, theirs)
                for item in seen.inner
                if item.session == session and item.caller in reasons
            }
            if reached_from:
                reasons[session] = reasons[min(reached_from)]
                changed = True
    for session, group in groups.items():
        divergence = reasons.get(session)
        if divergence is None:
            verdict.unexplained += tuple(group)
            continue
        verdict.explained[divergence.id] = 1
        if divergence.then == "stop-sequence":
            verdict.stop_sequence = True
        elif divergence.then == "stop-session":
            verdict.stop.update(OBSERVED if session is None else (session,))
    return verdict


# --- shrinking -----------------------------------------------------------------


def _simpler(op: Op) -> list[Op]:
    """Variants of ``op`` that do less."""
    found: list[Op] = []
    if op.odd is not None:
        found.append(replace(op, odd=None))
    if op.kind == "commit" and op.wait:
        found.append(replace(op, wait=False, timeout=None))
    if op.kind in ("commit", "turn") and op.agent:
        found.append(replace(op, agent=None))
    if op.kind == "mode" and op.mode == "interrupt":
        found.append(replace(op, mode="fail"))
    if op.kind == "arm" and op.action is not None and op.action.wait:
        found.append(replace(op, action=replace(op.action, wait=False, timeout=None)))
    if op.session == "s2":
        found.append(_renamed(op, "s2", "s1"))
    return found


def _renamed(op: Op, old: str, new: str) -> Op:
    agent = op.agent
    if agent and agent.startswith(f"{old}."):
        agent = new + agent[len(old) :]
    action = op.action
    if action is not None and action.session == old:
        action = replace(action, session=new)
    return replace(op, session=new if op.session == old else op.session, agent=agent, action=action)


def shrink(
    ops: Sequence[Op],
    still_differs: Callable[[Sequence[Op]], SequenceOutcome | None],
    budget: int = SHRINK_RUNS,
) -> list[Op]:
    """A shorter, simpler sequence for which ``still_differs`` still finds the difference.

    Removes runs of steps (halving their length down to one), then simplifies
    single steps, until nothing more can go or ``budget`` runs (or
    ``SHRINK_SECONDS``) are spent.
    """
    current = list(ops)
    runs = 0
    ends_at = time.monotonic() + SHRINK_SECONDS

    def attempt(candidate: list[Op]) -> bool:
        nonlocal current, runs
        if runs >= budget or not candidate or time.monotonic() > ends_at:
            return False
        runs += 1
        found = still_differs(candidate)
        if found is None:
            return False
        current = candidate[: found.failing_step + 1]
        return True

    changed = True
    while changed and runs < budget and time.monotonic() <= ends_at:
        changed = False
        size = max(1, len(current) // 2)
        while size >= 1:
            start = 0
            while start < len(current):
                if attempt(current[:start] + current[start + size :]):
                    changed = True
                else:
                    start += size
            size //= 2
        for index in range(len(current)):
            for simpler in _simpler(current[index]) if index < len(current) else []:
                if attempt([*current[:index], simpler, *current[index + 1 :]]):
                    changed = True
                    break
    return current


# --- the whole comparison ------------------------------------------------------


@dataclass
class Finding:
    """An undeclared difference and the shortest sequence found that shows it."""

    records: list[StepRecord]
    differences: tuple[Difference, ...]
    sequence: int
    """Number of the generated sequence that first showed it."""
    generated_length: int

    def format(self) -> str:
        """The shrunk sequence as numbered steps, what each side did, and what differs."""
        aspects = ", ".join(sorted({item.aspect for item in self.differences}))
        lines = [f"undeclared difference at step {len(self.records)}: {aspects}"]
        width = len(str(len(self.records)))
        pad = " " * (width + 4)
        for number, record in enumerate(self.records, start=1):
            lines.append(f"  {number:>{width}}. {record.op.describe()}")
            if not record.op.calls_target:
                continue
            if record.target == record.reference:
                lines.append(f"{pad}both:      {record.target.describe()}")
            else:
                lines.append(f"{pad}target:    {record.target.describe()}")
                lines.append(f"{pad}reference: {record.reference.describe()}")
        lines.extend(f"  differs: {item.describe()}" for item in self.differences)
        lines.append(
            f"  (sequence {self.sequence}: {self.generated_length} steps as generated, "
            f"shrunk to {len(self.records)})"
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "signature": list(_shape(self.records[-1].op)),
            "steps": [
                {
                    "action": record.op.describe(),
                    "target": _observation_dict(record.target),
                    "reference": _observation_dict(record.reference),
                }
                for record in self.records
            ],
            "differences": [item.describe() for item in self.differences],
            "sequence": self.sequence,
            "generated_length": self.generated_length,
        }


def _observation_dict(seen: Observation) -> dict[str, Any]:
    return {
        "result": seen.result,
        "calls": [call.describe() for call in seen.calls],
        "dirty": seen.dirty_text(),
    }


@dataclass
class DifferentialReport:
    """What comparing a target with a reference found."""

    target: str
    reference: str
    budget: str
    seed: int
    divergences: tuple[Divergence, ...]
    sequences: int = 0
    steps: int = 0
    stopped_by_hang: int = 0
    unreproduced: int = 0
    """Differences that did not show again when their sequence was run once more."""
    exercised: Counter[str] = field(default_factory=Counter)
    """Divergence id -> sequences in which it explained a difference."""
    not_compared: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.findings

    def format(self) -> str:
        """A summary, the divergences exercised, then every finding."""
        lines = [
            f"differential comparison of {self.target} with {self.reference} "
            f"({self.budget} budget, seed {self.seed}, {self.duration_s:.1f} s)",
            f"  {self.sequences} sequences, {self.steps} steps compared"
            + (
                f"; {self.stopped_by_hang} ended at a call that did not return"
                if self.stopped_by_hang
                else ""
            ),
        ]
        if self.unreproduced:
            lines.append(
                f"  {self.unreproduced} difference(s) did not show again on a second run "
                f"(a call slower than {STEP_BOUND:g} s?) and are not reported"
            )
        for note in self.not_compared:
            lines.append(f"  not compared: {note}")
        lines.append("  declared divergences:")
        for divergence in self.divergences:
            count = self.exercised.get(divergence.id, 0)
            mark = f"explained differences in {count} sequences" if count else "not exercised"
            lines.append(f"    {divergence.id:<38} {divergence.property:<4} {mark}")
        unseen = ", ".join(f"{item.id} ({item.property})" for item in UNOBSERVABLE)
        lines.append(f"  declared, but shown by no call sequence: {unseen}")
        if self.passed:
            lines.append("  no undeclared difference")
            return "\n".join(lines)
        lines.append(
            f"  {len(self.findings)} undeclared difference(s) (agents sN.A and sN.B commit as "
            f"scripted; sN.X has no commit_memory_session):"
        )
        for finding in self.findings:
            lines.extend(["", finding.format()])
        replay = " ".join(
            shlex.quote(part)
            for part in (
                "memory-lifecycle",
                "conform",
                self.target,
                "--reference",
                self.reference,
                "--checks",
                DIFFERENTIAL,
                "--seed",
                str(self.seed),
                f"--{self.budget}",
            )
        )
        lines.extend(["", f"  replay: {replay}"])
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "reference": self.reference,
            "budget": self.budget,
            "seed": self.seed,
            "passed": self.passed,
            "sequences": self.sequences,
            "steps": self.steps,
            "unreproduced": self.unreproduced,
            "not_compared": self.not_compared,
            "divergences": [
                {
                    "id": item.id,
                    "property": item.property,
                    "allows": item.allows,
                    "why": item.why,
                    "exercised": self.exercised.get(item.id, 0),
                }
                for item in self.divergences
            ],
            "unobservable": [
                {"id": item.id, "property": item.property, "why": item.why} for item in UNOBSERVABLE
            ],
            "differences": [finding.as_dict() for finding in self.findings],
            "duration_s": round(self.duration_s, 3),
        }


def _capabilities(target: Target, reference: Target, report: DifferentialReport) -> Capabilities:
    both = Capabilities(
        discard=target.has_discard and reference.has_discard,
        drain=target.has_drain and reference.has_drain,
    )
    for call, mine, theirs in (
        ("discard_session", target.has_discard, reference.has_discard),
        ("drain_all_on_shutdown", target.has_drain, reference.has_drain),
    ):
        if not (mine and theirs):
            lacking = "the reference lacks it" if mine else "the target lacks it"
            report.not_compared.append(
                f"{call} ({lacking if mine or theirs else 'neither has it'})"
            )
    return both


def run_differential(
    target: str,
    reference: str,
    *,
    budget: str = "standard",
    seed: int = 0,
    divergences: Sequence[Divergence] = DECLARED,
    progress: Callable[[str], None] | None = None,
    factories: tuple[TargetFactory, TargetFactory] | None = None,
) -> DifferentialReport:
    """Compare ``target`` with ``reference`` over the budget's generated sequences.

    Both are module paths or ``.py`` files (see ``conformance.target``); raises
    ``TargetError`` when one cannot be loaded.
    """
    from .target import target_factory

    say = progress or (lambda _text: None)
    started = time.monotonic()
    chosen = BUDGETS[budget]
    make_target, make_reference = factories or (target_factory(target), target_factory(reference))
    report = DifferentialReport(target, reference, budget, seed, tuple(divergences))
    capabilities = _capabilities(make_target(), make_reference(), report)
    say(
        f"differential comparison with {reference}: {chosen.sequences} sequences of up to "
        f"{chosen.max_steps} steps (seed {seed})"
    )
    muted = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # both implementations log every failing provider call
    try:
        _search(report, chosen, seed, capabilities, (make_target, make_reference), say)
    finally:
        logging.disable(muted)
    report.duration_s = time.monotonic() - started
    return report


def _search(
    report: DifferentialReport,
    chosen: DifferentialBudget,
    seed: int,
    capabilities: Capabilities,
    factories: tuple[TargetFactory, TargetFactory],
    say: Callable[[str], None],
) -> None:
    make_target, make_reference = factories
    divergences = report.divergences
    seen: set[tuple[str, ...]] = set()

    def differs(ops: Sequence[Op], signature: tuple[str, ...]) -> SequenceOutcome | None:
        found = run_sequence(ops, make_target, make_reference, divergences)
        return found if found.undeclared and found.signature() == signature else None

    with origin_tracking():
        for number in range(chosen.sequences):
            if number and number % 100 == 0:
                say(f"differential: {number} sequences, {len(report.findings)} difference(s)")
            rng = random.Random(f"{seed}:{number}")
            ops = generate(rng, rng.randint(chosen.max_steps // 3, chosen.max_steps), capabilities)
            outcome = run_sequence(ops, make_target, make_reference, divergences)
            report.sequences += 1
            report.steps += len(outcome.records)
            report.stopped_by_hang += outcome.hung
            for divergence_id in outcome.explained:
                report.exercised[divergence_id] += 1
            if not outcome.undeclared:
                continue
            signature = outcome.signature()
            if signature in seen:
                continue
            failing = ops[: outcome.failing_step + 1]
            if differs(failing, signature) is None:
                report.unreproduced += 1  # a slow call on a loaded machine, most likely
                continue
            seen.add(signature)
            say(f"differential: sequence {number} differs ({' '.join(signature)}); shrinking")
            shrunk = shrink(failing, partial(differs, signature=signature))
            final = differs(shrunk, signature) or outcome
            report.findings.append(Finding(final.records, final.undeclared, number, len(ops)))
            if len(report.findings) >= MAX_FINDINGS or final.records[-1].target.hung:
                break  # a target call that never returns may leave threads stuck: stop here


# --- the command line ----------------------------------------------------------


def add_reference_options(parser: argparse.ArgumentParser) -> None:
    """``--reference MODULE`` and ``--divergences FILE`` for ``memory-lifecycle conform``."""
    parser.add_argument(
        "--reference",
        metavar="MODULE",
        help="also compare TARGET call by call with MODULE, another implementation of the API "
        "(the check 'differential'); a difference no declared divergence explains fails",
    )
    parser.add_argument(
        "--divergences",
        metavar="FILE",
        help="JSON or TOML file of divergences to allow besides the declared ones",
    )


def reference_checks(
    args: argparse.Namespace, checks: tuple[str, ...]
) -> tuple[tuple[str, ...], bool]:
    """The other checks to run, and whether to run the differential comparison.

    With ``--reference`` it always runs, besides the checks ``--checks`` names;
    ``--checks differential`` runs it alone.
    """
    if not args.reference:
        return checks, False
    return tuple(item for item in checks if item != DIFFERENTIAL), True


def run_reference(
    args: argparse.Namespace, budget: str, progress: Callable[[str], None]
) -> DifferentialReport:
    """The differential comparison the options ask for."""
    extra = load_divergences(args.divergences) if args.divergences else ()
    return run_differential(
        args.target,
        args.reference,
        budget=budget,
        seed=args.seed,
        divergences=combined(extra),
        progress=progress,
    )


def with_reference(output: str, compared: DifferentialReport | None, as_json: bool) -> str:
    """The conformance output with the differential comparison added (JSON: key "reference")."""
    if compared is None:
        return output
    if as_json:
        document = json.loads(output) if output else {}
        document["reference"] = compared.as_dict()
        return json.dumps(document, indent=2)
    return f"{output}\n\n{compared.format()}" if output else compared.format()
