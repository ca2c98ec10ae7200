"""Deliberately broken step functions: each breaks one rule of ``model.step``.

They show that the checker bites: each must be caught, with the property it
breaks named and the shortest trace shown. ``memory-lifecycle check --mutant
NAME`` runs one of them. Each comes with a small world that shows its break.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memory_lifecycle import model
from memory_lifecycle.specs.properties import STEP_RAISED, StepFn

from .world import Bounds

SMALL_WORLD = Bounds(sessions=1, agents=2, max_generation=2)
"""The world most breaks show in: one session, two agents, two turns."""

QUIET = {
    "edits": False,
    "reset": False,
    "background": False,
    "stale_ends": False,
    "whole": False,
    "in_call": False,
    "agent_cannot_commit": False,
    "drain": False,
}
"""Families most session breaks do not need (a smaller world, the same shortest trace)."""


def _world(sessions: int = 1, agents: int = 2, turns: int = 2, **families: bool) -> Bounds:
    flags = {**QUIET, **families}
    return Bounds(sessions=sessions, agents=agents, max_generation=turns, **flags)


@dataclass(frozen=True)
class Mutant:
    """A broken step function, what it breaks, and the property that must catch it."""

    description: str
    step: StepFn
    catches: str
    """The id of the property whose violation shows the break."""
    bounds: Bounds = field(default_factory=lambda: SMALL_WORLD)
    """A small world that shows the break (seconds, with the product engine)."""


def _put(
    process: model.Process, session_id: model.SessionId, session: model.Session | None
) -> model.Process:
    pairs = [pair for pair in process.sessions if pair[0] != session_id]
    if session is not None:
        pairs.append((session_id, session))
        pairs.sort(key=lambda pair: str(pair[0]))
    return process._replace(sessions=tuple(pairs))


def _changed(
    out: model.Step, session_id: model.SessionId, session: model.Session | None
) -> model.Step:
    """``out`` with one session replaced (``None``: removed)."""
    return out._replace(state=_put(out.state, session_id, session))


def _rewriting(kind: type, flag: str, field: str, value: object, description: str) -> StepFn:
    """A broken step that, for an event of ``kind`` with ``flag`` set, sets ``field``
    to ``value`` before the model sees it (it ignores what the flag asks)."""

    def rewritten(state: model.Process, event: model.Event) -> model.Step:
        if isinstance(event, kind) and getattr(event, flag):
            event = event._replace(**{field: value})
        return model.step(state, event)

    rewritten.__doc__ = description
    return rewritten


def _session(process: model.Process, event: model.Event) -> model.Session | None:
    return process.session(getattr(event, "session_id", None))


def _without(effects: tuple[model.Effect, ...], kind: type) -> tuple[model.Effect, ...]:
    return tuple(effect for effect in effects if not isinstance(effect, kind))


# --- sessions ----------------------------------------------------------------------


def success_to_generation(state: model.Process, event: model.Event) -> model.Step:
    """Success advances committed to the current generation, not the captured end."""
    out = model.step(state, event)
    if isinstance(event, model.CommitSucceeded) and out.result is model.Outcome.COMMITTED:
        session = _session(out.state, event)
        assert session is not None
        cleared = session._replace(committed=session.generation, segments=(), follow_up_through=0)
        effects = _without(out.effects, model.StartFollowUp)
        return model.Step(_put(out.state, event.session_id, cleared), effects, out.result)
    return out


def failure_clears_work(state: model.Process, event: model.Event) -> model.Step:
    """A failed call marks the work committed (as if the provider had extracted it)."""
    out = model.step(state, event)
    if isinstance(event, model.CommitFailed) and out.result is model.Outcome.FAILED:
        session = _session(out.state, event)
        assert session is not None
        cleared = session._replace(committed=session.generation, segments=(), follow_up_through=0)
        return _changed(out, event.session_id, cleared)
    return out


def registered_commits(state: model.Process, event: model.Event) -> model.Step:
    """The registered agent makes the provider call instead of the segment's owner."""
    out = model.step(state, event)
    if isinstance(event, model.CommitRequested) and out.result is model.Outcome.STARTED:
        session = _session(out.state, event)
        assert session is not None and session.in_flight is not None
        agent = session.registered
        if agent is not None and agent is not session.in_flight.agent:
            running = session.in_flight._replace(agent=agent)
            call = model.CallProvider(
                event.session_id, event.call_id, agent, running.captured_generation
            )
            return model.Step(
                _put(out.state, event.session_id, session._replace(in_flight=running)),
                (call,),
                out.result,
            )
    return out


