"""Cooperative stand-ins for ``threading`` and ``time``, bound to one scheduler.

``stand_in_modules(scheduler)`` returns two module objects, ``threading`` and
``time``, to substitute for the real ones in a target (see ``loader``). Their
``Lock``, ``RLock``, ``Condition``, ``Event``, ``Semaphore`` and ``Thread`` are
classes (targets may subclass ``Thread``) whose every acquire, release, wait,
notify, set, clear, is_set, start, join and is_alive is a scheduling point,
placed before the operation takes effect (so another thread may run first); ``time.monotonic``,
``time.time``, ``time.perf_counter`` read the scheduler's virtual clock and
``time.sleep`` is a timed wait on it. Anything else in ``time`` is the real
function; anything else in ``threading`` that would synchronise is refused
with an error naming what is supported.

Interrupt sites (where the scheduler may inject a KeyboardInterrupt) follow
CPython: a signal handler runs between bytecodes, so it can raise right after
an explicit ``lock.acquire()`` or ``release()`` returns, and inside
``Condition.__enter__`` (Python code) after its lock is taken, which leaves the
lock held; ``with lock:`` on a plain lock is atomic; a release never half
happens; an interrupted ``Condition.wait`` takes its lock back before raising.
"""

from __future__ import annotations

import threading as real_threading
import time as real_time
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .scheduler import NEVER, AbortRun, LogicalThread, Scheduler

VIRTUAL_EPOCH = 1_700_000_000.0
"""What the stand-in ``time.time()`` returns at virtual time 0."""

_REAL_THREADING_PASSTHROUGH = ("TIMEOUT_MAX", "local", "excepthook", "ExceptHookArgs")


class _Bound:
    """Base of the stand-in classes: each subclass is bound to one scheduler."""

    scheduler: Scheduler
    kind = "object"

    def __init__(self) -> None:
        self.name = self.scheduler.unique_name(self.kind)
        self._hash = self.scheduler.next_serial()

    def __hash__(self) -> int:
        """A creation serial, not the address: sets of stand-ins iterate the same every run."""
        return self._hash

    def _me(self) -> LogicalThread | None:
        """The running logical thread; unwinds it at once if its run was stopped."""
        me = self.scheduler.current()
        if me is not None and me.abort and not me.unwinding:
            me.unwinding = True
            raise AbortRun()
        return me

    def _deadline(self, timeout: float | None) -> float | None:
        if timeout is None or timeout < 0:
            return None
        return self.scheduler.now + timeout


_OUTSIDE = object()
"""Owner recorded for a lock taken outside any logical thread (at import time)."""


