"""Exploration strategies over ``run_scenario``.

``explore(scenario, target, mode=..., budget=...)`` returns an
``ExplorationResult``:

- ``mode="dfs"``: CHESS-style exhaustive depth-first search of every schedule
  with at most ``preemption_bound`` preemptions (a switch away from a thread
  that could have continued). Bounds are tried in increasing order, so the
  first violation found has the fewest preemptions. ``exhausted`` says
  whether every schedule within the bound ran before ``budget`` runs.
- ``mode="random"``: ``budget`` runs choosing uniformly at random, seeds
  ``seed, seed + 1, ...``.
- ``mode="pct"``: ``budget`` PCT runs (random priorities, ``depth - 1``
  priority change points), same seeding.

With ``interrupts=True`` (dfs), every run also raises a KeyboardInterrupt in
one of the scenario's ``interrupted`` actors (all actors when it names none),
as a signal handler would: for each such actor and each of its interrupt
sites in turn (1, 2, ... until no schedule reaches the site), every schedule
within the bound. The violation's schedule string names the site.

Every violation carries its schedule string (and seed for sampled modes):
``run_scenario(target, scenario, violation.schedule)`` replays it exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..conformance.target import TargetFactory, pinned_sources
from .runner import RunResult, Violation, run_scenario
from .scenarios import Scenario
from .scheduler import Chooser, Decision
from .schedules import PCTChooser, RandomChooser, ReplayChooser

MODES = ("dfs", "random", "pct")
DEFAULT_BUDGET = 2_000
DEFAULT_PREEMPTION_BOUND = 2
INTERRUPT_PREEMPTION_BOUND = 0
"""The default bound with interrupts: every site times every schedule grows fast."""

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ExplorationResult:
    """What an exploration of one scenario on one target found."""

    scenario: str
    target: str
    mode: str
    schedules: int
    """Runs made (dfs re-runs each lower bound's schedules while deepening)."""
    exhausted: bool
    """dfs only: every schedule within the bound was run."""
    violation: Violation | None
    not_applicable: str | None
    elapsed: float
    preemption_bound: int | None = None
    max_steps: int = 0
    by_bound: dict[int, int] = field(default_factory=dict)
    """dfs only: distinct schedules per preemption bound tried."""
    interrupt_sites: int = 0
    """With interrupts: (actor, site) pairs a KeyboardInterrupt was injected at."""

    def summary(self) -> str:
        """One line for a terminal."""
        if self.not_applicable is not None:
            return f"{self.scenario}: not applicable ({self.not_applicable})"
        state = f"VIOLATION {self.violation.property_id}" if self.violation else "ok"
        extent = ""
        if self.interrupt_sites:
            extent = f", KeyboardInterrupt at {self.interrupt_sites} sites"
        elif self.mode == "dfs" and self.violation is None:
            kind = "exhaustive" if self.exhausted else "budget reached"
            bound = max(self.by_bound, default=0)
            extent = (
                f", {self.distinct} distinct with <= {bound} preemptions ({kind})"
                if self.by_bound
                else ""
            )
        return (
            f"{self.scenario}: {state} after {self.schedules} runs [{self.mode}{extent}] "
            f"in {self.elapsed:.2f}s"
        )

    @property
    def distinct(self) -> int:
        """dfs: schedules of the last bound tried (each lower bound's are among them)."""
        return self.by_bound[max(self.by_bound)] if self.by_bound else self.schedules


@dataclass
class _Node:
    enabled: tuple[int, ...]
    current: int | None
    chosen: int
    tried: set[int]


def _result(
    scenario: Scenario,
    ended: RunResult | None,
    target_name: str,
    started: float,
    *,
    mode: str,
    schedules: int,
    exhausted: bool,
    max_steps: int,
    preemption_bound: int | None = None,
    by_bound: dict[int, int] | None = None,
    interrupt_sites: int = 0,
    violation: Violation | None = None,
) -> ExplorationResult:
    """What an exploration that began at ``started`` found.

    ``ended`` is the run it stopped at (a violation, or a target lacking what the
    scenario needs), None when none did; ``violation`` stands for that run's own
    (a sampled run's, with its seed).
    """
    return ExplorationResult(
        scenario=scenario.name,
        target=target_name if ended is None else ended.target,
        mode=mode,
        schedules=schedules,
        exhausted=exhausted,
        violation=ended.violation if violation is None and ended is not None else violation,
        not_applicable=None if ended is None else ended.not_applicable,
        elapsed=time.perf_counter() - started,
        preemption_bound=preemption_bound,
        max_steps=max_steps,
        by_bound={} if by_bound is None else by_bound,
        interrupt_sites=interrupt_sites,
    )


def _is_preemption(current: int | None, enabled: tuple[int, ...], chosen: int) -> bool:
    return current is not None and current in enabled and chosen != current


def _next_prefix(stack: list[_Node], bound: int) -> list[int] | None:
    """Backtrack to the deepest decision with an untried choice within the bound."""
    while stack:
        preemptions = sum(
            _is_preemption(node.current, node.enabled, node.chosen) for node in stack[:-1]
        )
        node = stack[-1]
        for candidate in node.enabled:
            if candidate in node.tried:
                continue
            cost = preemptions + _is_preemption(node.current, node.enabled, candidate)
            node.tried.add(candidate)
            if cost <= bound:
                node.chosen = candidate
                return [item.chosen for item in stack]
        stack.pop()
    return None


def _sync(stack: list[_Node], decisions: tuple[Decision, ...]) -> None:
    """Extend the DFS stack with the decisions past the replayed prefix."""
    for decision in decisions[len(stack) :]:
        stack.append(_Node(decision.enabled, decision.current, decision.chosen, {decision.chosen}))


def _dfs(
    run: Callable[[Chooser], RunResult],
    bound: int,
    budget: int,
    progress: Progress | None,
    observe: Callable[[RunResult], None] | None = None,
) -> tuple[int, bool, RunResult | None, int]:
    """(runs, exhausted, first violating run, max steps) of a bounded DFS."""
    stack: list[_Node] = []
    prefix: list[int] = []
    runs = 0
    max_steps = 0
    while runs < budget:
        result = run(ReplayChooser(prefix))
        runs += 1
        max_steps = max(max_steps, result.steps)
        if observe is not None:
            observe(result)
        if progress is not None:
            progress(runs)
        if result.violation is not None or result.not_applicable is not None:
            return runs, False, result, max_steps
        _sync(stack, result.decisions)
        following = _next_prefix(stack, bound)
        if following is None:
            return runs, True, None, max_steps
        prefix = following
    return runs, False, None, max_steps


def explore(
    scenario: Scenario,
    target: TargetFactory,
    *,
    mode: str = "dfs",
    budget: int = DEFAULT_BUDGET,
    preemption_bound: int | None = None,
    seed: int = 0,
    depth: int = 3,
    target_name: str = "target",
    progress: Progress | None = None,
    interrupts: bool = False,
) -> ExplorationResult:
    """Explore ``scenario`` on ``target``; stop at the first violation or the budget.

    ``preemption_bound`` defaults to ``DEFAULT_PREEMPTION_BOUND``, or to
    ``INTERRUPT_PREEMPTION_BOUND`` with ``interrupts``. Source files are pinned
    for the whole exploration, so replays stay consistent.
    """
    with pinned_sources():
        if interrupts:
            return _explore_interrupts(
                scenario,
                target,
                budget=budget,
                preemption_bound=(
                    INTERRUPT_PREEMPTION_BOUND if preemption_bound is None else preemption_bound
                ),
                target_name=target_name,
                progress=progress,
            )
        return _explore(
            scenario,
            target,
            mode=mode,
            budget=budget,
            preemption_bound=(
                DEFAULT_PREEMPTION_BOUND if preemption_bound is None else preemption_bound
            ),
            seed=seed,
            depth=depth,
            target_name=target_name,
            progress=progress,
        )


def _explore(
    scenario: Scenario,
    target: TargetFactory,
    *,
    mode: str = "dfs",
    budget: int = DEFAULT_BUDGET,
    preemption_bound: int = DEFAULT_PREEMPTION_BOUND,
    seed: int = 0,
    depth: int = 3,
    target_name: str = "target",
    progress: Progress | None = None,
) -> ExplorationResult:
    if mode not in MODES:
        raise ValueError(f"unknown exploration mode {mode!r}; choose one of {', '.join(MODES)}")
    started = time.perf_counter()

    def run(chooser: Chooser) -> RunResult:
        return run_scenario(target, scenario, chooser, target_name=target_name)

    name = target_name
    if mode == "dfs":
        total = 0
        by_bound: dict[int, int] = {}
        last: RunResult | None = None
        exhausted = False
        steps = 0
        for bound in range(preemption_bound + 1):
            runs, exhausted, last, most = _dfs(run, bound, budget - total, progress)
            total += runs
            by_bound[bound] = runs
            steps = max(steps, most)
            if last is not None or not exhausted or total >= budget:
                break
        return _result(
            scenario,
            last,
            name,
            started,
            mode=mode,
            schedules=total,
            exhausted=exhausted,
            max_steps=steps,
            preemption_bound=preemption_bound,
            by_bound=by_bound,
        )
    steps = 0
    for index in range(budget):
        run_seed = seed + index
        chooser: Chooser = (
            RandomChooser(run_seed) if mode == "random" else PCTChooser(run_seed, depth=depth)
        )
        result = run(chooser)
        steps = max(steps, result.steps)
        if progress is not None:
            progress(index + 1)
        if result.not_applicable is not None or result.violation is not None:
            violation = result.violation
            if violation is not None:
                violation = Violation(
                    violation.property_id,
                    violation.message,
                    violation.trace,
                    violation.schedule,
                    run_seed,
                )
            return _result(
                scenario,
                result,
                name,
                started,
                mode=mode,
                schedules=index + 1,
                exhausted=False,
                max_steps=steps,
                violation=violation,
            )
    return _result(
        scenario, None, name, started, mode=mode, schedules=budget, exhausted=False, max_steps=steps
    )


def _explore_interrupts(
    scenario: Scenario,
    target: TargetFactory,
    *,
    budget: int,
    preemption_bound: int,
    target_name: str,
    progress: Progress | None,
) -> ExplorationResult:
    """DFS with a KeyboardInterrupt at each interrupt site of each interrupted actor."""
    started = time.perf_counter()
    actors = scenario.interrupted or tuple(name for name, _ in scenario.actors)
    total = 0
    steps = 0
    sites = 0
    exhausted = True
    found: RunResult | None = None
    for actor in actors:
        thread = scenario.actor_thread(actor)
        site = 0
        while found is None and total < budget:
            site += 1
            delivered = False

            def observe(result: RunResult) -> None:
                nonlocal delivered
                delivered = delivered or result.interrupted is not None

            def run(chooser: Chooser, site: int = site, thread: int = thread) -> RunResult:
                return run_scenario(
                    target, scenario, chooser, interrupt=(thread, site), target_name=target_name
                )

            runs, complete, violating, most = _dfs(
                run, preemption_bound, budget - total, progress, observe
            )
            total += runs
            steps = max(steps, most)
            if violating is not None:
                found = violating
            elif not complete:
                exhausted = False
            if not delivered:
                break
            sites += 1
        if found is not None or total >= budget:
            exhausted = exhausted and found is None and total < budget
            break
    return _result(
        scenario,
        found,
        target_name,
        started,
        mode="dfs",
        schedules=total,
        exhausted=exhausted and found is None,
        max_steps=steps,
        preemption_bound=preemption_bound,
        interrupt_sites=sites,
    )