def no_in_flight_guard(state: model.Process, event: model.Event) -> model.Step:
    """A commit requested while a call runs starts another call."""
    before = _session(state, event)
    if isinstance(event, model.CommitRequested) and before is not None and before.in_flight:
        idle = _put(state, event.session_id, before._replace(in_flight=None))
        return model.step(idle, event)
    return model.step(state, event)


def register_everywhere(state: model.Process, event: model.Event) -> model.Step:
    """Registering an agent for one session registers it for every session."""
    out = model.step(state, event)
    if isinstance(event, model.RegisterAgent):
        pairs = tuple(
            (key, value._replace(registered=event.agent)) for key, value in out.state.sessions
        )
        return model.Step(out.state._replace(sessions=pairs), out.effects, out.result)
    return out


def discard_dirty(state: model.Process, event: model.Event) -> model.Step:
    """Discard removes an idle entry even when work is still dirty."""
    before = _session(state, event)
    if isinstance(event, model.Discard) and before is not None and before.in_flight is None:
        return model.Step(
            _put(state, event.session_id, None), (model.WakeWaiters(),), model.Outcome.DISCARDED
        )
    return model.step(state, event)


def follow_up_dropped(state: model.Process, event: model.Event) -> model.Step:
    """A call that ends with work owed neither starts the follow-up nor keeps the debt."""
    out = model.step(state, event)
    if isinstance(event, model.CommitSucceeded | model.CommitFailed):
        session = _session(out.state, event)
        if session is not None and session.follow_up_through:
            effects = _without(out.effects, model.StartFollowUp)
            cleared = session._replace(follow_up_through=0)
            return model.Step(_put(out.state, event.session_id, cleared), effects, out.result)
    return out


def fatal_stays_in_flight(state: model.Process, event: model.Event) -> model.Step:
    """A BaseException escaping the provider leaves the session in flight forever."""
    out = model.step(state, event)
    if isinstance(event, model.CommitFailed) and event.fatal and out.result is model.Outcome.FAILED:
        return model.Step(state, (), out.result)
    return out


def no_coalescing(state: model.Process, event: model.Event) -> model.Step:
    """Every turn opens a new segment, even when its owner owns the last one."""
    out = model.step(state, event)
    if isinstance(event, model.TurnCompleted) and not event.ephemeral:
        session = _session(out.state, event)
        assert session is not None
        last = session.segments[-1]
        if last.start < last.end:
            split = (
                *session.segments[:-1],
                model.Segment(last.start, last.end - 1, last.owner),
                model.Segment(last.end, last.end, last.owner),
            )
            return _changed(out, event.session_id, session._replace(segments=split))
    return out


def call_when_clean(state: model.Process, event: model.Event) -> model.Step:
    """A commit of a clean session still calls the provider."""
    before = _session(state, event)
    agent = None if before is None else before.registered
    clean = before is not None and before.generation and before.generation <= before.committed
    if isinstance(event, model.CommitRequested) and clean and before and before.idle and agent:
        running = model.InFlight(event.call_id, agent, before.generation, event.follow_up)
        changed = _put(state, event.session_id, before._replace(in_flight=running))
        call = model.CallProvider(event.session_id, event.call_id, agent, before.generation)
        return model.Step(changed, (call,), model.Outcome.STARTED)
    return model.step(state, event)


def register_takes_segments(state: model.Process, event: model.Event) -> model.Step:
    """Registering an agent hands it every dirty segment."""
    out = model.step(state, event)
    if isinstance(event, model.RegisterAgent):
        session = _session(out.state, event)
        assert session is not None
        taken = tuple(s._replace(owner=event.agent) for s in session.segments)
        merged = (model.Segment(taken[0].start, taken[-1].end, event.agent),) if taken else ()
        if session.in_flight is None:
            return _changed(out, event.session_id, session._replace(segments=merged))
    return out


def turn_agent_not_registered(state: model.Process, event: model.Event) -> model.Step:
    """A turn that names an agent owns its generation but does not register the agent."""
    before = _session(state, event)
    out = model.step(state, event)
    if isinstance(event, model.TurnCompleted) and event.agent is not None and not event.ephemeral:
        session = _session(out.state, event)
        assert session is not None
        kept = session._replace(registered=None if before is None else before.registered)
        return _changed(out, event.session_id, kept)
    return out


