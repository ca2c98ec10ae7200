"""Stress test on real threads: many threads, many sessions, random operations.

    python benchmarks/stress.py [--target compat|native|PATH] [--threads 16]
        [--sessions 64] [--seconds 5] [--max-ops 200000] [--seed 0]

Worker threads call random hermes-webui operations (turns, boundary commits
with and without waiting, evictions that register a new agent, queries,
discards) on random sessions. Providers sleep a random latency and sometimes
fail, raise a BaseException (KeyboardInterrupt) or hang until the end of the
operation phase (at most ``--max-hangs`` of them). Then every provider
succeeds, hangs are released, the target drains, and the run verifies:

- S5: never two provider calls of one session at once;
- no generation lost: after the drain no session has uncommitted work;
- no thread hung: every worker and the drain returned within bounds, and the
  drain raised nothing.

Prints operations per second and exits 1 when a check fails (2 on bad usage).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import logging
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

_KINDS = ("turn", "commit", "commit_waiting", "evict", "query", "discard")
"""The operation kinds counted as operations."""

JOIN_SLACK_SECONDS = 10.0
"""How long past the operation phase a worker may take to return before it counts as hung."""


@dataclass
class Providers:
    """Shared provider behaviour and the S5 bookkeeping."""

    latency: float
    fail_rate: float
    base_rate: float
    hang_rate: float
    max_hangs: int
    seed: int
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: Counter[str] = field(default_factory=Counter)
    stats: Counter[str] = field(default_factory=Counter)
    overlaps: list[str] = field(default_factory=list)
    succeed_from_now: bool = False
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def behaviour(self) -> str:
        """Draw the next call's behaviour."""
        with self.lock:
            if self.succeed_from_now:
                return "ok"
            draw = self._random.random()
            if draw < self.hang_rate and self.stats["hang"] < self.max_hangs:
                return "hang"
            if draw < self.hang_rate + self.fail_rate:
                return "fail"
            if draw < self.hang_rate + self.fail_rate + self.base_rate:
                return "base"
            return "ok"


class StressAgent:
    """An agent of one session whose provider call follows ``Providers``."""

    def __init__(self, session_id: str, providers: Providers) -> None:
        self.session_id = session_id
        self.providers = providers

    def commit_memory_session(self) -> None:
        """Sleep, then succeed, fail, raise a BaseException, or hang until released."""
        providers = self.providers
        behaviour = providers.behaviour()
        with providers.lock:
            providers.running[self.session_id] += 1
            if providers.running[self.session_id] > 1:
                providers.overlaps.append(self.session_id)
            providers.stats[behaviour] += 1
        try:
            time.sleep(random.random() * providers.latency)
            if behaviour == "hang":
                providers.release.wait()
            elif behaviour == "fail":
                raise RuntimeError("stress: provider failure")
            elif behaviour == "base":
                raise KeyboardInterrupt("stress: provider BaseException")
        finally:
            with providers.lock:
                providers.running[self.session_id] -= 1


def load_api(target: str) -> Any:
    """The hermes-webui functions of ``target`` (compat, native, a module name or a path)."""
    if target == "compat":
        module = importlib.import_module("memory_lifecycle.compat")
        module._reset_for_tests()
        return module
    if target == "native":
        from memory_lifecycle.lifecycle import SessionLifecycle
        from memory_lifecycle.model import Outcome
        from memory_lifecycle.specs.interleave.target import NativeAdapter

        return NativeAdapter(SessionLifecycle(), Outcome)
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(target).stem, target)
        if spec is None or spec.loader is None:
            raise SystemExit(f"stress: cannot load {target}")
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        return loaded
    module_object: ModuleType = importlib.import_module(target)
    return module_object


