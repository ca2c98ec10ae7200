"""A step that never returns is a finding, not a hang.

While ``step_watchdog(seconds)`` is active, a thread looks at the main thread's
stack a few times per ``seconds``. When one call of ``properties.answer`` (one
step of the step function) is still running ``seconds`` after it was first
seen, the watchdog raises ``StepTimedOut`` inside it, as a signal handler
would. Every caller of ``answer`` reports an exception of the step as a
``STEP`` violation with its trace, so this one is reported the same way, and
the search ends there (``timed_out``): more steps may never return either.

It needs the main thread and ``SIGALRM`` (POSIX); elsewhere it does nothing. A
step running compiled code is interrupted only once it runs Python code again.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

from ..properties import answer

DEFAULT_STEP_TIMEOUT = 10.0
"""Seconds one step may run; a step of the model takes microseconds."""


class StepTimedOut(Exception):
    """Raised inside a step that ran longer than the watchdog allows."""


class _Watch:
    """What the watchdog thread saw: the step running, and since when."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.step: FrameType | None = None
        """The frame of the ``answer`` call that has run longest, while it runs."""
        self.since = 0.0
        self.fired: FrameType | None = None
        """The step interrupted, until the main thread raises inside it."""
        self.timed_out = False
        """True once a step was interrupted."""


_active: list[_Watch] = []
"""The watch of the ``step_watchdog`` running (one at most: it needs the main thread)."""


def timed_out() -> bool:
    """True once the running ``step_watchdog`` interrupted a step (a search then ends)."""
    return bool(_active) and _active[-1].timed_out


@contextlib.contextmanager
def step_watchdog(seconds: float | None) -> Iterator[None]:
    """Interrupt any step that runs longer than ``seconds`` (None: no limit)."""
    if (
        seconds is None
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "SIGALRM")
    ):
        yield
        return
    watch = _Watch(seconds)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        fired, watch.fired = watch.fired, None
        if fired is not None and _on_stack(fired, frame):
            watch.timed_out = True
            raise StepTimedOut(f"the step did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch_steps,
        args=(watch, stop, threading.get_ident()),
        name="memory-lifecycle step watchdog",
        daemon=True,
    )
    watcher.start()
    _active.append(watch)
    try:
        yield
    finally:
        _active.remove(watch)
        stop.set()
        watcher.join()
        signal.signal(signal.SIGALRM, previous)
        watch.step = watch.fired = None


def _watch_steps(watch: _Watch, stop: threading.Event, main: int) -> None:
    """Look at the main thread's stack until ``stop``; interrupt a step that overran."""
    while not stop.wait(min(watch.seconds / 4, 1.0)):
        step = _running_step(sys._current_frames().get(main))
        now = time.monotonic()
        if step is None or step is not watch.step:
            watch.step, watch.since = step, now
            continue
        if now - watch.since >= watch.seconds:
            watch.fired = step
            watch.since = now  # still running a period later: interrupt it again
            _thread.interrupt_main(signal.SIGALRM)
        del step


def _running_step(frame: FrameType | None) -> FrameType | None:
    """The outermost frame of ``answer`` on the stack that ends in ``frame``."""
    found = None
    while frame is not None:
        if frame.f_code is answer.__code__:
            found = frame
        frame = frame.f_back
    return found


def _on_stack(step: FrameType, frame: FrameType | None) -> bool:
    while frame is not None:
        if frame is step:
            return True
        frame = frame.f_back
    return False