def discard_keeps_entry(state: model.Process, event: model.Event) -> model.Step:
    """Discard reports the entry removed but keeps it (and its agents) alive."""
    out = model.step(state, event)
    if isinstance(event, model.Discard) and out.result is model.Outcome.DISCARDED:
        return model.Step(state, out.effects, out.result)
    return out


def success_keeps_in_flight(state: model.Process, event: model.Event) -> model.Step:
    """Success advances committed but never clears the in-flight mark."""
    out = model.step(state, event)
    if isinstance(event, model.CommitSucceeded) and out.result is model.Outcome.COMMITTED:
        before = _session(state, event)
        session = _session(out.state, event)
        assert before is not None and session is not None
        stuck = session._replace(in_flight=before.in_flight)
        return _changed(out, event.session_id, stuck)
    return out


def never_adopt(state: model.Process, event: model.Event) -> model.Step:
    """An ownerless segment is never adopted: its commit always finds no agent."""
    before = _session(state, event)
    ownerless = before is not None and before.segments and before.segments[0].owner is None
    if isinstance(event, model.CommitRequested) and ownerless and before and before.idle:
        return model.Step(state, (), model.Outcome.NO_AGENT)
    return model.step(state, event)


def adoption_not_merged(state: model.Process, event: model.Event) -> model.Step:
    """An adopted ownerless segment stays apart from the adopter's own next segment."""
    before = _session(state, event)
    out = model.step(state, event)
    after = _session(out.state, event)
    if (
        isinstance(event, model.CommitRequested)
        and out.result is model.Outcome.STARTED
        and before is not None
        and after is not None
        and before.segments[0].owner is None
        and len(after.segments) < len(before.segments)
    ):
        first = before.segments[0]
        agent = after.segments[0].owner
        segments = (model.Segment(first.start, first.end, agent), *before.segments[1:])
        running = model.InFlight(event.call_id, agent, first.end, event.follow_up)
        return model.Step(
            _put(out.state, event.session_id, after._replace(segments=segments, in_flight=running)),
            (model.CallProvider(event.session_id, event.call_id, agent, first.end),),
            out.result,
        )
    return out


def adoption_reads_too_far(state: model.Process, event: model.Event) -> model.Step:
    """Adopting an ownerless run reads one segment too far: IndexError with three segments."""
    before = _session(state, event)
    if (
        isinstance(event, model.CommitRequested)
        and before is not None
        and before.idle
        and len(before.segments) >= 3
        and before.segments[0].owner is None
    ):
        _ = before.segments[len(before.segments)]
    return model.step(state, event)


ephemeral_counted = _rewriting(
    model.TurnCompleted,
    "ephemeral",
    "ephemeral",
    False,
    "An ephemeral turn is counted as a completed turn.",
)


def foreign_end_accepted(state: model.Process, event: model.Event) -> model.Step:
    """The end of any call, whatever its id, ends the session's running call."""
    before = _session(state, event)
    if (
        isinstance(event, model.CommitSucceeded | model.CommitFailed)
        and before
        and before.in_flight
    ):
        return model.step(state, event._replace(call_id=before.in_flight.call_id))
    return model.step(state, event)


def kept_results_swapped(state: model.Process, event: model.Event) -> model.Step:
    """Discard of a dirty entry reports KEPT_IN_FLIGHT, of a busy one KEPT_DIRTY."""
    out = model.step(state, event)
    swap = {
        model.Outcome.KEPT_DIRTY: model.Outcome.KEPT_IN_FLIGHT,
        model.Outcome.KEPT_IN_FLIGHT: model.Outcome.KEPT_DIRTY,
    }
    if (
        isinstance(event, model.Discard)
        and isinstance(out.result, model.Outcome)
        and out.result in swap
    ):
        return out._replace(result=swap[out.result])
    return out


def edit_accepts_malformed(state: model.Process, event: model.Event) -> model.Step:
    """The test hook swallows an edit it cannot make and reports it done."""
    try:
        return model.step(state, event)
    except ValueError:
        if isinstance(event, model.EntryEdited):
            return model.Step(state, (), model.Outcome.DONE)
        raise


def edit_marks_a_new_call(state: model.Process, event: model.Event) -> model.Step:
    """The test hook's in_flight=True on an entry in flight replaces its running call."""
    before = _session(state, event)
    out = model.step(state, event)
    if not isinstance(event, model.EntryEdited) or event.field != "in_flight":
        return out
    if event.value is True and before is not None and before.in_flight is not None:
        mark = model.InFlight(0, None, before.generation, False)
        return _changed(out, event.session_id, before._replace(in_flight=mark))
    return out