def _operations(api: Any, providers: Providers) -> list[tuple[str, int, Callable[..., Any]]]:
    """(name, weight, operation(session_id, rng)) for the operations the target offers."""

    def turn(session_id: str, rng: random.Random) -> Any:
        return api.mark_turn_completed(session_id)

    def commit(session_id: str, rng: random.Random) -> Any:
        return api.commit_session_memory(session_id)

    def commit_waiting(session_id: str, rng: random.Random) -> Any:
        return api.commit_session_memory(session_id, wait=True, timeout=rng.random() * 0.01)

    def evict(session_id: str, rng: random.Random) -> Any:
        api.commit_session_memory(session_id)
        api.unregister_agent(session_id)
        api.register_agent(session_id, StressAgent(session_id, providers))

    def query(session_id: str, rng: random.Random) -> Any:
        return api.has_uncommitted_work(session_id)

    def discard(session_id: str, rng: random.Random) -> Any:
        # A host discards an evicted session and builds a new agent when it is next used.
        api.discard_session(session_id)
        api.register_agent(session_id, StressAgent(session_id, providers))

    table: list[tuple[str, int, Callable[..., Any]]] = [
        ("turn", 50, turn),
        ("commit", 15, commit),
        ("commit_waiting", 10, commit_waiting),
        ("evict", 5, evict),
        ("query", 15, query),
    ]
    if callable(getattr(api, "discard_session", None)):
        table.append(("discard", 5, discard))
    return table


def _worker(
    api: Any,
    providers: Providers,
    sessions: Sequence[str],
    operations: list[tuple[str, int, Callable[..., Any]]],
    seed: int,
    stop: threading.Event,
    budget: list[int],
    budget_lock: threading.Lock,
    counts: Counter[str],
) -> None:
    rng = random.Random(seed)
    names = [name for name, _, _ in operations]
    weights = [weight for _, weight, _ in operations]
    calls = {name: call for name, _, call in operations}
    local: Counter[str] = Counter()
    while not stop.is_set():
        with budget_lock:
            if budget[0] <= 0:
                stop.set()  # the operation budget is spent: end the phase now
                break
            budget[0] -= 1
        name = rng.choices(names, weights)[0]
        session_id = rng.choice(sessions)
        if name == "turn" and rng.random() < 0.05:
            api.register_agent(session_id, StressAgent(session_id, providers))
        try:
            calls[name](session_id, rng)
        except KeyboardInterrupt:
            local["re-raised BaseException"] += 1
        except Exception as error:  # an API call must not raise: reported as a failure
            local[f"{name} raised {type(error).__name__}: {error}"] += 1
        local[name] += 1
    with budget_lock:
        counts.update(local)


def _drain(api: Any, deadline: float, errors: list[BaseException]) -> None:
    drain = api.drain_all_on_shutdown
    try:
        if "deadline" in inspect.signature(drain).parameters:
            drain(deadline=deadline)
        else:
            drain()
    except BaseException as error:  # reported as a failure of the run
        errors.append(error)


