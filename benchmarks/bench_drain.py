"""Shutdown drain: how many dirty sessions are committed before the deadline.

N sessions each have one completed turn; every provider call takes L seconds
(one provider may hang instead); the drain gets D seconds. Compared:

- ``compat`` / ``native``: the project's parallel drain
  (``compat.drain_all_on_shutdown`` with the default worker count, and
  ``SessionLifecycle(drain_workers=8).drain``);
- ``original, sequential with budget``: a clearly labelled emulation of the
  original's later drain on the original module: sessions one after another, each
  commit on a worker thread joined only for the remaining budget;
- ``original drain_all_on_shutdown()``: the original module's own drain (it has
  no deadline), run on a thread and counted when the deadline passes.

Then three fault cases, each on the same workload for every implementation:
a hung background commit beside 200 healthy sessions; one hung provider beside
50 flaky ones (each fails its first call); 50 sessions whose users complete
another turn while the drain commits the first. The original's column runs an
emulation of its later drain (background threads joined first within the
budget, then sessions one after another within what is left, in rounds while
they make progress) on the original module.

    python benchmarks/bench_drain.py            # ~1 minute
    python benchmarks/bench_drain.py --quick    # ~15 seconds
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import memory_lifecycle
from _common import comparison_parser, header, load_reference, median, progress, table
from memory_lifecycle import compat
from memory_lifecycle.lifecycle import DEFAULT_DRAIN_WORKERS


class SlowAgent:
    """A provider whose call takes ``latency`` seconds, or blocks until released."""

    def __init__(self, latency: float, release: threading.Event | None = None) -> None:
        self.latency = latency
        self.release = release
        self.ended_at: float | None = None
        """``time.monotonic()`` when the last call returned."""

    def commit_memory_session(self) -> None:
        """Sleep for the latency, or wait for the release when hung."""
        if self.release is not None:
            self.release.wait()
        else:
            time.sleep(self.latency)
        self.ended_at = time.monotonic()


@dataclass(frozen=True)
class Scenario:
    """N sessions, provider latency L, deadline D, and whether one provider hangs."""

    sessions: int
    latency: float
    deadline: float
    hung: bool

    def label(self) -> str:
        hung = ", 1st provider hangs" if self.hung else ""
        return f"N={self.sessions}, L={self.latency:g} s, D={self.deadline:g} s{hung}"


@dataclass
class Outcome:
    committed: int
    returned_after: float | None
    """Seconds until the drain returned; None when it had not by the deadline."""
    last_call_ended: float | None = None
    """Seconds until the last provider call that returned by then had returned."""


Api = Any
"""A module-like object with the hermes-webui functions."""


AGENTS: list[SlowAgent] = []
"""The agents of the run in progress."""


def prepare(api: Api, scenario: Scenario, release: threading.Event) -> list[str]:
    """Make ``scenario.sessions`` dirty sessions; the first one's provider hangs if asked."""
    ids = [f"drain-{number}" for number in range(scenario.sessions)]
    AGENTS.clear()
    for number, session_id in enumerate(ids):
        hung = scenario.hung and number == 0
        agent = SlowAgent(scenario.latency, release if hung else None)
        AGENTS.append(agent)
        api.register_agent(session_id, agent)
        api.mark_turn_completed(session_id)
    return ids


def last_call_ended(started: float, until: float) -> float | None:
    """Seconds from ``started`` to the last provider call that returned before ``until``."""
    ends = [a.ended_at for a in AGENTS if a.ended_at is not None and a.ended_at <= until]
    return max(ends) - started if ends else None


def count_clean(api: Api, ids: list[str]) -> int:
    return sum(1 for session_id in ids if not api.has_uncommitted_work(session_id))


def run_compat(scenario: Scenario, release: threading.Event) -> Outcome:
    """The drop-in module's drain (default worker count)."""
    compat._reset_for_tests()
    ids = prepare(compat, scenario, release)
    started = time.monotonic()
    compat.drain_all_on_shutdown(scenario.deadline)
    elapsed = time.monotonic() - started
    outcome = Outcome(
        count_clean(compat, ids), elapsed, last_call_ended(started, started + elapsed)
    )
    compat._reset_for_tests()
    return outcome


