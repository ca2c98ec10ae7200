"""Run one scenario under one schedule and check every property on the way.

``run_scenario(target_factory, scenario, schedule)`` runs, in logical thread
T0: load the target (with the stand-ins), the scenario's setup, its actors
(T1, T2, ...), then the final phase — every provider succeeds from now on,
hung providers are released, everything settles, the target drains
(``drain_all_on_shutdown``), everything settles again — and returns a
``RunResult`` with the first violation found, if any.

After every step where no stand-in lock is held (target state between
critical sections), read through the target's inspector:

- S7 (``0 <= committed <= generation``, neither goes backwards), S8 (an entry
  never vanishes with uncommitted work), S2 (``committed`` never passes the
  generation a successful provider call started with), S5 (a running
  provider call's session is marked in flight; at most one call per session,
  checked at each call's begin), S9 (no provider call starts on a clean
  session).

Whenever virtual time is about to move (every thread is parked, none can
run), the clock checks:

- L3: a waiting commit still blocked past its timeout; a waiting commit still
  blocked although no call of its session runs and the session is free (a
  lost wake-up); a commit made from inside a provider call that waits for
  another call (such waits form cycles across sessions);
- L2: a running drain past its deadline; a drain letting time pass while a
  committable session sits idle with no call and failed fewer than
  ``DRAIN_ATTEMPTS`` times during the drain (another session's provider is
  holding it up); a drain letting time pass with nothing left to do but wait
  for the provider call that called it.

When a drain returns before its deadline, L2: no committable session it saw
dirty (work completed before the drain's last provider call ended) is left
idle with attempts to spare.

After the actors, once hung calls are released and everything settled:

- L3: a deadlock (every thread blocked, no timed wait left) with what each
  thread waits on; an actor still blocked behind a hung provider call; a
  stand-in lock still held by a thread that finished or that waits for it
  itself (leaked); the step limit (a spin);
- S3: no session is marked in flight without a provider call running;
- L1, straight from the history: a commit refused as busy (or whose wait
  expired) while another call ran has its work committed by now, unless a
  provider call of that session failed since or no agent can commit it; this
  names the commit where the loss happened even when the final drain hides it.

Then the final drain, and after the run: L2 (a drain returns by its deadline;
after the final drain no completed generation is left uncommitted unless the
model agrees no agent can commit it), linearizability of the whole history
against the model, and L1 as the model sees it (no follow-up it owes is left
unstarted); ``error``: an exception escaped a target thread or an API call
(other than a KeyboardInterrupt the provider or the injection raised).

With an injected KeyboardInterrupt (``interrupt``) the history is not checked
against the model, and L1 is checked only as "no drain runs, so the background
registry admits a boundary commit": S3, L3 and L2 are required as usual.

``schedule`` is a schedule string (``"0.1.1"``, replayed exactly; with an
injected interrupt ``"1@7/0.1.1"``: thread T1 takes it at its seventh
interrupt site), a ``Chooser``, or None (run each thread as long as it can).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from memory_lifecycle.model import DRAIN_ATTEMPTS, Process

from ..conformance.fakes import ProviderFailure
from ..conformance.target import SessionView, Target, TargetFactory
from ..trace import Trace, TraceStep, describe_session
from .agents import ScriptedAgent
from .context import FINAL_DRAIN_DEADLINE, Context, NotApplicable, RecordingApi
from .history import Call, History, ProviderCall
from .linearizability import (
    committable_by_model,
    inside_provider,
    linearize,
    operations_of,
    owed_follow_ups,
)
from .primitives import StandInLock, make_event, stand_in_modules
from .scenarios import Scenario
from .scheduler import Chooser, Decision, LogicalThread, Scheduler
from .schedules import ReplayChooser, format_schedule, split_interrupt

DEFAULT_MAX_STEPS = 5_000

DRAIN_INSIDE_DEADLINE = 5.0
"""The deadline of a drain a provider calls from inside its call (``drain`` behaviour)."""


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
    interrupted: str | None = None
    """Where the injected KeyboardInterrupt landed, when one was asked for and delivered."""


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
        self.violation_tick: int | None = None
        """The history tick of the checker's "violated here" line."""

    @property
    def injecting(self) -> bool:
        return self.scheduler.interrupt is not None

    # --- violations ---------------------------------------------------------------

    def violate(self, property_id: str, message: str) -> None:
        if self.violation is None:
            self.violation = (property_id, message)
            self.history.note("checker", f"{property_id} violated here", "")
            self.violation_tick = self.history.tick
            self.scheduler.stop(f"{property_id}: {message}")

    # --- reading the target -------------------------------------------------------

    def _views(self) -> dict[str, SessionView | None] | None:
        """Every touched session's view, or None when state cannot be read safely now."""
        target = self.target
        if target is None or target.inspect is None or self.api is None:
            return None
        if not self.scheduler.locks_free():
            return None
        return {session_id: target.inspect(session_id) for session_id in self.api.sessions}

    def _open(self, method: str) -> Iterator[Call]:
        return (
            call for call in self.history.calls if call.method == method and call.returned is None
        )

    def _running_in_thread(self, thread: int) -> list[ProviderCall]:
        return [
            record
            for record in self.history.provider_calls
            if record.thread == thread and record.ended is None
        ]

    def _failures_since(self, session_id: str, tick: int) -> int:
        return sum(
            1
            for record in self.history.provider_calls
            if record.session_id == session_id
            and record.began > tick
            and record.outcome in ("fail", "abort")
        )

    # --- per-step checks ------------------------------------------------------------

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
        views = self._views()
        if views is None or self.api is None:
            return
        for session_id, view in views.items():
            if self.violation is None:
                self._check_session(session_id, view)
        shown = "; ".join(
            f"{session_id}: {describe_session(self.last_seen.get(session_id))}"
            for session_id in self.api.sessions
        )
        self.state_at_tick[self.history.tick] = shown

    def _check_session(self, session_id: str, view: SessionView | None) -> None:
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

    # --- the clock checks -------------------------------------------------------------

    def on_time_advance(self, now: float, later: float) -> None:
        """Every thread is parked and time is about to move from ``now`` to ``later``."""
        self._check_waiters(now, later)
        if self.violation is None:
            self._check_drains_while_time_passes(now, later)

    def _check_waiters(self, now: float, later: float) -> None:
        for call in self._open("commit_session_memory"):
            if not call.arguments.get("wait") or call.provider is not None:
                continue  # a commit running its own provider call is not waiting
            timeout = call.arguments.get("timeout")
            if isinstance(timeout, int | float) and not isinstance(timeout, bool):
                limit = call.invoked_at + max(float(timeout), 0.0)
                if limit < later:
                    self.violate(
                        "L3",
                        f"commit_session_memory({call.arguments['session_id']!r}, wait=True, "
                        f"timeout={timeout:g}) called at t={call.invoked_at:g} is still blocked "
                        f"at t={later:g}, past its timeout",
                    )
                    return
        views = self._views()
        if views is None:
            return
        for call in self._open("commit_session_memory"):
            if not call.arguments.get("wait") or self._running_in_thread(call.thread):
                continue
            session_id = call.arguments["session_id"]
            enclosing = inside_provider(call, self.history)
            if enclosing is not None:
                self.violate(
                    "L3",
                    f"commit_session_memory({session_id!r}, wait=True), called from inside "
                    f"the provider call of {enclosing.session_id!r}, blocks waiting for another "
                    f"call (t={now:g}->{later:g}): a caller inside a provider call must get "
                    f"BUSY, or two such providers wait for each other forever",
                )
                return
            view = views.get(session_id)
            if view is not None and not view.in_flight and not self.history.running(session_id):
                self.violate(
                    "L3",
                    f"commit_session_memory({session_id!r}, wait=True) is still blocked "
                    f"(t={now:g}->{later:g}) although no call of {session_id!r} runs and the "
                    f"session is free: the waiter was never woken",
                )
                return

    def _drain_deadline(self, call: Call) -> float:
        deadline = call.arguments.get("deadline")
        if isinstance(deadline, int | float) and not isinstance(deadline, bool):
            return call.invoked_at + max(float(deadline), 0.0)
        return math.inf

    def _idle_committable(self, views: dict[str, SessionView | None], since: int) -> list[str]:
        """Sessions with committable dirty work, no call, and drain attempts left."""
        return [
            session_id
            for session_id, view in views.items()
            if view is not None
            and view.generation > view.committed
            and view.committable
            and not view.in_flight
            and not self.history.running(session_id)
            and self._failures_since(session_id, since) < DRAIN_ATTEMPTS
        ]

    def _check_drains_while_time_passes(self, now: float, later: float) -> None:
        for call in self._open("drain_all_on_shutdown"):
            ends = self._drain_deadline(call)
            if later > ends + 1e-9:
                self.violate(
                    "L2",
                    f"drain_all_on_shutdown(deadline={call.arguments['deadline']:g}) called at "
                    f"t={call.invoked_at:g} is still running at t={later:g}, past its deadline",
                )
                return
            views = self._views()
            if views is None:
                return
            idle = self._idle_committable(views, call.invoked)
            running = [
                record
                for record in self.history.provider_calls
                if record.ended is None and record.thread != call.thread
            ]
            held = ", ".join(
                f"{record.session_id!r} ({record.agent_name}, {record.behaviour})"
                for record in running
            )
            if idle:
                self.violate(
                    "L2",
                    f"the drain let time pass (t={now:g}->{later:g}) while session "
                    f"{idle[0]!r} had committable work and no provider call; running "
                    f"meanwhile: {held or 'nothing'}. Another session's provider must cost "
                    f"only its own session",
                )
                return
            if not running:
                self.violate(
                    "L2",
                    f"the drain keeps waiting (t={now:g}->{later:g}) with nothing left to "
                    f"commit and no provider call running but the one it was called from",
                )
                return

    def on_call_return(self, call: Call) -> None:
        """A recorded call returned: a drain that returned early must have left nothing."""
        if call.method != "drain_all_on_shutdown" or call.returned is None or call.raised:
            return
        assert call.returned_at is not None
        if call.returned_at + 1e-9 >= self._drain_deadline(call):
            return
        views = self._views()
        if views is None:
            return
        window = [
            record.ended
            for record in self.history.provider_calls
            if record.ended is not None and call.invoked < record.ended < call.returned
        ]
        seen_by = max([call.invoked, *window])
        for session_id in self._idle_committable(views, call.invoked):
            view = views[session_id]
            assert view is not None
            turn = self._turn_that_made(session_id, view.committed + 1)
            if turn is not None and turn.returned is not None and turn.returned < seen_by:
                self.violate(
                    "L2",
                    f"drain_all_on_shutdown returned at t={call.returned_at:g}, before its "
                    f"deadline, leaving session {session_id!r} with committable generations "
                    f"{view.committed + 1}..{view.generation} that it never committed",
                )
                return

    def _turn_that_made(self, session_id: str, generation: int) -> Call | None:
        return next(
            (
                call
                for call in self.history.calls
                if call.method == "mark_turn_completed"
                and call.arguments.get("session_id") == session_id
                and call.result == generation
            ),
            None,
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
            inside=self._inside,
        )

    def _inside(self, kind: str, session_id: str) -> object:
        """A call a provider makes from inside its call."""
        assert self.api is not None
        if kind == "drain":
            self.api.drain_all_on_shutdown(deadline=DRAIN_INSIDE_DEADLINE)
            return None
        return self.api.commit_session_memory(session_id, wait=kind != "reenter")

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

        self.scheduler.point(label, ready=settled, interruptible=False)

    def main(self, factory: TargetFactory) -> None:
        scheduler = self.scheduler
        stand_ins = stand_in_modules(scheduler)
        target = factory(stand_ins)
        self.target = target
        missing = self.scenario.needs - target.supports
        if missing:
            self.not_applicable = f"{target.name} lacks {', '.join(sorted(missing))}"
            return
        api = RecordingApi(target, scheduler, self.history, stand_ins["threading"])
        api.on_return = self.on_call_return
        self.api = api
        context = Context(api, self.make_agent)
        scheduler.interrupt_files = target.source_files
        self.scenario.setup(context)
        actors = [
            scheduler.spawn(lambda act=act: act(context), name, internal=False)  # type: ignore[misc]
            for name, act in self.scenario.actors
        ]
        scheduler.point("start actors", interruptible=False)
        self._settle("settle the actors")
        self._check_stuck_drains()
        self._check_blocked_actors(actors)
        if self.violation is not None:
            return
        for agent in context.agents.values():
            agent.final = True
        self.hang_release.set()
        scheduler.point(
            "join actors", ready=lambda: all(t.finished for t in actors), interruptible=False
        )
        self._settle("settle after the actors")
        self._check_leaked_locks()
        if self.violation is None:
            self._check_wedged(target, api)
        if self.violation is None and self.injecting:
            self._check_admits_background(target, stand_ins["threading"])
        if self.violation is None and not self.injecting:
            self._check_followed_up()
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

    def _waits_inside_providers(self) -> str:
        """A sentence naming the waiting commits made from inside provider calls, if any."""
        lines = []
        for call in self._open("commit_session_memory"):
            enclosing = inside_provider(call, self.history)
            if call.arguments.get("wait") and enclosing is not None:
                lines.append(
                    f"T{call.thread} waits in commit_session_memory("
                    f"{call.arguments['session_id']!r}, wait=True) from inside the provider "
                    f"call of {enclosing.session_id!r}"
                )
        if not lines:
            return ""
        return (
            "a cycle of waits: "
            + "; ".join(lines)
            + ". A caller inside a provider call must get BUSY, never wait. "
        )

    def _held_forever(self) -> list[str]:
        """Stand-in locks held by a finished thread, or by a thread waiting to take it again."""
        found = []
        for lock in self.scheduler.locks:
            if not isinstance(lock, StandInLock) or not isinstance(lock.owner, LogicalThread):
                continue
            owner = lock.owner
            if owner.finished:
                found.append(f"{lock.name} is still held by {owner.label}, which finished (leaked)")
            elif owner.op is not None and owner.op.description == f"acquire {lock.name}":
                found.append(
                    f"{owner.label} holds {lock.name} and waits to acquire it again "
                    f"(it deadlocks on itself)"
                )
        return found

    def _check_leaked_locks(self) -> bool:
        """L3: no lock is left held for good; says where an injected interrupt landed."""
        held = self._held_forever()
        if held:
            landed = self.scheduler.delivered
            cause = f" The KeyboardInterrupt landed in {landed}." if landed else ""
            self.violate(
                "L3",
                f"a lock stays held for good: {'; '.join(held)}. Every later call that needs "
                f"it blocks forever.{cause}",
            )
        return bool(held)

    def _check_blocked_actors(self, actors: list[LogicalThread]) -> None:
        """L3: once nothing can move, only actors inside a hung provider may be unfinished."""
        hung = {
            record.thread
            for record in self.history.provider_calls
            if record.behaviour == "hang" and record.ended is None
        }
        blocked = [t for t in actors if not t.finished and t.index not in hung]
        if not blocked or self._check_leaked_locks():
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
            cycle = self._waits_inside_providers()
            self.violate("L3", f"{cycle}deadlock: every thread is blocked\n      {waits}")

    def _check_stuck_drains(self) -> None:
        """L2: once nothing can move, no drain may be stuck in a provider call it made itself.

        (A drain blocked behind another thread's hung call is the L3 check's.)
        """
        for call in self._open("drain_all_on_shutdown"):
            inside = self._running_in_thread(call.thread)
            if inside:
                record = inside[0]
                self.violate(
                    "L2",
                    f"drain_all_on_shutdown is still running once nothing else can move, inside "
                    f"the provider call {record.agent_name} of {record.session_id!r} "
                    f"({record.behaviour}): it never returns, whatever its deadline",
                )
                return

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

    def _check_admits_background(self, target: Target, threading: Any) -> None:
        """L1 with Ctrl-C injected: once every call returned no drain runs, so the
        registry admits a boundary commit's thread (a draining flag the interruption left
        set would refuse every one of them until some later drain)."""
        if not target.has_background_registry:
            return
        thread = threading.Thread(target=lambda: None, name="probe", daemon=True)
        if target.register_background(thread) is False:
            self.violate(
                "L1",
                "no drain runs after the interrupted calls returned, yet the background "
                "registry refuses a boundary commit: every follow-up and background commit "
                "is refused until a later drain",
            )
            return
        target.unregister_background(thread)

    def _check_followed_up(self) -> None:
        """L1 from the history: a busy commit's work is committed without another boundary."""
        views = self._views()
        if views is None:
            return
        for call in self.history.calls:
            if call.method != "commit_session_memory" or call.result is not False:
                continue
            session_id = call.arguments["session_id"]
            view = views.get(session_id)
            if view is None or not view.committable or call.returned is None:
                continue
            busy = any(
                record.session_id == session_id
                and record.began < call.returned
                and (record.ended is None or record.ended > call.invoked)
                for record in self.history.provider_calls
            )
            failed_since = any(
                record.session_id == session_id
                and record.outcome in ("fail", "abort")
                and record.ended is not None
                and record.ended > call.invoked
                for record in self.history.provider_calls
            )
            if not busy or failed_since:
                continue
            wanted = max(
                (
                    turn.result
                    for turn in self.history.calls
                    if turn.method == "mark_turn_completed"
                    and turn.arguments.get("session_id") == session_id
                    and isinstance(turn.result, int)
                    and turn.returned is not None
                    and turn.returned < call.invoked
                ),
                default=0,
            )
            if view.committed < wanted:
                self.history.note("checker", f"work through generation {wanted} still dirty")
                self.violate(
                    "L1",
                    f"commit_session_memory({session_id!r}) (call #{call.call_id}) returned False "
                    f"while another call of the session ran, and its work through generation "
                    f"{wanted} was never committed: no follow-up ran. The loss happened there, "
                    f"whatever a later drain commits",
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
            if self._check_leaked_locks():
                return
            self.violate(
                "L3",
                f"{self._waits_inside_providers()}deadlock: every thread is blocked\n      "
                + "\n      ".join(deadlock),
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
            if isinstance(error, KeyboardInterrupt) and self.injecting:
                continue
            if self._lost_its_lock(label, error):
                return
            self.violate("error", f"{label} died with {type(error).__name__}: {error}")
            return
        for call in self.history.calls:
            if call.raised is None or isinstance(call.raised, KeyboardInterrupt):
                continue
            if self._lost_its_lock(call.method, call.raised):
                return
            kind = "a provider failure" if isinstance(call.raised, ProviderFailure) else "an error"
            self.violate(
                "error",
                f"{call.method} raised {type(call.raised).__name__} ({kind}): {call.raised}",
            )
            return
        self._check_drain_deadlines()
        if self.violation is not None:
            return
        final_state = None if self.injecting else self._check_linearizable()
        if self.violation is None:
            self._check_nothing_lost(final_state)

    def _lost_its_lock(self, where: str, error: BaseException) -> bool:
        """L3: with Ctrl-C injected, a release of a lock the thread no longer holds.

        The interruption left the code believing it held a lock it did not (an
        interrupted ``Condition.wait`` can return without its lock), so the Ctrl-C
        came out as a RuntimeError. Reports it and returns True when that is ``error``.
        """
        if not self.injecting or not isinstance(error, RuntimeError):
            return False
        if not str(error).startswith("release of"):
            return False
        self.violate(
            "L3",
            f"{where} raised RuntimeError ({error}) in place of the KeyboardInterrupt: "
            "after the interruption it released a lock it no longer held",
        )
        return True

    def _check_nothing_lost(self, final_state: Process | None) -> None:
        """L2: after the final drain only orphaned work (no agent can commit it) may stay dirty."""
        for session_id, which in self.dirty_after_drain:
            if final_state is not None and not committable_by_model(final_state, session_id):
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
                f"target never started before the actors were done; the loss happened there, "
                f"even where the final drain commits the work later",
            )
        return result.final_state

    def trace(self, property_id: str, message: str) -> Trace:
        """The run's events as a Trace; the state column shows where it changed."""
        steps: list[TraceStep] = []
        previous = ""
        last = self.violation_tick
        events = sorted(
            (event for event in self.history.events if last is None or event.tick <= last),
            key=lambda e: e.tick,
        )
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


def _chooser(schedule: Chooser | str | None) -> tuple[Chooser | None, tuple[int, int] | None]:
    if isinstance(schedule, str):
        interrupt, choices = split_interrupt(schedule)
        return ReplayChooser.parse(choices), interrupt
    return schedule, None


def run_scenario(
    target_factory: TargetFactory,
    scenario: Scenario,
    schedule: Chooser | str | None = None,
    *,
    interrupt: tuple[int, int] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    target_name: str = "target",
) -> RunResult:
    """Run ``scenario`` on a fresh target under ``schedule``; check every property.

    ``interrupt=(thread, site)`` injects a KeyboardInterrupt at that thread's
    ``site``-th interrupt site (a schedule string may carry it instead).
    """
    chooser, from_text = _chooser(schedule)
    scheduler = Scheduler(chooser, max_steps=max_steps)
    scheduler.interrupt = interrupt or from_text
    run = _Run(scenario, scheduler, target_name)
    scheduler.on_step = run.after_step
    scheduler.on_time_advance = run.on_time_advance

    def on_timeout(thread: LogicalThread) -> None:
        what = thread.op.description if thread.op is not None else "wait"
        run.history.note(thread.label, f"timed wait expires: {what}", f"t={scheduler.now:g}")

    def on_thread_end(thread: LogicalThread) -> None:
        run.history.thread_ended[thread.index] = run.history.next_tick()

    def on_interrupt(thread: LogicalThread) -> None:
        run.history.note(
            thread.label, f"KeyboardInterrupt delivered {scheduler.delivered}", "(injected)"
        )

    scheduler.on_timeout = on_timeout
    scheduler.on_thread_end = on_thread_end
    scheduler.on_interrupt = on_interrupt
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
    schedule_text = format_schedule(outcome.decisions, scheduler.interrupt)
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
        interrupted=scheduler.delivered,
    )
