"""The deterministic scheduler: one logical thread runs at a time.

Every logical thread is a real OS thread that runs only while it holds the
*baton*. At every scheduling point (``Scheduler.point``) a logical thread
announces what it is about to do as an ``Op`` whose ``ready`` predicate says
whether it can proceed (a free lock, a set event, a finished thread, ...),
then — still holding the baton, so it alone touches the scheduler's state —
runs the checker hook, asks the ``Chooser`` which ready thread goes next and
hands the baton straight to it (or keeps running when it chose itself). The
thread that called ``Scheduler.run`` only starts T0 and waits for the end,
watching that steps keep coming. Only one logical thread ever runs, so a run
is a pure function of the choices made, and the choices (recorded as
``Decision`` rows) replay it exactly.

Time is virtual: ``now`` only moves when no thread is ready, to the earliest
deadline of a timed wait, which then fires (``on_time_advance`` sees every
move, while every thread is parked). When nothing is ready and no timed wait
is left while the main logical thread has not finished, the run is deadlocked
and ``RunOutcome.deadlock`` lists what every thread waits on.

Asynchronous exceptions: with ``interrupt=(thread, site)`` the scheduler
raises ``KeyboardInterrupt`` in that logical thread at its ``site``-th
*interrupt site*, as a signal handler would. CPython runs a signal handler
where the interpreter checks for pending calls: on entering a Python
function, after most calls of C functions, and on loop back edges. So the
sites are: the thread's scheduling points (a blocking acquire or wait is
interruptible: the operation then does not happen); right after a lock
acquire or release took effect (``interrupt_site``; a plain lock's ``with``
is atomic, a release never half happens); and, in the code of
``interrupt_files`` (the target's own files), every function entry and every
return from a call into other code (C functions, stand-ins, the model).
``sites`` counts the chosen thread's sites.

Stand-ins for ``threading`` and ``time`` (``primitives``) are built on
``point``; target code never sees the scheduler directly.
"""

from __future__ import annotations

import _thread
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

ALWAYS: Callable[[], bool] = lambda: True  # noqa: E731
NEVER: Callable[[], bool] = lambda: False  # noqa: E731

DEFAULT_WATCHDOG_SECONDS = 10.0
"""Real seconds a logical thread may run without reaching a scheduling point."""

DEFAULT_MAX_STEPS = 20_000
"""Scheduling steps after which a run is stopped as a livelock."""


def _locked() -> _thread.LockType:
    """A raw lock used as a binary semaphore: created taken, released to signal."""
    lock = _thread.allocate_lock()
    lock.acquire()
    return lock


class AbortRun(BaseException):
    """Raised inside a logical thread to unwind it when the run is stopped."""


@dataclass
class Op:
    """What a logical thread is about to do at a scheduling point.

    ``ready`` says whether it can proceed now. A timed wait has a
    ``deadline`` (virtual time); once it passed, the thread proceeds when
    ``after_timeout`` holds (a timed-out condition wait still needs its lock).
    """

    description: str
    ready: Callable[[], bool] = ALWAYS
    deadline: float | None = None
    after_timeout: Callable[[], bool] = ALWAYS


@dataclass(eq=False)
class LogicalThread:
    """One logical thread: a real OS thread that runs only with the baton."""

    index: int
    name: str
    daemon: bool
    internal: bool
    """True for threads the target started (not the scenario's own)."""
    baton: _thread.LockType = field(default_factory=lambda: _locked())
    op: Op | None = None
    started: bool = False
    finished: bool = False
    timed_out: bool = False
    abort: bool = False
    unwinding: bool = False
    """Set once ``AbortRun`` was raised in the thread: its cleanup then runs unscheduled."""
    error: BaseException | None = None
    start_step: int = 0
    end_step: int | None = None
    handle: object | None = None
    """The stand-in ``threading.Thread`` object, when there is one."""
    os_thread: threading.Thread | None = None

    def enabled(self) -> bool:
        """True when this thread may be handed the baton now."""
        if self.finished or self.op is None:
            return False
        if self.op.ready():
            return True
        return self.timed_out and self.op.after_timeout()

    @property
    def label(self) -> str:
        """``T<index> <name>``, as traces and schedule strings show it."""
        return f"T{self.index} {self.name}"