class NativeApi:
    """The hermes-webui function names over one ``SessionLifecycle``."""

    def __init__(self, lifecycle: memory_lifecycle.SessionLifecycle) -> None:
        self.lifecycle = lifecycle
        self.register_agent = lifecycle.register_agent
        self.mark_turn_completed = lifecycle.complete_turn
        self.has_uncommitted_work = lifecycle.has_uncommitted_work


def run_native(workers: int) -> Callable[[Scenario, threading.Event], Outcome]:
    def run(scenario: Scenario, release: threading.Event) -> Outcome:
        lifecycle = memory_lifecycle.SessionLifecycle(drain_workers=workers)
        api = NativeApi(lifecycle)
        ids = prepare(api, scenario, release)
        started = time.monotonic()
        report = lifecycle.drain(scenario.deadline)
        elapsed = time.monotonic() - started
        clean = count_clean(api, ids)
        if clean != len(report.committed):
            raise AssertionError(f"drain reported {len(report.committed)} committed, {clean} clean")
        return Outcome(clean, elapsed, last_call_ended(started, started + elapsed))

    return run


def _commit_into(module: ModuleType, session_id: str, budget: float, into: list[bool]) -> None:
    into.append(module.commit_session_memory(session_id, wait=True, timeout=budget))


def sequential_with_budget(module: ModuleType, deadline: float) -> None:
    """Emulated later original drain: one session at a time, each within the budget left."""
    ends_at = time.monotonic() + deadline
    while time.monotonic() < ends_at:
        with module._lock:
            dirty = [
                session_id
                for session_id, entry in module._sessions.items()
                if entry["generation"] > entry["committed_generation"]
            ]
        if not dirty:
            return
        progressed = False
        for session_id in dirty:
            remaining = ends_at - time.monotonic()
            if remaining <= 0:
                return
            succeeded: list[bool] = []
            worker = threading.Thread(
                target=_commit_into,
                args=(module, session_id, remaining, succeeded),
                daemon=True,
            )
            worker.start()
            worker.join(remaining)
            if succeeded == [True]:
                progressed = True
        if not progressed:
            return


def prepared_original(
    path: Path, name: str, scenario: Scenario, release: threading.Event
) -> tuple[ModuleType, list[str]]:
    """A fresh copy of the original module (imported as ``name``) with the scenario's
    sessions made dirty, and their ids."""
    module = load_reference(path, name)
    assert module is not None
    return module, prepare(module, scenario, release)


def run_original_sequential(path: Path) -> Callable[[Scenario, threading.Event], Outcome]:
    def run(scenario: Scenario, release: threading.Event) -> Outcome:
        module, ids = prepared_original(path, "original_for_sequential_drain", scenario, release)
        started = time.monotonic()
        sequential_with_budget(module, scenario.deadline)
        elapsed = time.monotonic() - started
        return Outcome(
            count_clean(module, ids), elapsed, last_call_ended(started, started + elapsed)
        )

    return run


def run_original_own(path: Path) -> Callable[[Scenario, threading.Event], Outcome]:
    def run(scenario: Scenario, release: threading.Event) -> Outcome:
        module, ids = prepared_original(path, "original_for_own_drain", scenario, release)
        started = time.monotonic()
        drainer = threading.Thread(target=module.drain_all_on_shutdown, daemon=True)
        drainer.start()
        drainer.join(scenario.deadline)
        elapsed = time.monotonic() - started
        # Counted when the deadline passes; a drain still running keeps going on its thread.
        clean = count_clean(module, ids)
        return Outcome(
            clean,
            None if drainer.is_alive() else elapsed,
            last_call_ended(started, started + elapsed),
        )

    return run


# --- fault cases -------------------------------------------------------------------


class FaultAgent:
    """A provider that hangs until released, fails its first ``failures`` calls, or
    has its user complete one more turn (``then``) while its first call runs."""

    def __init__(
        self,
        *,
        hang: threading.Event | None = None,
        failures: int = 0,
        then: Callable[[], object] | None = None,
    ) -> None:
        self.hang = hang
        self.failures = failures
        self.then = then

    def commit_memory_session(self) -> None:
        """Hang, fail, or let the user complete a turn; then return after 10 ms."""
        if self.hang is not None:
            self.hang.wait()
        if self.then is not None:
            then, self.then = self.then, None
            finished = threading.Thread(target=then, daemon=True)
            finished.start()
            finished.join()
        time.sleep(0.01)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("flaky provider")