# --- waiting and follow-ups -----------------------------------------------------------


in_call_ignored = _rewriting(
    model.CommitRequested,
    "in_call",
    "in_call",
    False,
    "A commit from inside a provider call waits like any other (a wait cycle).",
)


wait_ignores_deadline = _rewriting(
    model.CommitRequested,
    "wait",
    "deadline",
    None,
    "A waiting commit keeps waiting after its deadline passed.",
)


def expired_wait_leaves_nothing(state: model.Process, event: model.Event) -> model.Step:
    """A wait that expires reports TIMED_OUT but leaves no follow-up behind."""
    out = model.step(state, event)
    if isinstance(event, model.CommitRequested) and out.result is model.Outcome.TIMED_OUT:
        return model.Step(state, out.effects, out.result)
    return out


def failed_follow_up_retries(state: model.Process, event: model.Event) -> model.Step:
    """A failed follow-up is retried by another follow-up, for ever against a failing provider."""
    before = _session(state, event)
    out = model.step(state, event)
    running = None if before is None else before.in_flight
    if (
        isinstance(event, model.CommitFailed)
        and out.result is model.Outcome.FAILED
        and running is not None
        and running.follow_up
        and before is not None
        and before.follow_up_through > before.committed
        and out.state.shutdown.phase != model.DRAINING
    ):
        session = _session(out.state, event)
        assert session is not None
        kept = session._replace(follow_up_through=before.follow_up_through)
        effects = (*out.effects, model.StartFollowUp(event.session_id))
        return model.Step(_put(out.state, event.session_id, kept), effects, out.result)
    return out


whole_commit_first_segment_only = _rewriting(
    model.CommitRequested,
    "whole",
    "whole",
    False,
    "A whole commit (commit_in_background) commits the first segment and forgets the rest.",
)


def end_without_wake(state: model.Process, event: model.Event) -> model.Step:
    """A failed call ends without waking the threads waiting for it."""
    out = model.step(state, event)
    if isinstance(event, model.CommitFailed) and out.result is model.Outcome.FAILED:
        return out._replace(effects=_without(out.effects, model.WakeWaiters))
    return out


def follow_up_while_draining(state: model.Process, event: model.Event) -> model.Step:
    """A call that ends during the drain with work owed starts a follow-up anyway."""
    before = _session(state, event)
    out = model.step(state, event)
    if (
        isinstance(event, model.CommitSucceeded)
        and out.result is model.Outcome.COMMITTED
        and state.shutdown.phase == model.DRAINING
        and before is not None
        and before.follow_up_through > max(before.committed, 0)
    ):
        session = _session(out.state, event)
        if session is not None and session.dirty:
            return out._replace(effects=(*out.effects, model.StartFollowUp(event.session_id)))
    return out


def follow_up_raises_debt(state: model.Process, event: model.Event) -> model.Step:
    """A follow-up that finds its session busy asks for the work completed since its boundary."""
    out = model.step(state, event)
    if (
        isinstance(event, model.CommitRequested)
        and event.follow_up
        and out.result is model.Outcome.BUSY
    ):
        session = _session(out.state, event)
        assert session is not None
        if session.follow_up_through < session.generation:
            owed = session._replace(follow_up_through=session.generation)
            return _changed(out, event.session_id, owed)
    return out


# --- the whole process --------------------------------------------------------------


def step_sorts_by_entry(state: model.Process, event: model.Event) -> model.Step:
    """The whole-process step keeps its sessions sorted by entry, which cannot be ordered."""
    out = model.step(state, event)
    pairs = list(out.state.sessions)
    pairs.sort(key=lambda pair: pair[1])  # type: ignore[arg-type,return-value]
    return out._replace(state=out.state._replace(sessions=tuple(pairs)))


def discard_of_nothing_answers_none(state: model.Process, event: model.Event) -> model.Step:
    """Discard of a session without entry answers None instead of a step."""
    if isinstance(event, model.Discard) and _session(state, event) is None:
        return None  # type: ignore[return-value]
    return model.step(state, event)


# --- the drain ----------------------------------------------------------------------


def drain_queues_twice(state: model.Process, event: model.Event) -> model.Step:
    """A session that becomes committable during the drain is counted twice in its queue."""
    out = model.step(state, event)
    if model.QueueForDrain(getattr(event, "session_id", None)) in out.effects and not isinstance(
        event, model.DrainStarted
    ):
        shutdown = out.state.shutdown._replace(queued=out.state.shutdown.queued + 1)
        return out._replace(state=out.state._replace(shutdown=shutdown))
    return out


