"""The stateful search: Hypothesis runs of the machine until every requested property has a verdict.

``run_stateful`` checks only the requested properties: the machine's other
invariants are switched off, and a run whose leading discrepancy belongs to an
unchecked property stops comparing. A search is one Hypothesis test of the
machine. When it finds a violation, Hypothesis shrinks it (for a bounded
time), ``replay.minimise`` deletes steps, and a new search starts with the
violated properties no longer checked, so one call reports every property it
can within the budget: ``budget.runs`` runs in all, ``budget.seconds`` in all.

Each search is seeded from ``seed`` and the set of properties it checks, so a
run is deterministic for a given seed (up to the target's own timing), and
``conform --only <that set> --seed N`` reruns the search that found a violation.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from ..conformance.target import TargetFactory, origin_tracking
from ..properties import ALL
from .machine import NEEDS, PropertyViolation, SearchStopped, Supervisor, lifecycle_machine
from .replay import minimise
from .verdict import PropertyVerdict, StatefulResult

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SearchBudget:
    """How much the stateful comparison may spend on one target."""

    runs: int
    steps: int
    """Rules per run (Hypothesis's ``stateful_step_count``)."""
    seconds: float
    """Wall-clock limit for everything: searches, shrinking and minimising."""
    shrink_seconds: float
    """At most this long shrinking one violation, and half of it deleting steps.

    Never more than a sixth of the time left, so the search goes on for the others.
    """

    @classmethod
    def sized(cls, runs: int, steps: int, shrink_seconds: float) -> SearchBudget:
        """A budget whose time limit grows with the work: 10 s, plus 4 ms per step."""
        return cls(runs, steps, 10.0 + 0.004 * runs * steps, shrink_seconds)


class Search(Supervisor):
    """One Hypothesis test of the machine: counts its runs and keeps the violations it sees."""

    def __init__(
        self,
        checked: Iterable[str],
        runs_allowed: int,
        deadline: float,
        shrink_seconds: float,
        say: Progress = lambda _text: None,
    ) -> None:
        super().__init__(checked)
        self.say = say
        self.runs_allowed = runs_allowed
        self.deadline = deadline
        self.shrink_seconds = shrink_seconds
        self.stop_at = deadline
        self.runs = 0
        """Runs before the first violation, that one included (shrinking replays not counted)."""
        self.steps = 0
        self.shrinking = False
        self.found: dict[str, PropertyViolation] = {}
        self.stopped: str | None = None
        self._counting = False

    def run_started(self) -> None:
        self._counting = False
        if not self.shrinking and self.runs >= self.runs_allowed:
            self._stop("budget")
        self._check_time()
        self._counting = not self.shrinking

    def rule_starting(self) -> None:
        self._check_time()

    def _check_time(self) -> None:
        if time.monotonic() >= self.stop_at:
            self._stop("shrink time" if self.shrinking else "time")

    def _stop(self, reason: str) -> None:
        self._counting = False
        self.stopped = reason
        raise SearchStopped(reason)

    def violated(self, violation: PropertyViolation) -> None:
        best = self.found.get(violation.property_id)
        if best is None or len(violation.script) < len(best.script):
            self.found[violation.property_id] = violation
        if not self.shrinking:
            self.shrinking = True
            self.stop_at = min(self.deadline, time.monotonic() + self.shrink_seconds)
            self.say(
                f"stateful: {violation.property_id} violated in run {self.runs + 1}; "
                f"shrinking (up to {self.stop_at - time.monotonic():.0f} s)"
            )

    def run_ended(self, steps: int) -> None:
        if self._counting:
            self.runs += 1
            self.steps += steps
        self._counting = False


@dataclass
class _Found:
    violation: PropertyViolation
    checked: frozenset[str]
    after: tuple[str, ...]


def run_stateful(
    factory: TargetFactory,
    *,
    budget: SearchBudget,
    properties: Iterable[str] | None = None,
    seed_value: int = 0,
    progress: Progress | None = None,
) -> StatefulResult:
    """Compare targets made by ``factory`` with the model; one verdict per requested property.

    ``properties`` (default: the whole catalogue) restricts what the search
    checks, not only what it reports.
    """
    say = progress or (lambda _text: None)
    started = time.monotonic()
    deadline = started + budget.seconds
    wanted = None if properties is None else set(properties)
    requested = [item.id for item in ALL if wanted is None or item.id in wanted]
    sample = factory()
    verdicts: dict[str, PropertyVerdict] = {}
    for property_id in requested:
        flag = NEEDS.get(property_id)
        if flag is not None and not getattr(sample, flag):
            call = "discard_session" if flag == "has_discard" else "drain_all_on_shutdown"
            verdicts[property_id] = PropertyVerdict(
                property_id, "not_applicable", f"target has no {call}"
            )
    active = [pid for pid in requested if pid not in verdicts]
    found: dict[str, _Found] = {}
    errors: list[str] = []
    runs = steps = searches = 0
    stopped: str | None = None
    with origin_tracking():
        while active and runs < budget.runs:
            left = deadline - time.monotonic()
            if left <= 0:
                stopped = "time"
                break
            search = Search(
                active,
                budget.runs - runs,
                deadline,
                min(budget.shrink_seconds, max(1.0, left / 6)),
                say,
            )
            searches += 1
            search_seed = _search_seed(seed_value, active)
            say(
                f"stateful search {searches}: {', '.join(active)}; up to {budget.runs - runs} "
                f"runs x {budget.steps} steps (seed {seed_value})"
            )
            after = tuple(found)
            error = _hypothesis(factory, search, budget, search_seed)
            runs, steps = runs + search.runs, steps + search.steps
            if error is not None and not (search.found and isinstance(error, Flaky)):
                errors.append(f"stateful comparison stopped: {error!r}")
                stopped = "error"
            for property_id in [pid for pid in active if pid in search.found]:
                say(f"stateful: {property_id} violated; deleting steps from its counterexample")
                left = deadline - time.monotonic()
                until = time.monotonic() + min(budget.shrink_seconds / 2, max(0.5, left / 6))
                shortest = minimise(factory, search.found[property_id], search.checked, until)
                found[property_id] = _Found(shortest, search.checked, after)
            active = [pid for pid in active if pid not in search.found]
            if stopped == "error":
                break
            if not search.found:
                stopped = "time" if search.stopped == "time" else stopped
                break
    checked_runs = f"{runs} runs of up to {budget.steps} steps, {steps:,} steps compared"
    for property_id in requested:
        if property_id in verdicts:
            continue
        if property_id in found:
            item = found[property_id]
            verdicts[property_id] = PropertyVerdict(
                property_id,
                "violated",
                item.violation.message,
                runs,
                steps,
                item.violation.trace(),
                (
                    "--only",
                    ",".join(sorted(item.checked, key=_catalogue_index)),
                    "--checks",
                    "stateful",
                    "--seed",
                    str(seed_value),
                ),
                item.after,
            )
        elif stopped is None and runs >= budget.runs:
            verdicts[property_id] = PropertyVerdict(
                property_id, "passed", f"{checked_runs} (seed {seed_value})", runs, steps
            )
        else:
            verdicts[property_id] = PropertyVerdict(
                property_id, "not_checked", _why_not(stopped, runs, budget, found), runs, steps
            )
    return StatefulResult(
        {pid: verdicts[pid] for pid in requested},
        runs,
        steps,
        searches,
        time.monotonic() - started,
        tuple(errors),
    )


def _hypothesis(
    factory: TargetFactory, search: Search, budget: SearchBudget, search_seed: int
) -> BaseException | None:
    """Run one search as a Hypothesis test; the unexpected error it ended with, if any."""
    machine = seed(search_seed)(lifecycle_machine(factory, search))
    test_settings = settings(
        max_examples=budget.runs,
        stateful_step_count=budget.steps,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate, Phase.shrink),
    )
    try:
        run_state_machine_as_test(machine, settings=test_settings)
    except SearchStopped:
        return None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:
        unexpected = [
            leaf
            for leaf in _leaves(error)
            if not isinstance(leaf, PropertyViolation | SearchStopped)
        ]
        if unexpected:
            return error if isinstance(error, Flaky) else unexpected[0]
    return None


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _search_seed(seed_value: int, checked: Iterable[str]) -> int:
    """The seed of the search that checks ``checked``: the same set gives the same search."""
    return zlib.crc32(f"{seed_value}:{','.join(sorted(checked))}".encode())


def _catalogue_index(property_id: str) -> int:
    return next(index for index, item in enumerate(ALL) if item.id == property_id)


def _why_not(stopped: str | None, runs: int, budget: SearchBudget, found: dict[str, _Found]) -> str:
    after = f" after {runs} of {budget.runs} runs"
    if found:
        after += f" (the searches stopped at the violations of {', '.join(found)})"
    if stopped == "time":
        return f"the stateful time limit of {budget.seconds:g} s ran out{after}"
    if stopped == "error":
        return f"the stateful comparison stopped with an error{after}"
    return f"the stateful search ended{after}"
