"""Memory retained per retired session, measured with tracemalloc.

Each session lives a whole life: register a fresh agent, complete a turn, commit,
unregister, then discard (the original's first version has no discard, so its
entries are never removed). A second pass skips the unregister, as a host that
just drops its cached agent would. After N such sessions and a garbage collection, the
growth of traced memory divided by N is what one retired session leaves behind;
the table also counts the entries and the agent objects still alive.

    python benchmarks/bench_memory.py            # ~30 seconds
    python benchmarks/bench_memory.py --quick    # ~5 seconds
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import memory_lifecycle
from _common import comparison_parser, header, load_reference, progress, table
from memory_lifecycle import compat


class CountedAgent:
    """An agent with an instant provider that counts how many of its kind are alive."""

    alive = 0

    def __init__(self) -> None:
        CountedAgent.alive += 1

    def __del__(self) -> None:
        CountedAgent.alive -= 1

    def commit_memory_session(self) -> None:
        """Return at once."""


@dataclass
class Target:
    """One implementation's operations and how to count its entries."""

    name: str
    register: Callable[[str, object], object]
    turn: Callable[[str], object]
    commit: Callable[[str], object]
    unregister: Callable[[str], object]
    discard: Callable[[str], object] | None
    entries: Callable[[], int]
    reset: Callable[[], None]


def compat_target() -> Target:
    return Target(
        "compat",
        compat.register_agent,
        compat.mark_turn_completed,
        compat.commit_session_memory,
        compat.unregister_agent,
        compat.discard_session,
        lambda: len(compat._sessions),
        compat._reset_for_tests,
    )


def native_target() -> Target:
    lifecycle = memory_lifecycle.SessionLifecycle()
    return Target(
        "native",
        lifecycle.register_agent,
        lifecycle.complete_turn,
        lifecycle.commit,
        lifecycle.unregister_agent,
        lifecycle.discard,
        lambda: len(lifecycle),
        lifecycle.reset,
    )


def original_target(module: Any) -> Target:
    return Target(
        "original",
        module.register_agent,
        module.mark_turn_completed,
        module.commit_session_memory,
        module.unregister_agent,
        getattr(module, "discard_session", None),
        lambda: len(module._sessions),
        module._reset_for_tests,
    )


def _keep(session_id: str) -> None:
    """Stand-in for unregister when the host skips it."""


@dataclass
class Measurement:
    retained_bytes: int
    entries: int
    agents_alive: int
    seconds: float


def measure(target: Target, sessions: int, tag: str, unregistering: bool) -> Measurement:
    """Retire ``sessions`` sessions under tracemalloc; what stays afterwards."""
    target.reset()
    register, turn, commit = target.register, target.turn, target.commit
    discard = target.discard
    unregister = target.unregister if unregistering else _keep

    def retire(session_id: str) -> None:
        """One session's whole life: registered, a turn, committed, (unregistered,) discarded."""
        register(session_id, CountedAgent())
        turn(session_id)
        commit(session_id)
        unregister(session_id)
        if discard is not None:
            discard(session_id)

    retire(f"{tag}-warm-up")  # first, so lazily built structures are not counted per session
    entries_before = target.entries()
    agents_before = CountedAgent.alive
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    before = tracemalloc.get_traced_memory()[0]
    for number in range(sessions):
        retire(f"{tag}-{number}")
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    seconds = time.perf_counter() - started
    tracemalloc.stop()
    measurement = Measurement(
        after - before,
        target.entries() - entries_before,
        CountedAgent.alive - agents_before,
        seconds,
    )
    target.reset()
    gc.collect()
    return measurement


def main(argv: list[str] | None = None) -> int:
    parser = comparison_parser(__doc__, "smaller runs (~5 s)")
    options = parser.parse_args(argv)
    sizes = [1_000, 5_000] if options.quick else [1_000, 10_000, 25_000]

    targets = [compat_target(), native_target()]
    original = load_reference(options.reference)
    if original is not None:
        targets.append(original_target(original))

    started = time.monotonic()
    rows: list[list[object]] = []
    for unregistering in (True, False):
        for sessions in sizes:
            progress(f"memory: {sessions:,} retired sessions, unregister {unregistering}")
            for target in targets:
                result = measure(target, sessions, f"m{sessions}", unregistering)
                rows.append(
                    [
                        target.name,
                        f"{sessions:,}",
                        "yes" if unregistering else "no",
                        "yes" if target.discard is not None else "no (not in this version)",
                        f"{result.retained_bytes:,}",
                        f"{result.retained_bytes / sessions:,.1f}",
                        f"{result.entries:,}",
                        f"{result.agents_alive:,}",
                    ]
                )

    print(header("bench_memory: bytes retained per retired session (tracemalloc)"))
    print(
        "each session: register a fresh agent, 1 turn, commit, unregister (or not), discard; "
        "then gc.collect(); growth of traced memory"
    )
    print()
    print(
        table(
            [
                "implementation",
                "sessions",
                "unregister",
                "discard",
                "retained bytes",
                "bytes per session",
                "entries left",
                "agents alive",
            ],
            rows,
        )
    )
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