def drain_no_requeue_after_failure(state: model.Process, event: model.Event) -> model.Step:
    """A session whose call failed during the drain is not queued again."""
    out = model.step(state, event)
    if (
        isinstance(event, model.CommitFailed)
        and model.QueueForDrain(event.session_id) in out.effects
    ):
        shutdown = out.state.shutdown._replace(queued=out.state.shutdown.queued - 1)
        effects = _without(out.effects, model.QueueForDrain)
        return model.Step(out.state._replace(shutdown=shutdown), effects, out.result)
    return out


def drain_failures_not_counted(state: model.Process, event: model.Event) -> model.Step:
    """A failed call during the drain is not counted, so the drain retries it for ever."""
    before = _session(state, event)
    out = model.step(state, event)
    if (
        isinstance(event, model.CommitFailed)
        and out.result is model.Outcome.FAILED
        and before is not None
    ):
        session = _session(out.state, event)
        assert session is not None
        kept = session._replace(drain_failures=before.drain_failures)
        return _changed(out, event.session_id, kept)
    return out


def drain_poll_ignores_calls(state: model.Process, event: model.Event) -> model.Step:
    """The drain returns while calls it waits for are still in flight."""
    out = model.step(state, event)
    shutdown = state.shutdown
    if (
        isinstance(event, model.DrainPoll)
        and out.result is model.Outcome.WAIT
        and shutdown.queued == 0
    ):
        return out._replace(result=model.Outcome.FINISHED)
    return out


def drain_next_ignores_deadline(state: model.Process, event: model.Event) -> model.Step:
    """A drain worker starts calls after the drain's deadline."""
    if isinstance(event, model.DrainNext) and state.shutdown.phase == model.DRAINING:
        return model.step(state, event._replace(now=min(event.now, state.shutdown.deadline - 1)))
    return model.step(state, event)


def drain_start_skips_queue(state: model.Process, event: model.Event) -> model.Step:
    """The drain starts without queueing the sessions dirty at its start."""
    out = model.step(state, event)
    if isinstance(event, model.DrainStarted) and out.result is model.Outcome.STARTED:
        effects = _without(out.effects, model.QueueForDrain)
        shutdown = out.state.shutdown._replace(queued=0)
        return model.Step(out.state._replace(shutdown=shutdown), effects, out.result)
    return out


def drain_single_worker(state: model.Process, event: model.Event) -> model.Step:
    """The drain starts one worker whatever it has queued: a hung provider stalls it all."""
    out = model.step(state, event)
    if isinstance(event, model.DrainStarted) and out.result is model.Outcome.STARTED:
        effects = (*_without(out.effects, model.StartDrainWorkers), model.StartDrainWorkers(1))
        return out._replace(effects=effects)
    return out


def drain_never_ends(state: model.Process, event: model.Event) -> model.Step:
    """The drain's end leaves the lifecycle draining: background commits refused for good."""
    out = model.step(state, event)
    if isinstance(event, model.DrainFinished) and state.shutdown.phase == model.DRAINING:
        return out._replace(state=out.state._replace(shutdown=state.shutdown))
    return out


def background_admitted_while_draining(state: model.Process, event: model.Event) -> model.Step:
    """A background commit is admitted while the drain runs."""
    if (
        isinstance(event, model.BackgroundCommitRequested)
        and state.shutdown.phase == model.DRAINING
    ):
        shutdown = state.shutdown
        admitted = shutdown._replace(background_commits=shutdown.background_commits + 1)
        return model.Step(state._replace(shutdown=admitted), (), model.Outcome.ADMITTED)
    return model.step(state, event)


def _drain_world(sessions: int = 1, agents: int = 1, turns: int = 1, **families: bool) -> Bounds:
    return _world(sessions, agents, turns, drain=True, **families)


def _mutant(step: StepFn, catches: str, bounds: Bounds | None = None) -> Mutant:
    return Mutant(step.__doc__ or "", step, catches, bounds or SMALL_WORLD)