@dataclass(frozen=True)
class Decision:
    """A scheduling point where more than one thread was ready."""

    step: int
    enabled: tuple[int, ...]
    chosen: int
    current: int | None
    """The thread that ran the step before (a switch away from it is a preemption)."""


class Chooser(Protocol):
    """Decides which ready thread runs next (replay, DFS, random, PCT)."""

    def choose(self, enabled: list[LogicalThread], current: LogicalThread | None, step: int) -> int:
        """Return the index of one of ``enabled``."""
        ...

    def on_spawn(self, thread: LogicalThread) -> None:
        """Learn about a new logical thread (PCT gives it a priority)."""
        ...


class FirstChooser:
    """Keep running the current thread while it is ready, else the lowest index."""

    def choose(self, enabled: list[LogicalThread], current: LogicalThread | None, step: int) -> int:
        """Prefer ``current``; otherwise the lowest index."""
        if current is not None and current in enabled:
            return current.index
        return enabled[0].index

    def on_spawn(self, thread: LogicalThread) -> None:
        """Nothing to learn."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    steps: int
    decisions: tuple[Decision, ...]
    deadlock: tuple[str, ...] | None
    """When deadlocked: one line per unfinished thread saying what it waits on."""
    stopped: str | None
    """Why the run was stopped early (a violation, the step limit), if it was."""
    leftover: tuple[str, ...]
    """Threads still blocked when the main thread finished."""
    errors: tuple[tuple[str, BaseException], ...]
    """Uncaught exceptions of logical threads (label, exception)."""
    virtual_time: float


class Scheduler:
    """Runs logical threads one at a time under a ``Chooser``."""

    def __init__(
        self,
        chooser: Chooser | None = None,
        *,
        watchdog_seconds: float = DEFAULT_WATCHDOG_SECONDS,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.chooser: Chooser = chooser if chooser is not None else FirstChooser()
        self.watchdog_seconds = watchdog_seconds
        self.max_steps = max_steps
        self.now = 0.0
        self.step = 0
        self.threads: list[LogicalThread] = []
        self.decisions: list[Decision] = []
        self.on_step: Callable[[LogicalThread], None] | None = None
        """Called after every step by the thread holding the baton, every other thread parked."""
        self.on_timeout: Callable[[LogicalThread], None] | None = None
        self.on_thread_end: Callable[[LogicalThread], None] | None = None
        """Called in a logical thread as it finishes (it still holds the baton)."""
        self.on_time_advance: Callable[[float, float], None] | None = None
        """Called with (now, later) before virtual time moves, every thread parked."""
        self.interrupt: tuple[int, int] | None = None
        """(thread index, site number): where to raise KeyboardInterrupt, if anywhere."""
        self.sites: dict[int, int] = {}
        """Interrupt sites the chosen thread has passed so far."""
        self.interrupt_files: frozenset[str] = frozenset()
        """Source files whose function entries and call returns are interrupt sites."""
        self.delivered: str | None = None
        """Where the injected KeyboardInterrupt was raised, once it was."""
        self.on_interrupt: Callable[[LogicalThread], None] | None = None
        """Called in the interrupted thread just before the KeyboardInterrupt is raised."""
        self.locks: list[object] = []
        """Every stand-in lock made under this scheduler (see ``locks_free``)."""
        self._stop_reason: str | None = None
        self._controller = _locked()
        self._in_hook = False
        self._ended = False
        self._deadlock: tuple[str, ...] | None = None
        self._failure: BaseException | None = None
        self._local = threading.local()
        self._names: dict[str, int] = {}
        self._serial = 0

    # --- used from logical threads (by the stand-ins) ---------------------------

    def current(self) -> LogicalThread | None:
        """The logical thread running this code, or None outside the scheduler."""
        thread: LogicalThread | None = getattr(self._local, "thread", None)
        return thread

    def point(
        self,
        description: str,
        ready: Callable[[], bool] = ALWAYS,
        deadline: float | None = None,
        after_timeout: Callable[[], bool] = ALWAYS,
        *,
        interruptible: bool = True,
    ) -> bool:
        """A scheduling point: park until chosen; True unless a timed wait expired.

        Outside a logical thread (e.g. while a module is imported by the
        controller), or while a checker hook reads target state, this returns
        at once without scheduling. An ``interruptible`` point is an interrupt
        site too: the injected KeyboardInterrupt may be raised instead of the
        operation.
        """
        thread = self.current()
        if thread is None or self._in_hook:
            return True
        if thread.abort:
            return self._unwind(thread, ready)
        thread.op = Op(description, ready, deadline, after_timeout)
        thread.timed_out = False
        following = self._dispatch(thread)
        if following is not thread:
            if following is None:
                self._controller.release()
            else:
                following.baton.release()
            thread.baton.acquire()
        if thread.abort:
            return self._unwind(thread, ready)
        thread.op = None
        if interruptible:
            self._site(thread, f"before {description}")
        return ready() or not thread.timed_out

    def _unwind(self, thread: LogicalThread, ready: Callable[[], bool]) -> bool:
        """In a stopped run: raise ``AbortRun`` once, then let cleanup code finish.

        Target code may catch ``AbortRun`` (it catches BaseException to clean
        up) and go on. Its later operations run without scheduling when they
        can proceed at once (every other thread is parked), so it finishes
        instead of retrying forever; one that would have to wait raises again.
        """
        thread.op = None
        if thread.unwinding and ready():
            return True
        thread.unwinding = True
        raise AbortRun()

    def interrupt_site(self, where: str) -> None:
        """An interrupt site that is not a scheduling point (right after a lock operation)."""
        thread = self.current()
        if thread is not None and not self._in_hook:
            self._site(thread, where)

    def _site(self, thread: LogicalThread, where: str) -> None:
        """Count an interrupt site of ``thread``; raise KeyboardInterrupt at the chosen one."""
        if (
            self.interrupt is None
            or self.interrupt[0] != thread.index
            or self.delivered
            or thread.abort
        ):
            return
        number = self.sites.get(thread.index, 0) + 1
        self.sites[thread.index] = number
        if number == self.interrupt[1]:
            self.delivered = f"{thread.label} {where}"
            if self.on_interrupt is not None:
                self._run_hook(self.on_interrupt, thread)
            raise KeyboardInterrupt(f"injected at site {number}: {where}")

    def spawn(
        self,
        body: Callable[[], None],
        name: str,
        *,
        daemon: bool = False,
        internal: bool = True,
        handle: object | None = None,
    ) -> LogicalThread:
        """Create a logical thread; it first runs when the chooser picks it."""
        thread = LogicalThread(
            index=len(self.threads),
            name=name,
            daemon=daemon,
            internal=internal,
            start_step=self.step,
            handle=handle,
        )
        thread.op = Op(f"begin {name}")
        self.threads.append(thread)
        os_thread = threading.Thread(
            target=self._body, args=(thread, body), name=f"interleave-{thread.label}", daemon=True
        )
        thread.os_thread = os_thread
        os_thread.start()
        self.chooser.on_spawn(thread)
        return thread

    def locks_free(self) -> bool:
        """True when no stand-in lock is held: target state is between critical sections."""
        return all(getattr(lock, "owner", None) is None for lock in self.locks)

    def stop(self, reason: str) -> None:
        """Stop the run after the current step (a violation was found)."""
        if self._stop_reason is None:
            self._stop_reason = reason

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called."""
        return self._stop_reason is not None

    def next_serial(self) -> int:
        """A number unique within this run, in creation order (stable across replays)."""
        self._serial += 1
        return self._serial

    def unique_name(self, kind: str) -> str:
        """``Lock#1``, ``Lock#2``, ...: stable names for traces."""
        number = self._names.get(kind, 0) + 1
        self._names[kind] = number
        return f"{kind}#{number}"

    def _profiler(self, thread: LogicalThread) -> Callable[[FrameType, str, object], None]:
        """A ``sys.setprofile`` hook making the target's calls and returns interrupt sites."""
        files = self.interrupt_files

        def profile(frame: FrameType, event: str, arg: object) -> None:
            if self.delivered or thread.abort or self._in_hook:
                return
            code = frame.f_code
            if event == "call" and code.co_filename in files:
                where = (
                    f"entering {code.co_name}() at {Path(code.co_filename).name}:{frame.f_lineno}"
                )
            elif event == "c_return" and code.co_filename in files:
                name = getattr(arg, "__name__", "a C function")
                where = f"after {name}() at {Path(code.co_filename).name}:{frame.f_lineno}"
            elif (
                event == "return" and code.co_filename not in files and code.co_name != "__enter__"
            ):
                caller = frame.f_back
                if caller is None or caller.f_code.co_filename not in files:
                    return
                line = f"{Path(caller.f_code.co_filename).name}:{caller.f_lineno}"
                where = f"after {code.co_name}() returned at {line}"
            else:
                return
            self._site(thread, where)

        return profile

    def _body(self, thread: LogicalThread, body: Callable[[], None]) -> None:
        self._local.thread = thread
        thread.baton.acquire()
        chosen = self.interrupt is not None and self.interrupt[0] == thread.index
        try:
            if not thread.abort:
                thread.started = True
                thread.op = None
                if chosen and self.interrupt_files:
                    sys.setprofile(self._profiler(thread))
                body()
        except AbortRun:
            pass
        except BaseException as error:  # a logical thread died: record, like excepthook
            thread.error = error
        finally:
            if chosen:
                sys.setprofile(None)
            if self.on_thread_end is not None and not thread.abort:
                self._run_hook(self.on_thread_end, thread)
            thread.finished = True
            thread.end_step = self.step
            thread.op = None
            following = None if self._ended else self._dispatch(thread)
            if following is None:
                self._controller.release()
            else:
                following.baton.release()

    def _run_hook(self, hook: Callable[[LogicalThread], None], thread: LogicalThread) -> None:
        """Run a checker hook; scheduling points inside it (a locked read) do not schedule."""
        self._in_hook = True
        try:
            hook(thread)
        except Exception as error:  # a checker failed: never let it look like the target's
            if self._failure is None:
                self._failure = error
            self.stop(f"checker hook failed: {error!r}")
        finally:
            self._in_hook = False

    def _dispatch(self, previous: LogicalThread) -> LogicalThread | None:
        """Finish the step ``previous`` ran; pick the next thread, None when the run ends.

        Runs in the logical thread holding the baton, so it owns all state.
        """
        self.step += 1
        if self.on_step is not None and self._stop_reason is None:
            self._run_hook(self.on_step, previous)
        while self._stop_reason is None:
            enabled = [thread for thread in self.threads if thread.enabled()]
            if not enabled:
                if self._fire_next_timeout():
                    continue
                if not self.threads[0].finished:
                    self._deadlock = self.waits()
                self._ended = True
                return None
            if self.step >= self.max_steps:
                self.stop(f"step limit {self.max_steps} reached (livelock?)")
                break
            if len(enabled) == 1:
                chosen = enabled[0]
            else:
                try:
                    index = self.chooser.choose(enabled, previous, self.step)
                except Exception as error:  # a replay that diverged: end the run, re-raise
                    self._failure = error
                    break
                found = next((t for t in enabled if t.index == index), None)
                if found is None:
                    self._failure = RuntimeError(
                        f"the chooser picked T{index}, which is not ready at step {self.step}; "
                        f"ready: {[t.index for t in enabled]}"
                    )
                    break
                chosen = found
                self.decisions.append(
                    Decision(
                        self.step,
                        tuple(t.index for t in enabled),
                        chosen.index,
                        previous.index if not previous.finished else None,
                    )
                )
            return chosen
        self._ended = True
        return None

    # --- the controller ----------------------------------------------------------

    def run(self, main: Callable[[], None], name: str = "main") -> RunOutcome:
        """Run ``main`` as logical thread T0 until it and its threads are done."""
        main_thread = self.spawn(main, name, internal=False)
        main_thread.baton.release()
        seen = -1
        while not self._controller.acquire(timeout=self.watchdog_seconds):
            if self.step == seen:
                self._ended = True
                running = next((t for t in self.threads if t.op is None and not t.finished), None)
                label = running.label if running is not None else "a logical thread"
                self._abort_all()
                raise RuntimeError(
                    f"{label} ran {self.watchdog_seconds:g} s without reaching a scheduling "
                    f"point: it is blocked outside the stand-ins (a real lock, I/O) or loops "
                    f"without synchronising; load the target with the stand-ins substituted"
                )
            seen = self.step
        self._ended = True
        if self._failure is not None:
            self._abort_all()
            raise self._failure
        leftover = tuple(self._describe(thread) for thread in self.threads if not thread.finished)
        self._abort_all()
        errors = tuple(
            (t.label, t.error) for t in self.threads if t.error is not None and not t.abort
        )
        return RunOutcome(
            steps=self.step,
            decisions=tuple(self.decisions),
            deadlock=self._deadlock,
            stopped=self._stop_reason,
            leftover=() if self._deadlock is not None else leftover,
            errors=errors,
            virtual_time=self.now,
        )

    def waits(self) -> tuple[str, ...]:
        """One line per unfinished thread: what it is blocked on."""
        return tuple(self._describe(thread) for thread in self.threads if not thread.finished)

    def _describe(self, thread: LogicalThread) -> str:
        op = thread.op
        if op is None:
            return f"{thread.label}: running"
        timed = "" if op.deadline is None else f" (until t={op.deadline:g})"
        return f"{thread.label}: {op.description}{timed}"

    def _fire_next_timeout(self) -> bool:
        """Advance virtual time to the earliest pending deadline; False if none."""
        pending = [
            thread
            for thread in self.threads
            if not thread.finished
            and not thread.timed_out
            and thread.op is not None
            and thread.op.deadline is not None
        ]
        if not pending:
            return False
        earliest = min(pending, key=lambda t: (t.op.deadline if t.op else 0.0, t.index))
        assert earliest.op is not None and earliest.op.deadline is not None
        later = max(self.now, earliest.op.deadline)
        hook = self.on_time_advance
        if hook is not None and later > self.now and self._stop_reason is None:
            before = self.now
            self._run_hook(lambda _thread: hook(before, later), earliest)
            if self._stop_reason is not None:
                return True
        self.now = later
        for thread in pending:
            assert thread.op is not None and thread.op.deadline is not None
            if thread.op.deadline <= self.now:
                thread.timed_out = True
                if self.on_timeout is not None:
                    self._run_hook(self.on_timeout, thread)
        return True

    def _abort_all(self) -> None:
        """Unwind every unfinished logical thread so no OS thread is left behind."""
        for thread in self.threads:
            if thread.finished:
                continue
            thread.abort = True
            thread.baton.release()
            self._controller.acquire(timeout=self.watchdog_seconds)
        for thread in self.threads:
            if thread.os_thread is not None:
                thread.os_thread.join(timeout=self.watchdog_seconds)