class StandInLock(_Bound):
    """A non-reentrant lock; acquire and release are scheduling points."""

    kind = "Lock"

    def __init__(self) -> None:
        super().__init__()
        self.owner: object | None = None
        self.scheduler.locks.append(self)

    def _free_for(self, thread: object) -> bool:
        return self.owner is None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, waiting (virtually) up to ``timeout`` when blocking."""
        taken = self._acquire(blocking, timeout)
        if taken:
            self.scheduler.interrupt_site(f"after acquire {self.name}")
        return taken

    def _acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = self._me()
        who: object = me if me is not None else _OUTSIDE
        if not blocking:
            self.scheduler.point(f"try-acquire {self.name}")
        else:
            self.scheduler.point(
                f"acquire {self.name}",
                ready=lambda: self._free_for(who),
                deadline=self._deadline(timeout),
            )
        if not self._free_for(who):
            return False
        self._take(who)
        return True

    def _take(self, who: object) -> None:
        self.owner = who

    def release(self) -> None:
        """Release the lock (a scheduling point before it is released)."""
        self._release()
        self.scheduler.interrupt_site(f"after release {self.name}")

    def _release(self) -> None:
        self._me()
        if self.owner is None:
            raise RuntimeError(f"release of unlocked {self.name}")
        self.scheduler.point(f"release {self.name}", interruptible=False)
        self.owner = None

    def locked(self) -> bool:
        """True while some thread holds the lock."""
        return self.owner is not None

    def _release_save(self) -> object:
        self.owner = None
        return None

    def _acquire_restore(self, saved: object, who: object) -> None:
        self.owner = who

    def _is_owned(self) -> bool:
        me = self._me()
        return self.owner is (me if me is not None else _OUTSIDE)

    def __enter__(self) -> bool:
        return self._acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<stand-in {self.name} {'locked' if self.owner else 'unlocked'}>"


class StandInRLock(StandInLock):
    """A reentrant lock: the owner may acquire it again."""

    kind = "RLock"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def _free_for(self, thread: object) -> bool:
        return self.owner is None or self.owner is thread

    def _take(self, who: object) -> None:
        self.owner = who
        self.count += 1

    def _release(self) -> None:
        if not self._is_owned():
            raise RuntimeError(f"release of {self.name} by a thread that does not own it")
        self.scheduler.point(f"release {self.name}", interruptible=False)
        self.count -= 1
        if self.count == 0:
            self.owner = None

    def _release_save(self) -> object:
        saved = self.count
        self.owner = None
        self.count = 0
        return saved

    def _acquire_restore(self, saved: object, who: object) -> None:
        assert isinstance(saved, int)
        self.owner = who
        self.count = saved


class _Waiter:
    __slots__ = ("notified",)

    def __init__(self) -> None:
        self.notified = False


class StandInCondition(_Bound):
    """A condition variable over a stand-in lock (an RLock by default)."""

    kind = "Condition"

    def __init__(self, lock: StandInLock | None = None) -> None:
        super().__init__()
        if lock is None:
            lock = _bound_class(StandInRLock, self.scheduler)()
        if not isinstance(lock, StandInLock):
            raise TypeError(
                f"stand-in Condition needs a stand-in lock, got {type(lock).__name__}: "
                f"create the lock with the substituted threading module"
            )
        self.lock = lock
        self._waiters: list[_Waiter] = []

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the underlying lock."""
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Release the underlying lock."""
        self.lock.release()

    def __enter__(self) -> bool:
        # Condition.__enter__ is Python code: a signal may land after its lock is taken.
        return self.lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.lock.release()

    def _is_owned(self) -> bool:
        """Whether the calling thread holds the lock (as ``threading.Condition`` asks it)."""
        return self.lock._is_owned()

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait for a notify or the (virtual) timeout, re-acquire."""
        if not self.lock._is_owned():
            raise RuntimeError(f"cannot wait on {self.name}: its lock is not held")
        me = self._me()
        who: object = me if me is not None else _OUTSIDE
        saved = self.lock._release_save()
        # CPython checks for a signal once ``_release_save`` returns, before its ``try``:
        # a Ctrl-C there leaves ``wait`` without the lock.
        self.scheduler.interrupt_site(f"wait {self.name} released {self.lock.name}")
        waiter = _Waiter()
        self._waiters.append(waiter)
        try:
            self.scheduler.point(
                f"wait {self.name}",
                ready=lambda: waiter.notified and self.lock._free_for(who),
                deadline=self.lock._deadline(timeout),
                after_timeout=lambda: self.lock._free_for(who),
            )
        except KeyboardInterrupt:
            # as threading.Condition.wait does: take the lock back, then let it propagate
            if not waiter.notified:
                self._waiters.remove(waiter)
            self.scheduler.point(
                f"re-acquire {self.lock.name}",
                ready=lambda: self.lock._free_for(who),
                interruptible=False,
            )
            self.lock._acquire_restore(saved, who)
            raise
        except AbortRun:
            # the run is over: hand the lock back at once so the unwinding code can release it
            self.lock._acquire_restore(saved, who)
            raise
        if not waiter.notified:
            self._waiters.remove(waiter)
        self.lock._acquire_restore(saved, who)
        return waiter.notified

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None) -> Any:
        """Wait until ``predicate()`` is true or the (virtual) timeout passes."""
        deadline = self.lock._deadline(timeout)
        result = predicate()
        while not result:
            if deadline is None:
                self.wait()
            else:
                remaining = deadline - self.scheduler.now
                if remaining <= 0:
                    break
                self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiters (a scheduling point)."""
        if not self.lock._is_owned():
            raise RuntimeError(f"cannot notify on {self.name}: its lock is not held")
        self.scheduler.point(f"notify {self.name}")
        woken, self._waiters = self._waiters[:n], self._waiters[n:]
        for waiter in woken:
            waiter.notified = True

    def notify_all(self) -> None:
        """Wake every waiter (a scheduling point)."""
        self.notify(len(self._waiters))

    notifyAll = notify_all


class StandInEvent(_Bound):
    """An event flag; set and wait are scheduling points."""

    kind = "Event"

    def __init__(self) -> None:
        super().__init__()
        self._flag = False

    def is_set(self) -> bool:
        """True once set and not cleared (a scheduling point: it reads shared state)."""
        self.scheduler.point(f"is_set {self.name}")
        return self._flag

    isSet = is_set

    def set(self) -> None:
        """Set the flag, releasing every waiter."""
        self.scheduler.point(f"set {self.name}")
        self._flag = True

    def clear(self) -> None:
        """Clear the flag (a scheduling point)."""
        self.scheduler.point(f"clear {self.name}")
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set or the (virtual) timeout passes; return the flag."""
        self.scheduler.point(
            f"wait {self.name}", ready=lambda: self._flag, deadline=self._deadline(timeout)
        )
        return self._flag