MUTANTS: dict[str, Mutant] = {
    "success-to-generation": _mutant(success_to_generation, "S2", _world()),
    "failure-clears-work": _mutant(failure_clears_work, "S3", _world(agents=1, turns=1)),
    "registered-commits": _mutant(registered_commits, "S4", _world()),
    "no-in-flight-guard": _mutant(no_in_flight_guard, "S5", _world(agents=1, turns=1)),
    "register-everywhere": _mutant(
        register_everywhere, "S6", _world(sessions=2, agents=1, turns=1)
    ),
    "discard-dirty": _mutant(discard_dirty, "S8", _world(agents=1, turns=1)),
    "call-when-clean": _mutant(call_when_clean, "S9", _world(agents=1, turns=1)),
    "no-coalescing": _mutant(no_coalescing, "S10", _world(agents=1)),
    "adoption-not-merged": _mutant(adoption_not_merged, "S10", _world()),
    "fatal-stays-in-flight": _mutant(fatal_stays_in_flight, "S3", _world(agents=1, turns=1)),
    "register-takes-segments": _mutant(register_takes_segments, "S4", _world()),
    "turn-agent-not-registered": _mutant(
        turn_agent_not_registered, "S4", _world(agents=1, turns=1)
    ),
    "follow-up-dropped": _mutant(follow_up_dropped, "L1", _world(agents=1)),
    "never-adopt": _mutant(never_adopt, "L2", _world(agents=1, turns=1)),
    "success-keeps-in-flight": _mutant(success_keeps_in_flight, "L3", _world(agents=1, turns=1)),
    "discard-keeps-entry": _mutant(discard_keeps_entry, "L4", _world(agents=1, turns=1)),
    "adoption-reads-too-far": _mutant(adoption_reads_too_far, STEP_RAISED, _world(turns=3)),
    "ephemeral-counted": _mutant(
        ephemeral_counted, "S1", _world(agents=1, turns=1, ephemeral=True)
    ),
    "foreign-end-accepted": _mutant(
        foreign_end_accepted, "S5", _world(agents=1, turns=1, stale_ends=True)
    ),
    "kept-results-swapped": _mutant(kept_results_swapped, "S8", _world(agents=1, turns=1)),
    "edit-accepts-malformed": _mutant(
        edit_accepts_malformed, "S7", _world(agents=1, turns=1, edits=True)
    ),
    "edit-marks-a-new-call": _mutant(
        edit_marks_a_new_call, "S7", _world(agents=1, turns=1, edits=True)
    ),
    "in-call-ignored": _mutant(in_call_ignored, "L3", _world(agents=1, turns=1, in_call=True)),
    "wait-ignores-deadline": _mutant(wait_ignores_deadline, "L3", _world(agents=1, turns=1)),
    "expired-wait-leaves-nothing": _mutant(expired_wait_leaves_nothing, "L1", _world(agents=1)),
    "failed-follow-up-retries": _mutant(failed_follow_up_retries, "L1", _world(agents=1)),
    "whole-commit-first-segment-only": _mutant(
        whole_commit_first_segment_only, "L1", _world(turns=2, whole=True)
    ),
    "end-without-wake": _mutant(end_without_wake, "L3", _world(agents=1, turns=1)),
    "follow-up-while-draining": _mutant(follow_up_while_draining, "L1", _drain_world(turns=2)),
    "follow-up-raises-debt": _mutant(follow_up_raises_debt, "L1", _world(agents=1)),
    "step-sorts-by-entry": _mutant(
        step_sorts_by_entry, STEP_RAISED, _world(sessions=2, agents=1, turns=1)
    ),
    "discard-of-nothing-answers-none": _mutant(
        discard_of_nothing_answers_none, STEP_RAISED, _world(agents=1, turns=1)
    ),
    "drain-queues-twice": _mutant(drain_queues_twice, "L2", _drain_world(provider_failure=True)),
    "drain-no-requeue-after-failure": _mutant(drain_no_requeue_after_failure, "L2", _drain_world()),
    "drain-failures-not-counted": _mutant(drain_failures_not_counted, "L2", _drain_world()),
    "drain-poll-ignores-calls": _mutant(drain_poll_ignores_calls, "L2", _drain_world()),
    "drain-next-ignores-deadline": _mutant(drain_next_ignores_deadline, "L2", _drain_world()),
    "drain-start-skips-queue": _mutant(drain_start_skips_queue, "L2", _drain_world()),
    "drain-single-worker": _mutant(drain_single_worker, "L2", _drain_world(sessions=2)),
    "drain-never-ends": _mutant(drain_never_ends, "L2", _drain_world()),
    "background-admitted-while-draining": _mutant(
        background_admitted_while_draining, "L2", _drain_world(background=True)
    ),
}
"""Every broken step function by name."""
