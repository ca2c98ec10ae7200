"""Per-operation cost: the drop-in compiled and pure, the native shell and the original.

All are measured in one process, side by side: the drop-in as installed (compiled
by mypyc when the build could compile it), the same drop-in loaded afresh from its
``.py`` sources (pure Python, whatever the install), the native ``SessionLifecycle``
as installed, and the original hermes-webui module when found.

One workload per session: register an agent, complete two turns, ask
has_uncommitted_work, commit (the provider returns at once), commit again (nothing
to commit), unregister. It runs over a batch of fresh sessions, on 1 to 8 threads
at once, with the implementations interleaved in shuffled order every round; each
operation's time is the batch's wall time divided by the calls made, and the
tables show the median over rounds. A second table runs the whole workload with
10^2 .. 10^5 other sessions alive, to show that the cost does not grow with them.

    python benchmarks/bench_ops.py            # ~60 seconds
    python benchmarks/bench_ops.py --quick    # ~15 seconds
"""

from __future__ import annotations

import gc
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import memory_lifecycle
from _common import InstantAgent, comparison_parser, header, load_reference, median, progress, table
from memory_lifecycle import compat

PACKAGE = "memory_lifecycle"

Phase = Callable[[list[str], object], None]


@dataclass
class Implementation:
    """The operations of one implementation, as plain callables."""

    name: str
    register: Callable[[str, object], object]
    turn: Callable[[str], object]
    has_work: Callable[[str], bool]
    commit: Callable[[str], object]
    unregister: Callable[[str], object]
    retire: Callable[[list[str]], None]
    """Remove a batch's entries, outside the timed sections."""
    reset: Callable[[], None]


# --- the installed form and the pure source, side by side ------------------------


def is_extension(path: str | None) -> bool:
    """True when ``path`` is a compiled extension module rather than Python source."""
    return path is not None and path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def installed_is_compiled() -> bool:
    """True when the installed shell and model run compiled by mypyc."""
    return any(
        is_extension(getattr(sys.modules.get(name), "__file__", None))
        for name in (f"{PACKAGE}.lifecycle", f"{PACKAGE}.model.step")
    )


