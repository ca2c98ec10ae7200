"""Scripted memory providers: the one vocabulary of provider behaviour, and real-thread fakes.

Every checker scripts providers with the same words (``BEHAVIOURS``):

- ``ok``: return normally;
- ``fail``: raise ``ProviderFailure`` (an ``Exception``);
- ``abort``: raise ``KeyboardInterrupt`` (a ``BaseException``, as Ctrl-C would);
- ``hang``: block until the check releases hung providers, then return;
- ``slow``: take a long time (``SLOW_SECONDS``), then return;
- ``reenter``: commit its own session again from inside the call;
- ``reenter_wait``: the same, waiting for the result (``wait=True``);
- ``wait_on:SESSION``: once SESSION's provider call is running too, commit
  SESSION with ``wait=True`` from inside the call (two such providers make a
  wait cycle across sessions);
- ``drain``: call ``drain_all_on_shutdown`` from inside the call.

``MODES`` are the ways an ordinary call ends (``ok``, ``fail``, ``abort``);
``ended_text`` says how a call ended in a trace (``raised KeyboardInterrupt``).

One ``Provider`` serves every ``FakeAgent`` of a real-thread check. Per session
it holds a *mode*, an optional *hold* (the next call blocks until the check
releases it), and an optional *hook* run inside the call (for re-entrant
calls). It logs every call and notices two calls of one session running at
once (S5). Every wait in here is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

MODES = ("ok", "fail", "abort")
"""How an ordinary provider call ends."""

BEHAVIOURS = ("ok", "fail", "abort", "hang", "slow", "reenter", "reenter_wait", "wait_on", "drain")
"""Every scripted behaviour (``wait_on`` takes a session: ``wait_on:t``)."""

SLOW_SECONDS = 10.0
"""How long a ``slow`` provider call takes (virtual seconds in the explorer)."""

HOLD_BOUND = 10.0
"""Seconds a held call waits for its release before giving up (raising)."""


class ProviderFailure(RuntimeError):
    """The scripted provider failed (an ordinary ``Exception``)."""


ProviderAbort = KeyboardInterrupt
"""What an aborting provider raises: a real ``KeyboardInterrupt``, as Ctrl-C would."""


def parse_behaviour(text: str) -> tuple[str, str]:
    """``(kind, argument)`` of one scripted behaviour; ValueError for an unknown one."""
    kind, _, argument = text.partition(":")
    if kind not in BEHAVIOURS or (kind == "wait_on") != bool(argument):
        raise ValueError(
            f"unknown provider behaviour {text!r}; use one of {', '.join(BEHAVIOURS)} "
            f"(wait_on takes a session: 'wait_on:t')"
        )
    return kind, argument


def end_as(mode: str, where: str) -> None:
    """End a provider call as ``mode`` says: return, or raise the scripted exception."""
    if mode == "fail":
        raise ProviderFailure(f"scripted provider failure ({where})")
    if mode == "abort":
        raise ProviderAbort(f"scripted interrupt ({where})")


def ended_text(error: BaseException | None) -> str:
    """How a call ended, for a trace: ``returned`` or ``raised KeyboardInterrupt``."""
    return "returned" if error is None else f"raised {type(error).__name__}"


class ProviderNeverReleased(RuntimeError):
    """A held call waited ``HOLD_BOUND`` seconds without being released."""


@dataclass(frozen=True)
class Call:
    """One provider call: which session's agent was called, and whether it overlapped."""

    session_id: str
    agent_name: str
    overlapping: bool


@dataclass
class Hold:
    """A provider call the check keeps in flight until it sets ``outcome`` and ``release``."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    outcome: str = "ok"
    agent_name: str | None = None
    notify: threading.Event | None = None
    """Also set when the call enters the provider (so one Event can wait for several things)."""

    def finish(self, outcome: str) -> None:
        """Let the held call end with ``outcome`` (one of ``MODES``)."""
        self.outcome = outcome
        self.release.set()


class Provider:
    """The shared script and log behind every ``FakeAgent`` of one check."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.active: dict[str, int] = {}
        self.modes: dict[str, str] = {}
        self.holds: dict[str, Hold] = {}
        self.hooks: dict[str, Callable[[], None]] = {}

    def agent(self, session_id: str, name: str) -> FakeAgent:
        """A new agent of ``session_id`` named ``name`` (unique within the check)."""
        return FakeAgent(self, session_id, name)

    def hold_next(self, session_id: str) -> Hold:
        """Make the next call of ``session_id`` block until released."""
        hold = Hold()
        with self.lock:
            self.holds[session_id] = hold
        return hold

    def cancel_hold(self, session_id: str) -> None:
        """Forget an unused hold of ``session_id``."""
        with self.lock:
            self.holds.pop(session_id, None)

    def call_count(self) -> int:
        """Calls logged so far."""
        with self.lock:
            return len(self.calls)

    def calls_since(self, start: int) -> list[Call]:
        """Calls logged since the log had ``start`` entries."""
        with self.lock:
            return self.calls[start:]

    def run(self, agent: FakeAgent) -> None:
        """Carry out one call of ``agent.commit_memory_session()``."""
        session_id = agent.session_id
        with self.lock:
            overlapping = self.active.get(session_id, 0) > 0
            self.active[session_id] = self.active.get(session_id, 0) + 1
            self.calls.append(Call(session_id, agent.name, overlapping))
            hold = None if overlapping else self.holds.pop(session_id, None)
            outcome = self.modes.get(session_id, "ok")
            hook = self.hooks.get(session_id)
        try:
            if hold is not None:
                hold.agent_name = agent.name
                hold.entered.set()
                if hold.notify is not None:
                    hold.notify.set()
                if not hold.release.wait(HOLD_BOUND):
                    raise ProviderNeverReleased(
                        f"held call of session {session_id!r} was never released"
                    )
                outcome = hold.outcome
            if hook is not None:
                hook()
            end_as(outcome, f"session {session_id!r}")
        finally:
            with self.lock:
                self.active[session_id] -= 1


class FakeAgent:
    """An agent handle whose provider call follows the shared ``Provider`` script."""

    def __init__(self, provider: Provider, session_id: str, name: str) -> None:
        self.provider = provider
        self.session_id = session_id
        self.name = name

    def commit_memory_session(self) -> None:
        """The provider call the lifecycle under test makes."""
        self.provider.run(self)

    def __repr__(self) -> str:
        return f"<agent {self.name}>"


class BareAgent:
    """An agent object without ``commit_memory_session`` (a misconfigured host)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<bare agent {self.name}>"