@dataclass(frozen=True)
class FaultCase:
    """One fault case: how to prepare the sessions and which of them must end clean."""

    name: str
    deadline: float


FAULT_CASES = (
    FaultCase("hung background commit beside 200 healthy sessions", 2.0),
    FaultCase("hung provider beside 50 flaky ones", 2.0),
    FaultCase("50 sessions with a turn completed during the drain", 2.0),
)


def prepare_fault(api: Api, case: FaultCase, release: threading.Event) -> tuple[list[str], Any]:
    """Dirty sessions for ``case``; returns the ids that must end clean and the stuck id."""
    if case is FAULT_CASES[0]:
        api.register_agent("stuck", FaultAgent(hang=release))
        api.mark_turn_completed("stuck")
        ids = [f"healthy-{number}" for number in range(200)]
        agents = [FaultAgent() for _ in ids]
    elif case is FAULT_CASES[1]:
        api.register_agent("stuck", FaultAgent(hang=release))
        api.mark_turn_completed("stuck")
        ids = [f"flaky-{number}" for number in range(50)]
        agents = [FaultAgent(failures=1) for _ in ids]
    else:
        ids = [f"busy-{number}" for number in range(50)]
        agents = [
            FaultAgent(then=lambda sid=session_id: api.mark_turn_completed(sid))
            for session_id in ids
        ]
    for session_id, agent in zip(ids, agents, strict=True):
        api.register_agent(session_id, agent)
        api.mark_turn_completed(session_id)
    return ids, "stuck" if case is not FAULT_CASES[2] else None


def start_stuck_background_commit(api: Api, register: Callable[[threading.Thread], bool]) -> None:
    """The host's fire-and-forget commit of the stuck session, registered for the drain."""
    thread = threading.Thread(target=lambda: api.commit_session_memory("stuck"), daemon=True)
    if register(thread):
        thread.start()


def run_fault_compat(case: FaultCase, release: threading.Event) -> Outcome:
    compat._reset_for_tests()
    ids, stuck = prepare_fault(compat, case, release)
    if case is FAULT_CASES[0]:
        start_stuck_background_commit(compat, compat._register_background_commit_thread)
    elif stuck:
        threading.Thread(target=lambda: compat.commit_session_memory("stuck"), daemon=True).start()
    started = time.monotonic()
    compat.drain_all_on_shutdown(case.deadline)
    outcome = Outcome(count_clean(compat, ids), time.monotonic() - started)
    compat._reset_for_tests()
    return outcome


def run_fault_native(case: FaultCase, release: threading.Event) -> Outcome:
    lifecycle = memory_lifecycle.SessionLifecycle()
    api = NativeApi(lifecycle)
    api.commit_session_memory = lambda session_id: lifecycle.commit(session_id)
    ids, stuck = prepare_fault(api, case, release)
    if stuck:
        lifecycle.commit_in_background(stuck)
    started = time.monotonic()
    lifecycle.drain(case.deadline)
    return Outcome(count_clean(api, ids), time.monotonic() - started)


def later_original_drain(module: ModuleType, deadline: float, background: list[Any]) -> None:
    """Emulated later published drain: join background threads, then sequential rounds."""
    ends_at = time.monotonic() + deadline
    for thread in background:
        remaining = ends_at - time.monotonic()
        if remaining <= 0:
            return
        thread.join(remaining)
    sequential_with_budget(module, max(0.0, ends_at - time.monotonic()))


def run_fault_original(path: Path) -> Callable[[FaultCase, threading.Event], Outcome]:
    def run(case: FaultCase, release: threading.Event) -> Outcome:
        module = load_reference(path, "original_for_fault_cases")
        assert module is not None
        ids, stuck = prepare_fault(module, case, release)
        background: list[threading.Thread] = []
        if stuck:
            thread = threading.Thread(
                target=lambda: module.commit_session_memory(stuck), daemon=True
            )
            thread.start()
            background.append(thread)
        started = time.monotonic()
        drainer = threading.Thread(
            target=later_original_drain, args=(module, case.deadline, background), daemon=True
        )
        drainer.start()
        drainer.join(case.deadline + 1.0)
        elapsed = time.monotonic() - started
        return Outcome(count_clean(module, ids), None if drainer.is_alive() else elapsed)

    return run