def python_source(origin: str) -> str:
    """The ``.py`` file of a module found at ``origin``: itself, or the one beside it."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if origin.endswith(suffix):
            return origin[: -len(suffix)] + ".py"
    return origin


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the package's modules as ``.py`` files even where compiled ones are installed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE and not fullname.startswith(PACKAGE + "."):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            installed = finder.find_spec(fullname, path, target)
            if installed is not None:
                break
        else:
            return None
        if installed.origin is None:
            return installed
        return importlib.util.spec_from_file_location(
            fullname,
            python_source(installed.origin),
            submodule_search_locations=installed.submodule_search_locations,
        )


def load_pure_package() -> ModuleType:
    """A second, pure-Python copy of the drop-in (and the shell and model it imports).

    The installed modules are set aside while the copy imports, then put back, so
    both run in this process; the copy keeps its own module-level lifecycle.
    """
    installed = {
        name: module for name, module in sys.modules.items() if name.split(".")[0] == PACKAGE
    }
    for name in installed:
        del sys.modules[name]
    finder = _SourceFinder()
    sys.meta_path.insert(0, finder)
    try:
        pure = importlib.import_module(f"{PACKAGE}.compat")
        pure_lifecycle = sys.modules[f"{PACKAGE}.lifecycle"]
        if is_extension(pure.__file__) or is_extension(pure_lifecycle.__file__):
            raise RuntimeError("the pure copy of the drop-in loaded a compiled module")
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]
        sys.modules.update(installed)
    return pure


def compat_implementation(module: Any = compat, name: str = "compat") -> Implementation:
    """A drop-in module: ``memory_lifecycle.compat`` as installed, or a pure copy of it."""
    return Implementation(
        name,
        module.register_agent,
        module.mark_turn_completed,
        module.has_uncommitted_work,
        module.commit_session_memory,
        module.unregister_agent,
        lambda ids: _each(module.discard_session, ids),
        module._reset_for_tests,
    )


def native_implementation(name: str = "native") -> Implementation:
    """The native ``SessionLifecycle`` API on its own instance."""
    lifecycle = memory_lifecycle.SessionLifecycle()
    return Implementation(
        name,
        lifecycle.register_agent,
        lifecycle.complete_turn,
        lifecycle.has_uncommitted_work,
        lifecycle.commit,
        lifecycle.unregister_agent,
        lambda ids: _each(lifecycle.discard, ids),
        lifecycle.reset,
    )


def original_implementation(module: Any) -> Implementation:
    """The original module; it never removes an entry, so the harness pops them."""
    sessions: dict[str, object] = module._sessions

    def retire(ids: list[str]) -> None:
        with module._lock:
            for session_id in ids:
                sessions.pop(session_id, None)

    return Implementation(
        ORIGINAL,
        module.register_agent,
        module.mark_turn_completed,
        module.has_uncommitted_work,
        module.commit_session_memory,
        module.unregister_agent,
        retire,
        module._reset_for_tests,
    )


def _each(function: Callable[[str], object], ids: list[str]) -> None:
    for session_id in ids:
        function(session_id)


# --- the workload, one phase per operation ---------------------------------------


def phases(impl: Implementation) -> list[tuple[str, int, Phase]]:
    """``(operation, calls per session, run over a batch)`` in workload order."""
    register, turn, has_work = impl.register, impl.turn, impl.has_work
    commit, unregister = impl.commit, impl.unregister

    def do_register(ids: list[str], agent: object) -> None:
        for session_id in ids:
            register(session_id, agent)

    def do_turns(ids: list[str], agent: object) -> None:
        for session_id in ids:
            turn(session_id)
            turn(session_id)

    def do_has_work(ids: list[str], agent: object) -> None:
        for session_id in ids:
            if not has_work(session_id):
                raise AssertionError(f"{impl.name}: {session_id} should have work")

    def do_commit(ids: list[str], agent: object) -> None:
        for session_id in ids:
            commit(session_id)

    def do_unregister(ids: list[str], agent: object) -> None:
        for session_id in ids:
            unregister(session_id)

    return [
        ("register", 1, do_register),
        ("complete turn", 2, do_turns),
        ("has_uncommitted_work", 1, do_has_work),
        ("commit (instant provider)", 1, do_commit),
        ("commit (nothing to commit)", 1, do_commit),
        ("unregister", 1, do_unregister),
    ]


OPERATIONS = [name for name, _, _ in phases(compat_implementation())]
CALLS_PER_SESSION = sum(calls for _, calls, _ in phases(compat_implementation()))


CLOCK = "cpu"
"""``cpu``: CPU time of the threads doing the calls (steady on a busy machine);
``wall``: elapsed time from the first thread's start to the last one's end."""


WALL = "wall, whole workload"
"""The key of the elapsed time per call of all phases together, whatever ``CLOCK`` is."""


def run_workload(impl: Implementation, threads: int, batch: int, tag: str) -> dict[str, float]:
    """Run the workload on ``threads`` threads of ``batch`` sessions each; ns per call.

    One entry per operation on ``CLOCK``, and ``WALL``: elapsed time per call.
    """
    clock = time.thread_time_ns if CLOCK == "cpu" else time.perf_counter_ns
    wall_clock = time.perf_counter_ns
    total_calls = threads * batch * CALLS_PER_SESSION
    steps = phases(impl)
    id_lists = [[f"{tag}-{t}-{i}" for i in range(batch)] for t in range(threads)]
    agents = [InstantAgent() for _ in range(threads)]
    result: dict[str, float] = {}
    if threads == 1:
        wall = 0
        for name, calls, run in steps:
            wall_started = wall_clock()
            started = clock()
            run(id_lists[0], agents[0])
            result[name] = (clock() - started) / (batch * calls)
            wall += wall_clock() - wall_started
        result[WALL] = wall / total_calls
    else:
        barrier = threading.Barrier(threads)
        failures: list[BaseException] = []
        spans: list[list[tuple[int, int]]] = [[] for _ in steps]
        wall_spans: list[list[tuple[int, int]]] = [[] for _ in steps]

        def worker(ids: list[str], agent: object) -> None:
            for index, (_, _, run) in enumerate(steps):
                barrier.wait()
                wall_started = wall_clock()
                started = clock()
                try:
                    run(ids, agent)
                except BaseException as error:  # reported after the join
                    failures.append(error)
                spans[index].append((started, clock()))
                wall_spans[index].append((wall_started, wall_clock()))

        workers = [
            threading.Thread(target=worker, args=(id_lists[t], agents[t]), daemon=True)
            for t in range(threads)
        ]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(120)
        for (name, calls, _), phase_spans in zip(steps, spans, strict=True):
            if CLOCK == "cpu":
                spent = sum(end - start for start, end in phase_spans)
            else:
                spent = max(end for _, end in phase_spans) - min(start for start, _ in phase_spans)
            result[name] = spent / (threads * batch * calls)
        result[WALL] = (
            sum(
                max(end for _, end in phase) - min(start for start, _ in phase)
                for phase in wall_spans
            )
            / total_calls
        )
        if failures:
            raise failures[0]
    expected = threads * batch
    made = sum(agent.calls for agent in agents)
    if made != expected:
        raise AssertionError(f"{impl.name}: {made} provider calls, expected {expected}")
    for ids in id_lists:
        impl.retire(ids)
    return result


def populate(impl: Implementation, live: int) -> None:
    """Leave ``live`` committed, unregistered sessions alive."""
    impl.reset()
    agent = InstantAgent()
    for number in range(live):
        session_id = f"live-{number}"
        impl.register(session_id, agent)
        impl.turn(session_id)
        impl.commit(session_id)
        impl.unregister(session_id)
    gc.collect()


# --- the runs --------------------------------------------------------------------


def per_operation(
    impls: list[Implementation], thread_counts: list[int], rounds: int, batch: int, live: int
) -> dict[tuple[int, str], dict[str, list[float]]]:
    """Samples keyed by (threads, implementation), then operation."""
    samples: dict[tuple[int, str], dict[str, list[float]]] = {}
    order = random.Random(1)
    for impl in impls:
        populate(impl, live)
    for threads in thread_counts:
        progress(f"per-operation: {threads} thread(s), {rounds} rounds")
        for round_number in range(rounds):
            shuffled = impls[:]
            order.shuffle(shuffled)
            for impl in shuffled:
                timings = run_workload(impl, threads, batch, f"t{threads}r{round_number}")
                bucket = samples.setdefault((threads, impl.name), {})
                for name, value in timings.items():
                    bucket.setdefault(name, []).append(value)
    return samples


def live_sweep(
    impls: list[Implementation], sizes: list[int], rounds: int, batch: int
) -> dict[tuple[int, str], list[float]]:
    """Mean ns per call of the whole workload, keyed by (live sessions, implementation)."""
    samples: dict[tuple[int, str], list[float]] = {}
    order = random.Random(2)
    for live in sizes:
        progress(f"live-session sweep: {live} live sessions, {rounds} rounds")
        for impl in impls:
            populate(impl, live)
        for round_number in range(rounds):
            shuffled = impls[:]
            order.shuffle(shuffled)
            for impl in shuffled:
                timings = run_workload(impl, 1, batch, f"l{live}r{round_number}")
                total = sum(
                    timings[name] * calls for name, calls, _ in phases(impl) if name in timings
                )
                samples.setdefault((live, impl.name), []).append(total / CALLS_PER_SESSION)
    for impl in impls:
        impl.reset()
    return samples


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator == denominator else "n/a"


def ns(value: float) -> str:
    return "n/a" if value != value else f"{value:,.0f}"


ORIGINAL = "original"


def ratio_columns(names: list[str]) -> list[str]:
    """The implementations shown as a ratio to the original (every other drop-in and shell)."""
    return [name for name in names if name != ORIGINAL] if ORIGINAL in names else []


def with_ratios(row: list[object], per: dict[str, float], names: list[str]) -> list[object]:
    return [*row, *(ratio(per[name], per[ORIGINAL]) for name in ratio_columns(names))]


def ratio_headers(names: list[str]) -> list[str]:
    return [f"{name} / original" for name in ratio_columns(names)]


def report_operations(
    samples: dict[tuple[int, str], dict[str, list[float]]], names: list[str], threads: int
) -> str:
    rows: list[list[object]] = []
    medians = {
        name: {op: median(samples[(threads, name)][op]) for op in OPERATIONS} for name in names
    }
    for op in [*OPERATIONS, "all (per call)"]:
        if op == "all (per call)":
            per = {
                name: sum(medians[name][o] * c for o, c, _ in phases(compat_implementation()))
                / CALLS_PER_SESSION
                for name in names
            }
        else:
            per = {name: medians[name][op] for name in names}
        rows.append(with_ratios([op, *(ns(per[name]) for name in names)], per, names))
    return table(["operation (ns/call)", *names, *ratio_headers(names)], rows)


def report_wall(
    samples: dict[tuple[int, str], dict[str, list[float]]],
    names: list[str],
    thread_counts: list[int],
) -> str:
    rows: list[list[object]] = []
    for threads in thread_counts:
        per = {name: median(samples[(threads, name)][WALL]) for name in names}
        rows.append(with_ratios([threads, *(ns(per[name]) for name in names)], per, names))
    return table(["threads", *names, *ratio_headers(names)], rows)


def report_sweep(
    samples: dict[tuple[int, str], list[float]], names: list[str], sizes: list[int]
) -> str:
    rows: list[list[object]] = []
    for live in sizes:
        per = {name: median(samples[(live, name)]) for name in names}
        rows.append(with_ratios([f"{live:,}", *(ns(per[name]) for name in names)], per, names))
    return table(["live sessions", *names, *ratio_headers(names)], rows)


def main(argv: list[str] | None = None) -> int:
    parser = comparison_parser(__doc__, "fewer rounds (~15 s)")
    parser.add_argument("--rounds", type=int, help="rounds per configuration")
    parser.add_argument("--batch", type=int, help="sessions per thread per round")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: CPU time of the calling threads (default); wall: elapsed time",
    )
    options = parser.parse_args(argv)
    global CLOCK
    CLOCK = options.clock
    rounds = options.rounds or (5 if options.quick else 25)
    batch = options.batch or (500 if options.quick else 1000)
    thread_counts = [1, 2, 4, 8]
    sizes = [100, 1_000, 10_000, 100_000] if not options.quick else [100, 10_000, 100_000]
    live = 1_000

    compiled = installed_is_compiled()
    pure = load_pure_package()
    if compiled:
        impls = [
            compat_implementation(compat, "compat compiled"),
            compat_implementation(pure, "compat pure"),
            native_implementation("native compiled"),
        ]
    else:
        progress(
            "the installed modules are pure Python (the build did not compile them): "
            "only the pure drop-in is measured; reinstall with a C compiler for both"
        )
        impls = [compat_implementation(pure, "compat pure"), native_implementation("native pure")]
    original = load_reference(options.reference)
    if original is not None:
        impls.append(original_implementation(original))
    names = [impl.name for impl in impls]

    started = time.monotonic()
    operation_samples = per_operation(impls, thread_counts, rounds, batch, live)
    sweep_samples = live_sweep(impls, sizes, max(3, rounds // 2), batch)

    print(header("bench_ops: per-operation cost, compat compiled and pure vs native vs original"))
    form = "compiled by mypyc" if compiled else "pure Python"
    print(
        f"installed: {form}; 'compat pure' is the drop-in loaded from its .py sources "
        f"in this process"
    )
    print(
        f"workload per session: register, 2 turns, has_uncommitted_work, commit, "
        f"no-op commit, unregister; batch {batch} sessions per thread, {rounds} rounds, "
        f"implementations interleaved in shuffled order; median over rounds of the batch's "
        f"time per call"
    )
    clock_text = (
        "CPU time of the calling threads, summed"
        if CLOCK == "cpu"
        else "wall time, first start to last end"
    )
    print(f"clock: {CLOCK} ({clock_text}; --clock to change)")
    for threads in thread_counts:
        print()
        print(f"## {threads} thread(s), {live:,} other sessions alive (ns per call)")
        print(report_operations(operation_samples, names, threads))
    print()
    print(f"## whole workload, elapsed (wall) time per call, {live:,} other sessions alive")
    print(report_wall(operation_samples, names, thread_counts))
    print()
    print(f"## whole workload, single thread, as live sessions grow ({CLOCK} ns per call)")
    print(report_sweep(sweep_samples, names, sizes))
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