def run(arguments: argparse.Namespace) -> int:
    """Run the stress test; return the exit status."""
    if not arguments.verbose:
        logging.disable(logging.CRITICAL)  # provider failures are expected; don't log each
    api = load_api(arguments.target)
    providers = Providers(
        latency=arguments.latency,
        fail_rate=arguments.fail_rate,
        base_rate=arguments.base_rate,
        hang_rate=arguments.hang_rate,
        max_hangs=arguments.max_hangs,
        seed=arguments.seed,
    )
    sessions = [f"session-{number}" for number in range(arguments.sessions)]
    for session_id in sessions:
        api.register_agent(session_id, StressAgent(session_id, providers))
    operations = _operations(api, providers)
    stop = threading.Event()
    budget = [arguments.max_ops]
    budget_lock = threading.Lock()
    counts: Counter[str] = Counter()
    workers = [
        threading.Thread(
            target=_worker,
            args=(
                api,
                providers,
                sessions,
                operations,
                arguments.seed * 1000 + number,
                stop,
                budget,
                budget_lock,
                counts,
            ),
            name=f"stress-{number}",
            daemon=True,
        )
        for number in range(arguments.threads)
    ]
    print(
        f"stress: {arguments.threads} threads x {arguments.sessions} sessions on "
        f"{arguments.target} for {arguments.seconds:g}s (at most {arguments.max_ops} ops)",
        file=sys.stderr,
    )
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    stop.wait(arguments.seconds)
    stop.set()
    phase_end = time.perf_counter()
    with providers.lock:
        providers.succeed_from_now = True
    providers.release.set()
    hung = []
    for worker in workers:
        worker.join(JOIN_SLACK_SECONDS)
        if worker.is_alive():
            hung.append(worker.name)
    elapsed = max(phase_end - started, 1e-9)
    total = sum(count for kind, count in counts.items() if kind in _KINDS)
    drain_errors: list[BaseException] = []
    drain_thread = threading.Thread(
        target=_drain,
        args=(api, arguments.drain_deadline, drain_errors),
        name="stress-drain",
        daemon=True,
    )
    drain_started = time.perf_counter()
    drain_thread.start()
    drain_thread.join(arguments.drain_deadline + JOIN_SLACK_SECONDS)
    drain_seconds = time.perf_counter() - drain_started
    if drain_thread.is_alive():
        hung.append("drain")
    dirty = [session_id for session_id in sessions if api.has_uncommitted_work(session_id)]

    print(f"operations: {total} in {elapsed:.2f}s = {total / elapsed:,.0f} ops/s")
    print(
        "  by kind: "
        + ", ".join(
            f"{name}={count}" for name, count in sorted(counts.items()) if " raised " not in name
        )
    )
    print(
        "  provider calls: "
        + ", ".join(f"{name}={count}" for name, count in sorted(providers.stats.items()))
    )
    print(f"  final drain: {drain_seconds:.3f}s")
    failures = []
    if providers.overlaps:
        failures.append(
            f"S5: two provider calls at once for {len(providers.overlaps)} session(s), "
            f"e.g. {providers.overlaps[0]}"
        )
    if dirty:
        failures.append(
            f"generations lost: {len(dirty)} session(s) still dirty after the final drain, "
            f"e.g. {dirty[:3]}"
        )
    if hung:
        failures.append(f"threads hung: {', '.join(hung)}")
    raised = {kind: count for kind, count in counts.items() if " raised " in kind}
    for kind, count in raised.items():
        failures.append(f"{count} x {kind}")
    for error in drain_errors:
        failures.append(f"the drain raised {type(error).__name__}: {error}")
    for failure in failures:
        print(f"FAILED {failure}")
    entries = getattr(api, "_sessions", None)
    entry = entries.get(dirty[0]) if dirty and entries is not None else None
    if isinstance(entry, dict):
        shown = {key: entry.get(key) for key in ("generation", "committed_generation", "in_flight")}
        print(f"  e.g. {dirty[0]}: {shown}")
    if not failures:
        print("ok: no overlap, no generation lost, no thread hung")
    return 1 if failures else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="compat", help="compat, native, module name or .py")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0, help="operation phase length")
    parser.add_argument("--max-ops", type=int, default=200_000, help="operation budget")
    parser.add_argument("--latency", type=float, default=0.002, help="max provider latency (s)")
    parser.add_argument("--fail-rate", type=float, default=0.1)
    parser.add_argument("--base-rate", type=float, default=0.02)
    parser.add_argument("--hang-rate", type=float, default=0.01)
    parser.add_argument("--max-hangs", type=int, default=3)
    parser.add_argument("--drain-deadline", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="keep the target's log output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run."""
    arguments = _parser().parse_args(argv)
    if arguments.threads < 1 or arguments.sessions < 1 or arguments.seconds <= 0:
        print("stress: --threads, --sessions and --seconds must be positive", file=sys.stderr)
        return 2
    return run(arguments)


if __name__ == "__main__":
    sys.exit(main())