class StandInSemaphore(_Bound):
    """A counting semaphore."""

    kind = "Semaphore"

    def __init__(self, value: int = 1) -> None:
        super().__init__()
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._value = value

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take one unit, waiting (virtually) up to ``timeout``."""
        if blocking:
            self.scheduler.point(
                f"acquire {self.name}",
                ready=lambda: self._value > 0,
                deadline=self._deadline(timeout),
            )
        else:
            self.scheduler.point(f"try-acquire {self.name}")
        if self._value <= 0:
            return False
        self._value -= 1
        return True

    def release(self, n: int = 1) -> None:
        """Return ``n`` units."""
        self.scheduler.point(f"release {self.name}", interruptible=False)
        self._value += n
        self.scheduler.interrupt_site(f"after release {self.name}")

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class StandInThread(_Bound):
    """A thread that runs as a logical thread of the scheduler."""

    kind = "Thread"

    def __init__(
        self,
        group: None = None,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        super().__init__()
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self._given_name = name
        self.daemon = bool(daemon)
        self.logical: LogicalThread | None = None

    def getName(self) -> str:
        """The thread's name."""
        return self._given_name or self.name

    def run(self) -> None:
        """Call the target (override in subclasses)."""
        if self._target is not None:
            self._target(*self._args, **self._kwargs)

    def start(self) -> None:
        """Start the logical thread (a scheduling point before it becomes visible)."""
        if self.logical is not None:
            raise RuntimeError("threads can only be started once")
        label = self._given_name or self.name
        self.scheduler.point(f"start {label}")
        self.logical = self.scheduler.spawn(self.run, label, daemon=self.daemon, handle=self)

    def join(self, timeout: float | None = None) -> None:
        """Wait until the thread finished or the (virtual) timeout passes."""
        logical = self.logical
        if logical is None:
            raise RuntimeError("cannot join thread before it is started")
        if logical is self._me():
            raise RuntimeError("cannot join current thread")
        self.scheduler.point(
            f"join {logical.label}",
            ready=lambda: logical.finished,
            deadline=self._deadline(timeout),
        )

    def is_alive(self) -> bool:
        """True between start and the end of ``run`` (a scheduling point: it reads shared state)."""
        self.scheduler.point(f"is_alive {self._given_name or self.name}")
        return self.logical is not None and not self.logical.finished

    @property
    def ident(self) -> int | None:
        """The logical thread index (None before start)."""
        return None if self.logical is None else self.logical.index

    native_id = ident


