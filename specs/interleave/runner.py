"""Run one scenario under one schedule and check every property on the way.

``run_scenario(target_factory, scenario, schedule)`` runs, in logical thread
T0: load the target, the scenario's setup, its actors (T1, T2, ...), then the
final phase — every provider succeeds from now on, hung providers are
released, everything settles, the target drains (``drain_all_on_shutdown``),
everything settles again — and returns a ``RunResult`` with the first
violation found, if any:

- after every step where no stand-in lock is held (target state between
  critical sections), read through the target's inspector: S7 (``0 <=
  committed <= generation``, neither goes backwards), S8 (an entry never
  vanishes with uncommitted work), S2 (``committed`` never passes the
  generation a successful provider call started with), S5 (a running
  provider call's session is marked in flight), S9 (no provider call starts
  on a clean session);
- at every provider call's begin: S5, at most one call in flight per session;
- L3: a deadlock (every thread blocked, no timed wait left) with what each
  thread waits on; an actor still blocked, once nothing can move, behind a
  hung provider call; a thread left blocked at the end; the step limit;
- S3: after the actors finished and everything settled, no session is marked
  in flight without a provider call running (the BaseException wedge);
- L2: a drain returns by its deadline; after the final drain no completed
  generation is left uncommitted (the violation names the generations),
  unless the model agrees no agent can commit it (orphaned by the scenario);
- linearizability of the whole history against the model, and L1 (no
  follow-up the model owes is left unstarted when the actors are done);
- ``error``: an exception escaped a target thread or an API call other than
  the scripted ``KeyboardInterrupt`` re-raised from ``commit_session_memory``.

``schedule`` is a schedule string (``"0.1.1"``, replayed exactly), a
``Chooser``, or None (run each thread as long as it can).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from memory_lifecycle.model import CommitRequested, Outcome, Process, step
from memory_lifecycle.specs.trace import Trace, TraceStep

from .agents import ProviderFailure, ScriptedAgent
from .context import FINAL_DRAIN_DEADLINE, Context, NotApplicable, RecordingApi
from .history import History
from .linearizability import linearize, operations_of, owed_follow_ups
from .primitives import make_event
from .scenarios import Scenario
from .scheduler import Chooser, Decision, LogicalThread, Scheduler
from .schedules import ReplayChooser, format_schedule
from .target import SessionView, Target, TargetFactory

DEFAULT_MAX_STEPS = 5_000


@dataclass(frozen=True)
class Violation:
    """A property broken by one schedule, with its replayable schedule string."""

    property_id: str
    message: str
    trace: Trace
    schedule: str
    seed: int | None = None

    def format(self) -> str:
        """The trace plus how to replay it."""
        replay = f"schedule: {self.schedule or '-'}"
        if self.seed is not None:
            replay += f"  (seed {self.seed})"
        return f"{self.trace.format()}\n  {replay}"


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run."""

    scenario: str
    target: str
    violation: Violation | None
    schedule: str
    decisions: tuple[Decision, ...]
    steps: int
    not_applicable: str | None
    history: History = field(repr=False)


