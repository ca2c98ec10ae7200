"""Scripted memory providers: agents whose ``commit_memory_session()`` the checks control.

One ``Provider`` serves every ``FakeAgent`` of a check. Per session it holds a
*mode* (how an ordinary call ends: ``ok``, ``fail`` raises an ``Exception``,
``abort`` raises a ``BaseException``), an optional *hold* (the next call blocks
until the check releases it), and an optional *hook* run inside the call (for
re-entrant calls). It logs every call and notices two calls of one session
running at once (S5). Every wait in here is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

MODES = ("ok", "fail", "abort")
"""How an ordinary provider call ends."""

HOLD_BOUND = 10.0
"""Seconds a held call waits for its release before giving up (raising)."""


class ProviderFailure(RuntimeError):
    """The scripted provider failed (an ordinary ``Exception``)."""


class ProviderAbort(BaseException):
    """The scripted provider was interrupted (a ``BaseException``, like KeyboardInterrupt)."""


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
            if outcome == "fail":
                raise ProviderFailure(f"scripted provider failure in session {session_id!r}")
            if outcome == "abort":
                raise ProviderAbort(f"scripted provider abort in session {session_id!r}")
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