def fault_table(reference: Path, repeats: int) -> str:
    """Run every fault case on every implementation; one Markdown table."""
    runners: list[tuple[str, Callable[[FaultCase, threading.Event], Outcome]]] = [
        ("compat", run_fault_compat),
        ("native", run_fault_native),
    ]
    if load_reference(reference) is not None:
        runners.append(("original (emulated later drain)", run_fault_original(reference)))
    releases: list[threading.Event] = []
    rows: list[list[object]] = []
    for case in FAULT_CASES:
        progress(f"drain fault case: {case.name}, {repeats} repeat(s)")
        for name, run in runners:
            outcomes = []
            for _ in range(repeats):
                release = threading.Event()
                releases.append(release)
                outcomes.append(run(case, release))
            total = 200 if case is FAULT_CASES[0] else 50
            returned = [o.returned_after for o in outcomes if o.returned_after is not None]
            rows.append(
                [
                    case.name,
                    name,
                    f"{median([o.committed for o in outcomes]):g} / {total}",
                    f"{median(returned):.2f} s" if returned else "not by the deadline",
                ]
            )
    for release in releases:
        release.set()
    return table(["case (D=2 s)", "drain", "left clean", "returned after"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = comparison_parser(__doc__, "one repeat, two scenarios (~15 s)")
    parser.add_argument("--repeats", type=int, help="runs per configuration (median shown)")
    options = parser.parse_args(argv)
    repeats = options.repeats or (1 if options.quick else 3)
    scenarios = [Scenario(200, 0.1, 1.5, False), Scenario(200, 0.1, 1.5, True)]
    if not options.quick:
        scenarios.append(Scenario(1000, 0.05, 1.5, False))

    runners: list[tuple[str, Callable[[Scenario, threading.Event], Outcome]]] = [
        (f"compat drain_all_on_shutdown (default {DEFAULT_DRAIN_WORKERS} workers)", run_compat),
        ("native SessionLifecycle(drain_workers=8).drain", run_native(8)),
        (
            f"native SessionLifecycle().drain (default {DEFAULT_DRAIN_WORKERS} workers)",
            run_native(DEFAULT_DRAIN_WORKERS),
        ),
    ]
    baseline = None
    if load_reference(options.reference) is not None:
        baseline = "original, sequential with budget (emulated later drain)"
        runners.append((baseline, run_original_sequential(options.reference)))
        runners.append(
            ("original drain_all_on_shutdown() (no deadline)", run_original_own(options.reference))
        )
    # The drains log every session left dirty; the tables say how many.
    logging.getLogger("memory_lifecycle").setLevel(logging.CRITICAL)

    releases: list[threading.Event] = []
    results: dict[tuple[Scenario, str], list[Outcome]] = {}
    started = time.monotonic()
    for scenario in scenarios:
        progress(f"drain: {scenario.label()}, {repeats} repeat(s)")
        for _ in range(repeats):
            for name, run in runners:
                release = threading.Event()
                releases.append(release)
                results.setdefault((scenario, name), []).append(run(scenario, release))
    for release in releases:
        release.set()

    print(header("bench_drain: sessions committed before the shutdown deadline"))
    print(f"median of {repeats} run(s); 'returned' is when the drain call came back")
    for scenario in scenarios:
        print()
        print(f"## {scenario.label()}")
        rows: list[list[object]] = []
        base = median([o.committed for o in results[(scenario, baseline)]]) if baseline else None
        for name, _ in runners:
            outcomes = results[(scenario, name)]
            committed = median([o.committed for o in outcomes])
            returned = [o.returned_after for o in outcomes]
            returned_text = (
                "not by the deadline"
                if any(value is None for value in returned)
                else f"{median([value for value in returned if value is not None]):.2f} s"
            )
            if base is None:
                versus = "n/a"
            elif base == 0:
                versus = "baseline 0" if committed == 0 else f"{committed:g} vs 0"
            else:
                versus = f"{committed / base:.1f}x"
            ended = [o.last_call_ended for o in outcomes if o.last_call_ended is not None]
            ended_text = f"{median(ended):.2f} s" if ended else "none"
            rows.append(
                [name, f"{committed:g} / {scenario.sessions}", ended_text, returned_text, versus]
            )
        print(
            table(
                [
                    "drain",
                    "committed by deadline",
                    "last call ended",
                    "returned after",
                    "vs sequential baseline",
                ],
                rows,
            )
        )
    print()
    print("## Fault cases")
    print(fault_table(options.reference, repeats))
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
