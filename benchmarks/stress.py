"""Stress test on real threads: many threads, many sessions, random operations, Ctrl-C.

    python benchmarks/stress.py [--target compat|native|MODULE|PATH] [--threads 16]
        [--sessions 64] [--seconds 5] [--max-ops 200000] [--seed 0] [--sigint-ms 1]

Worker threads call random hermes-webui operations (turns, boundary commits
with and without waiting, evictions that register a new agent, queries,
discards) on random sessions. Providers sleep a random latency and sometimes
fail, raise a BaseException (KeyboardInterrupt) or hang until the end of the
operation phase (at most ``--max-hangs`` of them). With ``--sigint-ms`` the
main thread meanwhile loops over turns, ``has_uncommitted_work`` and commits
of its own sessions while SIGINT arrives every that many milliseconds, its
handler raising KeyboardInterrupt wherever the main thread is in the target,
as Ctrl-C does. Then the signals stop, every provider succeeds, hangs are
released, and the run verifies:

- S5: never two provider calls of one session at once;
- S3: no session is left marked in flight with no provider call running (a
  wedge), read twice, a moment apart;
- L3: reading the target's state, and the drain, return within bounds (a lock
  left held blocks them forever), and every worker returned;
- no generation lost: after the drain no session has uncommitted work, and
  the drain raised nothing.

Prints operations per second and exits 1 when a check fails (2 on bad usage).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from memory_lifecycle.specs.conformance.target import Target, TargetError, target_factory

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
    """An agent of one session whose provider call follows ``Providers`` (or returns at once)."""

    def __init__(self, session_id: str, providers: Providers, *, instant: bool = False) -> None:
        self.session_id = session_id
        self.providers = providers
        self.instant = instant

    def commit_memory_session(self) -> None:
        """Sleep, then succeed, fail, raise a BaseException, or hang until released."""
        providers = self.providers
        if self.instant:  # marked so that a SIGINT landing anywhere in here unmarks it
            running = providers.running
            entered = False
            try:
                with providers.lock:
                    running[self.session_id] += 1
                    entered = True
                    overlapping = running[self.session_id] > 1
                if overlapping:
                    providers.overlaps.append(self.session_id)
            finally:
                if entered:
                    with providers.lock:
                        running[self.session_id] -= 1
            return
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


def load_api(target: str) -> Target:
    """A fresh instance of ``target`` (compat, native, a module name or a path), loaded afresh."""
    return target_factory(target)()


def _operations(api: Target, providers: Providers) -> list[tuple[str, int, Callable[..., Any]]]:
    """(name, weight, operation(session_id, rng)) for the operations the target offers."""

    def turn(session_id: str, rng: random.Random) -> Any:
        return api.mark_turn_completed(session_id)

    def commit(session_id: str, rng: random.Random) -> Any:
        return api.commit(session_id, None, False, None)

    def commit_waiting(session_id: str, rng: random.Random) -> Any:
        return api.commit(session_id, None, True, rng.random() * 0.01)

    def evict(session_id: str, rng: random.Random) -> Any:
        api.commit(session_id, None, False, None)
        api.unregister_agent(session_id)
        api.register_agent(session_id, StressAgent(session_id, providers))

    def query(session_id: str, rng: random.Random) -> Any:
        return api.has_uncommitted_work(session_id)

    def discard(session_id: str, rng: random.Random) -> Any:
        # A host discards an evicted session and builds a new agent when it is next used.
        api.discard(session_id)
        api.register_agent(session_id, StressAgent(session_id, providers))

    table: list[tuple[str, int, Callable[..., Any]]] = [
        ("turn", 50, turn),
        ("commit", 15, commit),
        ("commit_waiting", 10, commit_waiting),
        ("evict", 5, evict),
        ("query", 15, query),
    ]
    if api.has_discard:
        table.append(("discard", 5, discard))
    return table


def _worker(
    api: Target,
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


class Interrupter:
    """Sends SIGINT to the main thread every ``interval`` seconds while the main thread is armed.

    The handler raises KeyboardInterrupt only while ``armed`` (the main thread is
    inside a target call), so the harness itself is never interrupted.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.armed = False
        self.delivered = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._send, name="stress-sigint", daemon=True)
        self._previous: Any = None

    def _handler(self, signum: int, frame: object) -> None:
        if self.armed:
            self.delivered += 1
            raise KeyboardInterrupt("stress: injected SIGINT")

    def _send(self) -> None:
        main = threading.main_thread().ident
        assert main is not None
        while not self.stop.wait(self.interval):
            signal.pthread_kill(main, signal.SIGINT)

    def __enter__(self) -> Interrupter:
        self._previous = signal.signal(signal.SIGINT, self._handler)
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()
        self.armed = False
        time.sleep(self.interval * 2)  # let a signal already sent arrive, disarmed
        signal.signal(signal.SIGINT, self._previous)


