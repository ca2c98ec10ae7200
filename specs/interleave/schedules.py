"""Choosers: replay a schedule string, sample at random, or sample PCT-style.

A *schedule string* lists, for every scheduling point where more than one
thread was ready, the index of the thread that ran: ``"0.2.1.1"``. ``"-"``
(or ``""``) is the schedule with no such choice. After the listed choices a
replay keeps running the current thread while it is ready, else the lowest
index (no further preemption), which is also how depth-first exploration
completes a prefix. A run with an injected KeyboardInterrupt prefixes its
schedule with ``THREAD@SITE/``: ``"1@7/0.2.1"`` raises it in T1 at its seventh
interrupt site.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .scheduler import Decision, FirstChooser, LogicalThread


class ScheduleDiverged(RuntimeError):
    """A replayed schedule chose a thread that is not ready: the target is not the same."""


def format_schedule(decisions: Sequence[Decision], interrupt: tuple[int, int] | None = None) -> str:
    """The schedule string of a run's decisions (and its injected interrupt, if any)."""
    choices = ".".join(str(decision.chosen) for decision in decisions) or "-"
    if interrupt is None:
        return choices
    return f"{interrupt[0]}@{interrupt[1]}/{choices}"


def split_interrupt(text: str) -> tuple[tuple[int, int] | None, str]:
    """``(interrupt, choices)`` of a schedule string: ``"1@7/0.1"`` -> ``((1, 7), "0.1")``."""
    head, slash, rest = text.strip().partition("/")
    if not slash:
        return None, head
    thread, at, site = head.partition("@")
    if not at or not thread.isdigit() or not site.isdigit():
        raise ValueError(
            f"bad schedule string {text!r}: an interrupt prefix is THREAD@SITE/, e.g. 1@7/0.1.1"
        )
    return (int(thread), int(site)), rest


def parse_schedule(text: str) -> list[int]:
    """The thread indices of a schedule string."""
    text = text.strip()
    if text in ("", "-"):
        return []
    try:
        return [int(part) for part in text.split(".")]
    except ValueError:
        raise ValueError(
            f"bad schedule string {text!r}: expected thread indices joined by '.', e.g. 0.1.1"
        ) from None


class ReplayChooser:
    """Follow a list of choices, then run without preemption."""

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = list(choices)
        self.position = 0
        self._rest = FirstChooser()

    @classmethod
    def parse(cls, text: str) -> ReplayChooser:
        """A replay of a schedule string."""
        return cls(parse_schedule(text))

    def choose(self, enabled: list[LogicalThread], current: LogicalThread | None, step: int) -> int:
        """The next listed choice, or the non-preemptive default past the list."""
        position = self.position
        self.position += 1
        if position >= len(self.choices):
            return self._rest.choose(enabled, current, step)
        wanted = self.choices[position]
        if all(thread.index != wanted for thread in enabled):
            ready = ", ".join(f"T{thread.index}" for thread in enabled)
            raise ScheduleDiverged(
                f"schedule choice {position} is T{wanted}, which is not ready (ready: {ready}); "
                f"the schedule was recorded on another target, scenario or version of the source"
            )
        return wanted

    def on_spawn(self, thread: LogicalThread) -> None:
        """Nothing to learn."""


class RandomChooser:
    """Pick a ready thread uniformly at random (seeded)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def choose(self, enabled: list[LogicalThread], current: LogicalThread | None, step: int) -> int:
        """A uniformly random ready thread."""
        return self.random.choice(enabled).index

    def on_spawn(self, thread: LogicalThread) -> None:
        """Nothing to learn."""


class PCTChooser:
    """Probabilistic concurrency testing: random priorities, ``depth - 1`` change points.

    Runs the highest-priority ready thread. At each of ``depth - 1`` random
    decision numbers below ``expected_decisions`` the thread about to run drops
    below every initial priority, which finds any bug of depth ``depth`` with
    probability at least 1 / (threads * expected_decisions ** (depth - 1)).
    """

    def __init__(self, seed: int, depth: int = 3, expected_decisions: int = 40) -> None:
        self.random = random.Random(seed)
        self.depth = depth
        self.priorities: dict[int, float] = {}
        count = max(depth - 1, 0)
        points = self.random.sample(range(max(expected_decisions, count)), count)
        self.change_points = {point: rank for rank, point in enumerate(sorted(points))}
        self.decision = 0

    def on_spawn(self, thread: LogicalThread) -> None:
        """Give a new thread a random priority above every change-point priority."""
        self.priorities[thread.index] = self.depth + self.random.random()

    def choose(self, enabled: list[LogicalThread], current: LogicalThread | None, step: int) -> int:
        """The highest-priority ready thread, after applying a due change point."""

        def priority(thread: LogicalThread) -> float:
            return self.priorities.get(thread.index, 0.0)

        chosen = max(enabled, key=priority)
        rank = self.change_points.get(self.decision)
        self.decision += 1
        if rank is not None:
            self.priorities[chosen.index] = float(rank)
            chosen = max(enabled, key=priority)
        return chosen.index