@contextmanager
def quiet_logging() -> Iterator[None]:
    """Silence log records while runs execute (targets log provider failures)."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


class _Run:
    """The state of one run: target, history, and the first violation."""

    def __init__(self, scenario: Scenario, scheduler: Scheduler, target_name: str) -> None:
        self.scenario = scenario
        self.scheduler = scheduler
        self.history = History()
        self.target: Target | None = None
        self.target_name = target_name
        self.api: RecordingApi | None = None
        self.violation: tuple[str, str] | None = None
        self.not_applicable: str | None = None
        self.last_seen: dict[str, SessionView] = {}
        self.quiescent_tick: int | None = None
        self.state_at_tick: dict[int, str] = {}
        """Target state (from the inspector) as last seen at each tick, for traces."""
        self.dirty_after_drain: list[tuple[str, str]] = []
        """(session id, which generations) still dirty after the final drain."""
        self.hang_release = make_event(scheduler)
        """Set in the final phase: every ``hang`` provider call then returns."""

    # --- violations ---------------------------------------------------------------

    def violate(self, property_id: str, message: str) -> None:
        if self.violation is None:
            self.violation = (property_id, message)
            self.history.note("checker", f"{property_id} violated here", "")
            self.scheduler.stop(f"{property_id}: {message}")

    # --- checks -------------------------------------------------------------------

    def on_provider_begin(self, agent: ScriptedAgent) -> None:
        running = self.history.running(agent.session_id)
        if len(running) > 1:
            names = ", ".join(record.agent_name for record in running)
            self.violate(
                "S5",
                f"{len(running)} provider calls in flight for session {agent.session_id!r} "
                f"at once ({names})",
            )

    def after_step(self, thread: LogicalThread) -> None:
        target = self.target
        if target is None or target.inspect is None or self.api is None:
            return
        if not self.scheduler.locks_free():
            return
        for session_id in self.api.sessions:
            if self.violation is None:
                self._check_session(target, session_id)
        shown = "; ".join(
            f"{session_id}: {_describe_view(self.last_seen.get(session_id))}"
            for session_id in self.api.sessions
        )
        self.state_at_tick[self.history.tick] = shown

    def _check_session(self, target: Target, session_id: str) -> None:
        assert target.inspect is not None
        view = target.inspect(session_id)
        before = self.last_seen.get(session_id)
        running = self.history.running(session_id)
        if view is None:
            self.last_seen.pop(session_id, None)
            if before is not None and before.generation > before.committed:
                self.violate(
                    "S8",
                    f"session {session_id!r} lost its entry with generations "
                    f"{before.committed + 1}..{before.generation} uncommitted",
                )
            if running:
                self.violate(
                    "S8", f"session {session_id!r} lost its entry while its provider call runs"
                )
            return
        self.last_seen[session_id] = view
        if not 0 <= view.committed <= view.generation:
            self.violate(
                "S7",
                f"session {session_id!r} has committed={view.committed} "
                f"generation={view.generation}",
            )
        elif before is not None and (
            view.generation < before.generation or view.committed < before.committed
        ):
            self.violate(
                "S7",
                f"session {session_id!r} went backwards: generation {before.generation}->"
                f"{view.generation}, committed {before.committed}->{view.committed}",
            )
        for record in running:
            if record.generation_at_begin is None:
                record.generation_at_begin = view.generation
                if view.generation <= view.committed:
                    self.violate(
                        "S9",
                        f"provider {record.agent_name} called for session {session_id!r} "
                        f"with nothing new to commit (committed={view.committed})",
                    )
        if running and not view.in_flight:
            self.violate(
                "S5",
                f"provider {running[0].agent_name} runs but session {session_id!r} is not "
                f"marked in flight: another commit could start",
            )
        succeeded = [
            record
            for record in self.history.provider_calls
            if record.session_id == session_id and record.outcome == "ok"
        ]
        bounds = [record.generation_at_begin for record in succeeded]
        if all(bound is not None for bound in bounds):
            limit = max((bound for bound in bounds if bound is not None), default=0)
            if view.committed > limit:
                self.violate(
                    "S2",
                    f"session {session_id!r} has committed={view.committed}, past generation "
                    f"{limit} that its successful provider calls started with",
                )

    # --- the main logical thread ----------------------------------------------------

    def make_agent(
        self, agent_name: str, session_id: str, script: tuple[str, ...]
    ) -> ScriptedAgent:
        return ScriptedAgent(
            agent_name,
            session_id,
            script,
            scheduler=self.scheduler,
            history=self.history,
            on_begin=self.on_provider_begin,
            hang_release=self.hang_release,
            reenter=self._reenter,
        )

    def _reenter(self, session_id: str, wait: bool) -> object:
        assert self.api is not None
        return self.api.commit_session_memory(session_id, wait=wait)

    def _settle(self, label: str) -> None:
        """Wait until every other thread is finished or blocked with no timed wait left."""
        me = self.scheduler.current()

        def settled() -> bool:
            for thread in self.scheduler.threads:
                if thread is me or thread.finished:
                    continue
                if thread.enabled():
                    return False
                waiting = thread.op is not None and thread.op.deadline is not None
                if waiting and not thread.timed_out:
                    return False
            return True

        self.scheduler.point(label, ready=settled)

    def main(self, factory: TargetFactory) -> None:
        scheduler = self.scheduler
        target = factory(scheduler)
        self.target = target
        missing = self.scenario.needs - target.supports
        if missing:
            self.not_applicable = f"{target.name} lacks {', '.join(sorted(missing))}"
            return
        api = RecordingApi(target, scheduler, self.history)
        self.api = api
        context = Context(api, self.make_agent)
        self.scenario.setup(context)
        actors = [
            scheduler.spawn(lambda act=act: act(context), name, internal=False)  # type: ignore[misc]
            for name, act in self.scenario.actors
        ]
        scheduler.point("start actors")
        self._settle("settle the actors")
        self._check_blocked_actors(actors)
        if self.violation is not None:
            return
        for agent in context.agents.values():
            agent.final = True
        self.hang_release.set()
        scheduler.point("join actors", ready=lambda: all(t.finished for t in actors))
        self._settle("settle after the actors")
        self._check_wedged(target, api)
        if self.violation is not None:
            return
        self.quiescent_tick = self.history.next_tick()
        if "drain_all_on_shutdown" in target.supports:
            api.drain_all_on_shutdown(deadline=FINAL_DRAIN_DEADLINE)
            self._settle("settle after the final drain")
        for session_id in list(api.sessions):
            if api.has_uncommitted_work(session_id):
                view = None if target.inspect is None else target.inspect(session_id)
                which = (
                    f"generations {view.committed + 1}..{view.generation}"
                    if view is not None
                    else "completed work"
                )
                self.dirty_after_drain.append((session_id, which))

    def _check_blocked_actors(self, actors: list[LogicalThread]) -> None:
        """L3: once nothing can move, only actors inside a hung provider may be unfinished."""
        hung = {
            record.thread
            for record in self.history.provider_calls
            if record.behaviour == "hang" and record.ended is None
        }
        blocked = [t for t in actors if not t.finished and t.index not in hung]
        if not blocked:
            return
        me = self.scheduler.current()
        waits = "\n      ".join(
            line for line in self.scheduler.waits() if me is None or not line.startswith(me.label)
        )
        if hung:
            names = ", ".join(thread.label for thread in blocked)
            self.violate(
                "L3",
                f"{names} blocked behind a hung provider call (nothing else can run):"
                f"\n      {waits}",
            )
        else:
            self.violate("L3", f"deadlock: every thread is blocked\n      {waits}")

    def _check_wedged(self, target: Target, api: RecordingApi) -> None:
        if target.inspect is None:
            return
        for session_id in api.sessions:
            view = target.inspect(session_id)
            if view is not None and view.in_flight and not self.history.running(session_id):
                self.violate(
                    "S3",
                    f"session {session_id!r} stays marked in flight with no provider call "
                    f"running: every later commit is refused or waits out its timeout",
                )
                return

    # --- after the run ------------------------------------------------------------

    def post_checks(
        self,
        deadlock: tuple[str, ...] | None,
        stopped: str | None,
        leftover: tuple[str, ...],
        errors: tuple[tuple[str, BaseException], ...],
    ) -> None:
        if self.violation is not None:
            return
        if deadlock is not None:
            self.violate(
                "L3", "deadlock: every thread is blocked\n      " + "\n      ".join(deadlock)
            )
            return
        if stopped is not None:
            self.violate("L3", stopped)
            return
        if leftover:
            self.violate(
                "L3", "threads left blocked at the end:\n      " + "\n      ".join(leftover)
            )
            return
        for label, error in errors:
            self.violate("error", f"{label} died with {type(error).__name__}: {error}")
            return
        for call in self.history.calls:
            if call.raised is None:
                continue
            if call.method == "commit_session_memory" and isinstance(
                call.raised, KeyboardInterrupt
            ):
                continue
            kind = "a provider failure" if isinstance(call.raised, ProviderFailure) else "an error"
            self.violate(
                "error",
                f"{call.method} raised {type(call.raised).__name__} ({kind}): {call.raised}",
            )
            return
        self._check_drain_deadlines()
        if self.violation is not None:
            return
        final_state = self._check_linearizable()
        if self.violation is None:
            self._check_nothing_lost(final_state)

    def _check_nothing_lost(self, final_state: Process | None) -> None:
        """L2: after the final drain only orphaned work (no agent can commit it) may stay dirty."""
        for session_id, which in self.dirty_after_drain:
            if final_state is not None:
                attempt = step(final_state, CommitRequested(session_id))
                if attempt.result is Outcome.NO_AGENT:
                    continue  # orphaned by the scenario: the model cannot commit it either
            self.violate(
                "L2",
                f"{which} of session {session_id!r} never committed, even by a final drain "
                f"with succeeding providers",
            )
            return

    def _check_drain_deadlines(self) -> None:
        for call in self.history.calls:
            deadline = call.arguments.get("deadline")
            if call.method != "drain_all_on_shutdown" or deadline is None:
                continue
            if call.returned_at is None:
                continue
            took = call.returned_at - call.invoked_at
            if took > deadline + 1e-9:
                self.violate(
                    "L2",
                    f"drain_all_on_shutdown(deadline={deadline:g}) returned after {took:g} "
                    f"virtual seconds",
                )
                return

    def _check_linearizable(self) -> Process | None:
        """Check the history; return the model's final state when it is linearizable."""
        result = linearize(operations_of(self.history))
        if result.gave_up:
            self.history.note("checker", "linearizability search limit reached", "inconclusive")
            return None
        if not result.ok:
            why = "\n      ".join(result.stuck) or "search limit reached"
            placed = "\n      ".join(result.order) or "(nothing)"
            self.violate(
                "linearizability",
                "no order of the completed calls agrees with the model.\n    placed:\n      "
                f"{placed}\n    none of the next fits:\n      {why}",
            )
            return None
        if self.quiescent_tick is None:
            return result.final_state
        before = operations_of(self.history, until=self.quiescent_tick)
        settled = linearize(before, accept=lambda state: not owed_follow_ups(state))
        if not settled.ok and not settled.gave_up:
            owed = linearize(before)
            sessions = [] if owed.final_state is None else owed_follow_ups(owed.final_state)
            self.violate(
                "L1",
                f"a commit requested while another was in flight was dropped: session(s) "
                f"{', '.join(repr(s) for s in sessions) or '?'} owe a follow-up commit the "
                f"target never started",
            )
        return result.final_state

    def trace(self, property_id: str, message: str) -> Trace:
        """The run's events as a Trace; the state column shows where it changed."""
        steps: list[TraceStep] = []
        previous = ""
        events = sorted(self.history.events, key=lambda e: e.tick)
        snapshots = sorted(self.state_at_tick.items())
        position = 0
        for number, event in enumerate(events):
            following = (
                events[number + 1].tick if number + 1 < len(events) else self.history.tick + 1
            )
            state = ""
            while position < len(snapshots) and snapshots[position][0] < following:
                if snapshots[position][0] >= event.tick:
                    state = snapshots[position][1]
                position += 1
            if state == previous:
                state = ""
            elif state:
                previous = state
            steps.append(TraceStep(event.actor, event.action, event.result, state))
        return Trace(property_id, message, tuple(steps))