def _main_thread_loop(
    api: Target,
    sessions: Sequence[str],
    interrupter: Interrupter,
    ends: float,
    counts: Counter[str],
) -> None:
    """Turns, queries and commits of ``sessions`` on the main thread, under SIGINT."""
    rng = random.Random(1)
    calls = (
        lambda sid: api.mark_turn_completed(sid),
        lambda sid: api.has_uncommitted_work(sid),
        lambda sid: api.commit(sid, None, False, None),
    )
    while True:
        try:
            while time.monotonic() < ends:
                call = rng.choice(calls)
                session_id = rng.choice(sessions)
                interrupter.armed = True
                try:
                    call(session_id)
                    interrupter.armed = False
                    counts["main-thread"] += 1
                except KeyboardInterrupt:
                    interrupter.armed = False
                    counts["main-thread interrupted"] += 1
                except Exception as error:  # a SIGINT turned into another exception: a failure
                    interrupter.armed = False
                    counts[f"main thread: call raised {type(error).__name__}: {error}"] += 1
            return
        except KeyboardInterrupt:  # landed between the call's end and disarming
            interrupter.armed = False
            counts["main-thread interrupted"] += 1


def _bounded(function: Callable[[], Any], bound: float, name: str) -> tuple[bool, Any]:
    """(finished, result or exception) of ``function`` run on a daemon thread for ``bound`` s."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(function())
        except BaseException as error:  # reported by the caller
            box.append(error)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(bound)
    return bool(box), box[0] if box else None


def _wedged(api: Target, sessions: Sequence[str], providers: Providers) -> tuple[list[str], bool]:
    """(sessions marked in flight with no provider call running, whether reading hung)."""
    if api.inspect is None:
        return [], False
    inspect = api.inspect

    def read() -> list[str]:
        found = []
        for session_id in sessions:
            view = inspect(session_id)
            with providers.lock:
                running = providers.running[session_id]
            if view is not None and view.in_flight and running == 0:
                found.append(session_id)
        return found

    suspects: set[str] | None = None
    for _ in range(
        2
    ):  # twice, a moment apart: a call between its mark and its start is not a wedge
        finished, seen = _bounded(read, JOIN_SLACK_SECONDS, "stress-inspect")
        if not finished:
            return [], True
        suspects = set(seen) if suspects is None else suspects & set(seen)
        time.sleep(0.2)
    return sorted(suspects or ()), False


def run_in_child(arguments: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run the SIGINT stress in a child process, bounded: its main thread may never come back.

    A Ctrl-C can leave the target's lock held, and then a main-thread call blocks
    for good (or retries forever); only a process boundary gets the report out.
    """
    bound = arguments.seconds + arguments.drain_deadline + 3 * JOIN_SLACK_SECONDS
    command = [sys.executable, __file__, *argv, "--in-child"]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=bound, env=environment, check=False
        )
    except subprocess.TimeoutExpired as expired:
        sys.stderr.write(_text(expired.stderr))
        sys.stdout.write(_text(expired.stdout))
        print(
            f"FAILED L3 lock left held: the main thread never came back from a target call "
            f"within {bound:g} s (it blocks on a lock a SIGINT left held, or retries forever)"
        )
        return 1
    sys.stderr.write(done.stderr)
    sys.stdout.write(done.stdout)
    return done.returncode


def _text(output: bytes | str | None) -> str:
    if output is None:
        return ""
    return output if isinstance(output, str) else output.decode(errors="replace")


