"""Agents for shell tests: providers whose calls a test can hold, fail and count."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

WAIT = 10.0
"""Upper bound on every wait in the tests; reaching it is a failure, not a delay."""


class GatedAgent:
    """An agent whose ``commit_memory_session`` can be held open and made to raise.

    ``entered`` is set when a call begins; a held call returns once ``release``
    is set. ``raises`` (an exception instance) makes calls fail; ``on_call`` runs
    inside the call (for re-entrant providers).
    """

    def __init__(self, name: str, *, hold: bool = False) -> None:
        self.name = name
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.raises: BaseException | None = None
        self.on_call: Callable[[], object] | None = None
        self.on_call_result: object = None
        self._lock = threading.Lock()

    def commit_memory_session(self) -> None:
        with self._lock:
            self.calls += 1
        self.entered.set()
        if not self.release.wait(WAIT):
            raise AssertionError(f"{self.name}: held call never released")
        if self.on_call is not None:
            self.on_call_result = self.on_call()
        if self.raises is not None:
            raise self.raises

    def __repr__(self) -> str:
        return f"<agent {self.name}>"


def start(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run ``target`` on a daemon thread; its return value (or exception) lands in the list."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(target())
        except BaseException as error:
            box.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def join(thread: threading.Thread) -> None:
    """Join with the test bound; fail when the thread hangs."""
    thread.join(WAIT)
    assert not thread.is_alive(), "thread hung"


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` until true, within the test bound."""
    event = threading.Event()
    for _ in range(int(WAIT / 0.005)):
        if predicate():
            return
        event.wait(0.005)
    raise AssertionError(f"timed out waiting until {what}")


def held_session(
    register: Callable[[Hashable, GatedAgent], object],
    complete_turn: Callable[[Hashable], object],
    session_id: Hashable = "s",
    *,
    name: str = "a",
) -> GatedAgent:
    """Register an agent that holds its calls open, then complete one turn under it.

    ``register`` and ``complete_turn`` are the API's own calls (the native shell's
    ``register_agent`` and ``complete_turn``, or the drop-in's ``register_agent`` and
    ``mark_turn_completed``), so the session is dirty, owned, and its next provider
    call waits for ``release``.
    """
    agent = GatedAgent(name, hold=True)
    register(session_id, agent)
    complete_turn(session_id)
    return agent


def start_held(
    call: Callable[[], object], agent: GatedAgent
) -> tuple[threading.Thread, list[object]]:
    """Start ``call`` on a thread (see ``start``); return once ``agent``'s held call began."""
    thread, box = start(call)
    assert agent.entered.wait(WAIT)
    return thread, box


def commit_running_behind_a_new_turn(
    complete_turn: Callable[..., object],
    commit: Callable[[Hashable], object],
    session_id: Hashable = "s",
) -> tuple[GatedAgent, threading.Thread]:
    """Complete a turn under a held agent, start its commit on a thread, and complete a
    second turn while that provider call runs.

    ``complete_turn`` takes the session id and an ``agent`` keyword (the native
    ``complete_turn``, the drop-in's ``mark_turn_completed``); ``commit`` the
    session id. Returns the agent (release it to end the call) and the thread.
    """
    agent = GatedAgent("a", hold=True)
    complete_turn(session_id, agent=agent)
    thread, _ = start_held(lambda: commit(session_id), agent)
    complete_turn(session_id)
    return agent, thread