def _describe_view(view: SessionView | None) -> str:
    """``gen 2 committed 1 in flight``, or ``no entry``."""
    if view is None:
        return "no entry"
    flight = " in flight" if view.in_flight else ""
    return f"gen {view.generation} committed {view.committed}{flight}"


def _chooser(schedule: Chooser | str | None) -> Chooser | None:
    if isinstance(schedule, str):
        return ReplayChooser.parse(schedule)
    return schedule


def run_scenario(
    target_factory: TargetFactory,
    scenario: Scenario,
    schedule: Chooser | str | None = None,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
    target_name: str = "target",
) -> RunResult:
    """Run ``scenario`` on a fresh target under ``schedule``; check every property."""
    scheduler = Scheduler(_chooser(schedule), max_steps=max_steps)
    run = _Run(scenario, scheduler, target_name)
    scheduler.on_step = run.after_step

    def on_timeout(thread: LogicalThread) -> None:
        what = thread.op.description if thread.op is not None else "wait"
        run.history.note(thread.label, f"timed wait expires: {what}", f"t={scheduler.now:g}")

    def on_thread_end(thread: LogicalThread) -> None:
        run.history.thread_ended[thread.index] = run.history.next_tick()

    scheduler.on_timeout = on_timeout
    scheduler.on_thread_end = on_thread_end
    failure: NotApplicable | None = None

    def main() -> None:
        nonlocal failure
        try:
            run.main(target_factory)
        except NotApplicable as error:
            failure = error

    with quiet_logging():
        outcome = scheduler.run(main)
    if failure is not None:
        run.not_applicable = str(failure)
    schedule_text = format_schedule(outcome.decisions)
    if run.not_applicable is None:
        run.post_checks(
            outcome.deadlock,
            None if run.violation else outcome.stopped,
            outcome.leftover,
            outcome.errors,
        )
    violation = None
    if run.violation is not None and run.not_applicable is None:
        property_id, message = run.violation
        violation = Violation(property_id, message, run.trace(property_id, message), schedule_text)
    name = run.target.name if run.target is not None else target_name
    return RunResult(
        scenario=scenario.name,
        target=name,
        violation=violation,
        schedule=schedule_text,
        decisions=outcome.decisions,
        steps=outcome.steps,
        not_applicable=run.not_applicable,
        history=run.history,
    )