def run(arguments: argparse.Namespace) -> int:
    """Run the stress test; return the exit status."""
    if not arguments.verbose:
        logging.disable(logging.CRITICAL)  # provider failures are expected; don't log each
    try:
        api = load_api(arguments.target)
    except TargetError as error:
        print(f"stress: {error}", file=sys.stderr)
        return 2
    providers = Providers(
        latency=arguments.latency,
        fail_rate=arguments.fail_rate,
        base_rate=arguments.base_rate,
        hang_rate=arguments.hang_rate,
        max_hangs=arguments.max_hangs,
        seed=arguments.seed,
    )
    sessions = [f"session-{number}" for number in range(arguments.sessions)]
    main_sessions = [f"main-{number}" for number in range(4)] if arguments.sigint_ms else []
    for session_id in sessions:
        api.register_agent(session_id, StressAgent(session_id, providers))
    for session_id in main_sessions:  # instant providers: signals land in the lifecycle's code
        api.register_agent(session_id, StressAgent(session_id, providers, instant=True))
        providers.running[session_id] = 0
    operations = _operations(api, providers)
    stop = threading.Event()
    budget = [arguments.max_ops]
    budget_lock = threading.Lock()
    counts: Counter[str] = Counter()
    main_counts: Counter[str] = Counter()
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
    sigint = f", SIGINT every {arguments.sigint_ms:g} ms" if arguments.sigint_ms else ""
    print(
        f"stress: {arguments.threads} threads x {arguments.sessions} sessions on "
        f"{arguments.target} for {arguments.seconds:g}s (at most {arguments.max_ops} ops){sigint}",
        file=sys.stderr,
    )
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    delivered = 0
    if arguments.sigint_ms:
        with Interrupter(arguments.sigint_ms / 1000) as interrupter:
            _main_thread_loop(
                api, main_sessions, interrupter, time.monotonic() + arguments.seconds, main_counts
            )
        delivered = interrupter.delivered
    else:
        stop.wait(arguments.seconds)
    stop.set()
    phase_end = time.perf_counter()
    with providers.lock:
        providers.succeed_from_now = True
    providers.release.set()
    hung = []
    joined_by = time.monotonic() + JOIN_SLACK_SECONDS
    for worker in workers:
        worker.join(max(0.0, joined_by - time.monotonic()))
        if worker.is_alive():
            hung.append(worker.name)
    elapsed = max(phase_end - started, 1e-9)
    total = sum(count for kind, count in counts.items() if kind in _KINDS)
    everything = sessions + main_sessions
    time.sleep(0.2)  # follow-ups started by the last calls finish
    wedged, inspect_hung = _wedged(api, everything, providers)
    drain_errors: list[BaseException] = []
    drain_seconds = 0.0
    drained = True
    if api.has_drain:
        drain_started = time.perf_counter()
        drained, outcome = _bounded(
            lambda: api.drain(arguments.drain_deadline),
            arguments.drain_deadline + JOIN_SLACK_SECONDS,
            "stress-drain",
        )
        drain_seconds = time.perf_counter() - drain_started
        if isinstance(outcome, BaseException):
            drain_errors.append(outcome)
    read, dirty_or_error = _bounded(
        lambda: [sid for sid in everything if api.has_uncommitted_work(sid)],
        JOIN_SLACK_SECONDS,
        "stress-query",
    )
    dirty = dirty_or_error if read and isinstance(dirty_or_error, list) else []

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
    if arguments.sigint_ms:
        print(
            f"  main thread: {main_counts['main-thread']} calls, "
            f"{main_counts['main-thread interrupted']} interrupted ({delivered} SIGINT raised)"
        )
        for kind, count in main_counts.items():
            if kind.startswith("main thread: "):
                counts[f"{kind} (after a SIGINT) raised"] += count
    print(f"  final drain: {drain_seconds:.3f}s")
    failures = []
    if providers.overlaps:
        failures.append(
            f"S5: two provider calls at once for {len(providers.overlaps)} session(s), "
            f"e.g. {providers.overlaps[0]}"
        )
    if inspect_hung:
        failures.append("L3 lock left held: reading the target's state blocked")
    if wedged:
        failures.append(
            f"S3 wedged: {len(wedged)} session(s) marked in flight with no provider call "
            f"running, e.g. {wedged[:3]}"
        )
    if not drained:
        failures.append("L3 lock left held: the drain never returned")
    if not read:
        failures.append("L3 lock left held: has_uncommitted_work never returned")
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
    if not failures:
        print("ok: no overlap, no wedge, no lock left held, no generation lost, no thread hung")
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
    parser.add_argument(
        "--sigint-ms",
        type=float,
        default=0.0,
        help="send SIGINT every that many ms while the main thread calls the target (0: off); "
        "runs in a child process",
    )
    parser.add_argument("--in-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="keep the target's log output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run."""
    given = list(sys.argv[1:] if argv is None else argv)
    arguments = _parser().parse_args(given)
    if arguments.threads < 1 or arguments.sessions < 1 or arguments.seconds <= 0:
        print("stress: --threads, --sessions and --seconds must be positive", file=sys.stderr)
        return 2
    if arguments.sigint_ms and not arguments.in_child:
        return run_in_child(arguments, given)
    return run(arguments)


if __name__ == "__main__":
    sys.exit(main())