class _AdoptedThread:
    """What ``current_thread()`` returns for a logical thread the target did not start."""

    def __init__(self, logical: LogicalThread) -> None:
        self.logical = logical
        self.name = logical.name
        self.daemon = logical.daemon
        self.ident = logical.index

    def is_alive(self) -> bool:
        """True until the logical thread finished."""
        return not self.logical.finished


def _bound_class(base: type[_Bound], scheduler: Scheduler) -> type[Any]:
    return type(base.kind, (base,), {"scheduler": scheduler, "__module__": "threading"})


class _StandInModule(types.ModuleType):
    """A module object that refuses unknown synchronisation names clearly."""

    def __init__(self, name: str, fallback: types.ModuleType, passthrough: tuple[str, ...]):
        super().__init__(name)
        self._fallback = fallback
        self._passthrough = passthrough

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") or not self._passthrough or attribute in self._passthrough:
            return getattr(self._fallback, attribute)
        raise AttributeError(
            f"the interleaving stand-in for {self.__name__} has no {attribute!r}; it simulates "
            f"Lock, RLock, Condition, Event, Semaphore, Thread, current_thread, get_ident, "
            f"local and TIMEOUT_MAX"
        )


def make_event(scheduler: Scheduler) -> StandInEvent:
    """A stand-in ``threading.Event`` bound to ``scheduler`` (for the harness itself)."""
    event: StandInEvent = _bound_class(StandInEvent, scheduler)()
    return event


def stand_in_modules(scheduler: Scheduler) -> dict[str, types.ModuleType]:
    """The stand-in ``threading`` and ``time`` modules bound to ``scheduler``."""
    threading_module = _StandInModule("threading", real_threading, _REAL_THREADING_PASSTHROUGH)
    classes = {
        "Lock": StandInLock,
        "RLock": StandInRLock,
        "Condition": StandInCondition,
        "Event": StandInEvent,
        "Semaphore": StandInSemaphore,
        "BoundedSemaphore": StandInSemaphore,
        "Thread": StandInThread,
    }
    for public_name, base in classes.items():
        setattr(threading_module, public_name, _bound_class(base, scheduler))

    def current_thread() -> object:
        logical = scheduler.current()
        if logical is None:
            return real_threading.current_thread()
        if logical.handle is None:
            logical.handle = _AdoptedThread(logical)
        return logical.handle

    def get_ident() -> int:
        logical = scheduler.current()
        return real_threading.get_ident() if logical is None else logical.index

    def main_thread() -> object:
        if scheduler.threads:
            first = scheduler.threads[0]
            if first.handle is None:
                first.handle = _AdoptedThread(first)
            return first.handle
        return real_threading.main_thread()

    def active_count() -> int:
        return sum(1 for thread in scheduler.threads if thread.started and not thread.finished)

    vars(threading_module).update(
        current_thread=current_thread,
        currentThread=current_thread,
        get_ident=get_ident,
        get_native_id=get_ident,
        main_thread=main_thread,
        active_count=active_count,
    )

    time_module = _StandInModule("time", real_time, ())

    def monotonic() -> float:
        return scheduler.now

    def monotonic_ns() -> int:
        return int(scheduler.now * 1e9)

    def wall_time() -> float:
        return VIRTUAL_EPOCH + scheduler.now

    def wall_time_ns() -> int:
        return int(wall_time() * 1e9)

    def sleep(seconds: float) -> None:
        if seconds <= 0:
            scheduler.point("sleep 0")
            return
        scheduler.point(f"sleep {seconds:g}", ready=NEVER, deadline=scheduler.now + seconds)

    vars(time_module).update(
        monotonic=monotonic,
        monotonic_ns=monotonic_ns,
        perf_counter=monotonic,
        perf_counter_ns=monotonic_ns,
        time=wall_time,
        time_ns=wall_time_ns,
        sleep=sleep,
    )
    return {"threading": threading_module, "time": time_module}
