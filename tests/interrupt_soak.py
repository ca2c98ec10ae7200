"""A soak with real signals: SIGALRM every millisecond raises KeyboardInterrupt in the
main thread while it loops over turns, queries, waiting commits and short drains, and
another thread drains now and then too.

Usage: python tests/interrupt_soak.py native|compat SECONDS. Exits 1 when the
lock is left held, the lifecycle is left draining, a session is left in flight
without a running call, or the drain that follows does not commit everything before
its deadline.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from types import FrameType


class Agent:
    """A provider that always succeeds."""

    def commit_memory_session(self) -> None:
        return None


IN_HARNESS = True
"""True while the soak's own bookkeeping runs: signals then raise nothing. It is set
by plain stores, where no signal can land, so only the lifecycle is interrupted."""


def interrupt(signum: int, frame: FrameType | None) -> None:
    if not IN_HARNESS:
        raise KeyboardInterrupt


def main() -> int:
    api, seconds = sys.argv[1], float(sys.argv[2])
    if api == "native":
        from memory_lifecycle import SessionLifecycle

        lifecycle = SessionLifecycle()
        calls = (
            lifecycle.register_agent,
            lifecycle.complete_turn,
            lifecycle.has_uncommitted_work,
            lifecycle.commit,
            lifecycle.drain,
        )
    else:
        import memory_lifecycle.compat as compat

        lifecycle = compat._lifecycle
        calls = (
            compat.register_agent,
            compat.mark_turn_completed,
            compat.has_uncommitted_work,
            compat.commit_session_memory,
            compat.drain_all_on_shutdown,
        )
    register, complete_turn, has_uncommitted_work, commit, drain_by = calls

    def operate(session_id: str, agent: Agent) -> None:
        register(session_id, agent)
        complete_turn(session_id)
        has_uncommitted_work(session_id)
        commit(session_id, wait=True, timeout=0.01)

    def drain() -> None:
        drain_by(0.02)

    sessions = [f"s{number}" for number in range(8)]
    agents = {session_id: Agent() for session_id in sessions}
    choose = random.Random(0).choice
    operations = interrupts = 0
    global IN_HARNESS
    signal.signal(signal.SIGALRM, interrupt)
    end = time.monotonic() + seconds

    def drain_now_and_then() -> None:
        while time.monotonic() < end:
            drain()
            time.sleep(0.003)

    other = threading.Thread(target=drain_now_and_then, name="other drainer")
    other.start()
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    try:
        while time.monotonic() < end:
            session_id = choose(sessions)
            try:
                IN_HARNESS = False
                if operations % 20 == 19:
                    drain()
                else:
                    operate(session_id, agents[session_id])
                IN_HARNESS = True
                operations += 1
            except KeyboardInterrupt:
                IN_HARNESS = True
                interrupts += 1
            except RuntimeError as error:
                # CPython's own Thread.start, interrupted inside its Condition, can
                # raise this instead; what matters is what the lifecycle is left in.
                IN_HARNESS = True
                if "release unlocked lock" not in str(error):
                    raise
                interrupts += 1
    finally:
        IN_HARNESS = True
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
    other.join(5.0)
    print(f"{operations} operations, {interrupts} interrupts")
    if not lifecycle.lock.acquire(timeout=5.0):
        print("the lock was left held")
        return 1
    lifecycle.lock.release()
    # A second interruption inside a call's own cleanup leaves the rest to the next
    # call of any thread (README); settle() is that next call.
    lifecycle.settle()
    if lifecycle.draining:
        print("the lifecycle was left draining after every drain returned and settle()")
        return 1
    report = lifecycle.drain(5.0)
    if report.still_dirty or report.in_flight or report.deadline_passed:
        print(f"left behind: dirty {report.still_dirty}, in flight {report.in_flight}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
