"""Linearizability of a recorded history against the model (Wing & Gong style).

The recorded calls become atomic *operations* on the model's ``Process``,
each with a real-time window ``[start, end]`` (ticks):

- ``register_agent``, ``unregister_agent``, ``mark_turn_completed``,
  ``discard_session``, ``has_uncommitted_work``: one operation over the
  call's whole window;
- ``drain_all_on_shutdown``: two operations over its window, the drain's
  start and its end (``DrainStarted`` with no deadline, ``DrainFinished``);
- ``commit_session_memory`` that called the provider: ``CommitRequested``
  (result STARTED, on the agent that was called) between invocation and the
  provider call's begin, then ``CommitSucceeded``/``CommitFailed`` between the
  provider call's end and the return;
- ``commit_session_memory`` that did not: one operation whose model result
  must explain ``False`` (nothing to commit, no agent, no entry, busy; a
  waiting commit that timed out is a request whose deadline has passed; one
  made inside a provider call never waits, so it may be busy);
- a provider call the target made on its own (follow-up, whole commit,
  drain worker): the same two operations, windows bounded by its enclosing
  call or thread.

Time is abstracted away: a waiting request is either still waiting (it
returns only after the call it waits for ended) or past its deadline. Each
provider call gets a call id of its own in the model.

This module and ``committable_by_model`` are the explorer's only uses of the
model (``model.step``, its events and ``Process``); adapting to a new model
API happens here.

``linearize`` searches (depth first, memoised on the set of placed operations
and the model state) for an order consistent with real time in which every
operation's model result matches what was observed. The search can also
require a property of the final state (``accept``): the runner uses it for L1
(no follow-up the model owes is left unstarted).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memory_lifecycle import model
from memory_lifecycle.model import EMPTY_PROCESS, Outcome, Process

from .history import Call, History, ProviderCall

Apply = Callable[[Process], tuple[list[Process], str]]
"""Model states the operation may lead to (empty: the observation is impossible), and why."""


@dataclass(frozen=True)
class Operation:
    """One atomic operation of the history, with its real-time window."""

    label: str
    start: int
    end: float
    apply: Apply


@dataclass(frozen=True)
class Linearization:
    """The outcome of the search."""

    ok: bool
    order: tuple[str, ...]
    """A valid order (when ok) or the longest prefix the search could place."""
    stuck: tuple[str, ...]
    """When not ok: why each operation that could come next does not fit."""
    final_state: Process | None
    gave_up: bool = False
    """True when the search hit its state limit: the answer is inconclusive."""


_FALSE_OUTCOMES = (Outcome.NOTHING_TO_COMMIT, Outcome.NO_AGENT, Outcome.NOT_FOUND)


def _show(value: object) -> str:
    return str(getattr(value, "agent_name", value))


def _call_label(call: Call) -> str:
    shown = ", ".join(
        f"{key}={_show(value)}" for key, value in call.arguments.items() if value is not None
    )
    outcome = (
        f"raised {type(call.raised).__name__}" if call.raised is not None else repr(call.result)
    )
    return f"#{call.call_id} T{call.thread} {call.method}({shown}) -> {outcome}"


def _simple(call: Call, end: float, in_call: bool = False) -> Operation | None:
    """The single operation of a call that made no provider call of its own."""
    arguments = call.arguments
    session_id = arguments.get("session_id")
    label = _call_label(call)
    if not session_id or call.raised is not None:
        return None
    observed = call.result
    if call.method == "register_agent":
        event_r = model.RegisterAgent(session_id, arguments["agent"])
        return Operation(label, call.invoked, end, lambda p: ([model.step(p, event_r).state], ""))
    if call.method == "unregister_agent":
        event_u = model.UnregisterAgent(session_id)
        return Operation(label, call.invoked, end, lambda p: ([model.step(p, event_u).state], ""))
    if call.method == "mark_turn_completed":
        event_t = model.TurnCompleted(session_id, arguments.get("agent"))

        def turn(p: Process) -> tuple[list[Process], str]:
            stepped = model.step(p, event_t)
            if stepped.result == observed:
                return [stepped.state], ""
            return [], f"model generation {stepped.result}, observed {observed!r}"

        return Operation(label, call.invoked, end, turn)
    if call.method == "has_uncommitted_work":

        def query(p: Process) -> tuple[list[Process], str]:
            session = p.session(session_id)
            expected = session is not None and session.dirty
            if expected == observed:
                return [p], ""
            return [], f"model says dirty={expected}"

        return Operation(label, call.invoked, end, query)
    if call.method == "discard_session":
        event_d = model.Discard(session_id)

        def discard(p: Process) -> tuple[list[Process], str]:
            stepped = model.step(p, event_d)
            removed = stepped.result in (Outcome.DISCARDED, Outcome.ALREADY_ABSENT)
            if removed == observed:
                return [stepped.state], ""
            return [], f"model {stepped.result.name if isinstance(stepped.result, Outcome) else ''}"

        return Operation(label, call.invoked, end, discard)
    if call.method == "commit_session_memory":
        return _commit_without_provider(call, label, end, in_call)
    return None


def _drain(call: Call, label: str, end: float) -> list[Operation]:
    """The drain's start and end, each somewhere in the call's window."""

    def start(p: Process) -> tuple[list[Process], str]:
        return [model.step(p, model.DrainStarted(now=0.0, deadline=math.inf)).state], ""

    def finish(p: Process) -> tuple[list[Process], str]:
        if not p.draining:
            return [], "the drain has not started"
        return [model.step(p, model.DrainFinished()).state], ""

    return [
        Operation(f"{label} [starts]", call.invoked, end, start),
        Operation(f"{label} [returns]", call.invoked, end, finish),
    ]


def _commit_without_provider(call: Call, label: str, end: float, in_call: bool) -> Operation:
    """``in_call``: made inside a provider call, so a waiting request is BUSY instead."""
    arguments = call.arguments
    session_id = arguments["session_id"]
    wait = bool(arguments.get("wait"))
    timed = arguments.get("timeout") is not None
    agent = arguments.get("agent")
    event = model.CommitRequested(
        session_id,
        agent=agent,
        agent_can_commit=agent is None or callable(getattr(agent, "commit_memory_session", None)),
        wait=wait,
        in_call=in_call,
        now=0.0,
        deadline=0.0 if timed else None,
    )
    observed = call.result

    def apply(p: Process) -> tuple[list[Process], str]:
        stepped = model.step(p, event)
        outcome = stepped.result
        if observed is not False:
            return [], f"returned {observed!r} without calling the provider"
        if outcome in _FALSE_OUTCOMES or outcome in (Outcome.BUSY, Outcome.TIMED_OUT):
            return [stepped.state], ""
        shown = outcome.name if isinstance(outcome, Outcome) else str(outcome)
        return [], f"model says {shown}"

    return Operation(label, call.invoked, end, apply)


def _provider_pair(
    record: ProviderCall,
    label: str,
    start: int,
    end: float,
    request: Sequence[model.CommitRequested | model.DrainNext],
    observed: str | None,
) -> list[Operation]:
    """The start and end operations of one provider call (its requests carry its call id)."""
    agent = record.agent
    session_id = record.session_id
    call_id = request[0].call_id

    def begin(p: Process) -> tuple[list[Process], str]:
        states: list[Process] = []
        reasons: list[str] = []
        for event in request:
            stepped = model.step(p, event)
            calls = [e for e in stepped.effects if isinstance(e, model.CallProvider)]
            if stepped.result is Outcome.STARTED and calls and calls[0].agent is agent:
                states.append(stepped.state)
            elif stepped.result is Outcome.STARTED and calls:
                reasons.append(f"model calls {_show(calls[0].agent)}, not {record.agent_name}")
            else:
                shown = stepped.result.name if isinstance(stepped.result, Outcome) else ""
                reasons.append(f"model says {shown}")
        return states, "; ".join(reasons)

    operations = [
        Operation(f"{label} [provider {record.agent_name} starts]", start, record.began, begin)
    ]
    if record.ended is None:
        return operations

    def finish(p: Process) -> tuple[list[Process], str]:
        session = p.session(session_id)
        if session is None or session.in_flight is None or session.in_flight.call_id != call_id:
            return [], "model has no such provider call in flight"
        expected = {"ok": "True", "fail": "False", "abort": "raised"}.get(record.outcome or "")
        if observed is not None and observed != expected:
            return [], f"the provider ended {record.outcome} but the call reported {observed}"
        if record.outcome == "ok":
            return [model.step(p, model.CommitSucceeded(session_id, call_id)).state], ""
        fatal = record.outcome == "abort"
        return [model.step(p, model.CommitFailed(session_id, call_id, fatal)).state], ""

    operations.append(
        Operation(f"{label} [provider {record.agent_name} ends]", record.ended, end, finish)
    )
    return operations


def inside_provider(call: Call, history: History) -> ProviderCall | None:
    """The provider call (of any session) running in ``call``'s thread when it was made."""
    for record in history.provider_calls:
        if (
            record.thread == call.thread
            and record.began < call.invoked
            and (record.ended is None or record.ended > call.invoked)
        ):
            return record
    return None


def operations_of(history: History, until: float = math.inf) -> list[Operation]:
    """The atomic operations of every call and provider call completed before ``until``."""
    calls = {call.call_id: call for call in history.calls}
    call_ids = {id(record): number for number, record in enumerate(history.provider_calls, 1)}
    operations: list[Operation] = []
    for call in history.calls:
        if call.invoked > until or call.returned is None or call.returned > until:
            continue
        if call.method == "drain_all_on_shutdown":
            operations += _drain(call, _call_label(call), call.returned)
            continue
        if call.method == "commit_session_memory" and call.provider is not None:
            record = call.provider
            arguments = call.arguments
            requested: list[model.CommitRequested | model.DrainNext] = [
                model.CommitRequested(
                    arguments["session_id"],
                    call_ids[id(record)],
                    arguments.get("agent"),
                    wait=bool(arguments["wait"]),
                    in_call=inside_provider(call, history) is not None,
                )
            ]
            observed = "raised" if call.raised is not None else str(call.result is True)
            operations += _provider_pair(
                record, _call_label(call), call.invoked, call.returned, requested, observed
            )
            continue
        operation = _simple(call, call.returned, inside_provider(call, history) is not None)
        if operation is not None:
            operations.append(operation)
    owned = {id(call.provider) for call in history.calls if call.provider is not None}
    for record in history.provider_calls:
        if id(record) in owned or record.began > until:
            continue
        enclosing = calls.get(record.call_id) if record.call_id is not None else None
        start = 0 if enclosing is None else enclosing.invoked
        end: float = math.inf
        if enclosing is not None and enclosing.returned is not None:
            end = enclosing.returned
        elif record.thread in history.thread_ended:
            end = history.thread_ended[record.thread]
        if record.ended is not None and record.ended > until:
            continue
        call_id = call_ids[id(record)]
        request: list[model.CommitRequested | model.DrainNext] = [
            model.CommitRequested(record.session_id, call_id, record.agent, follow_up=follow_up)
            for follow_up in (False, True)
        ]
        request.append(model.CommitRequested(record.session_id, call_id, record.agent, whole=True))
        request.append(model.DrainNext(record.session_id, now=0.0, call_id=call_id))
        label = f"T{record.thread} internal commit of {record.session_id!r}"
        operations += _provider_pair(record, label, start, end, request, None)
    return operations


def linearize(
    operations: Sequence[Operation],
    *,
    initial: Process = EMPTY_PROCESS,
    accept: Callable[[Process], bool] | None = None,
    limit: int = 200_000,
) -> Linearization:
    """Search for an order of ``operations`` consistent with real time and the model."""
    ordered = sorted(operations, key=lambda op: op.start)
    count = len(ordered)
    full = (1 << count) - 1
    seen: set[tuple[int, Process]] = set()
    order: list[int] = []
    best: list[int] = []
    best_reasons: list[str] = []
    final: list[Process] = []
    budget = [limit]

    def search(done: int, state: Process) -> bool:
        if done == full:
            if accept is None or accept(state):
                final.append(state)
                return True
            return False
        key = (done, state)
        if key in seen or budget[0] <= 0:
            return False
        seen.add(key)
        budget[0] -= 1
        pending = [index for index in range(count) if not done >> index & 1]
        horizon = min(ordered[index].end for index in pending)
        reasons: list[str] = []
        for index in pending:
            operation = ordered[index]
            if operation.start > horizon:
                break
            states, why = operation.apply(state)
            if not states:
                reasons.append(f"{operation.label}: {why}")
            for following in states:
                order.append(index)
                if search(done | 1 << index, following):
                    return True
                order.pop()
        if len(order) >= len(best):
            best[:] = order
            best_reasons[:] = reasons
        return False

    ok = search(0, initial)
    placed = order if ok else best
    return Linearization(
        ok=ok,
        order=tuple(ordered[index].label for index in placed),
        stuck=() if ok else tuple(best_reasons),
        final_state=final[0] if final else None,
        gave_up=not ok and budget[0] <= 0,
    )


def owed_follow_ups(state: Process) -> list[str]:
    """Sessions owing a follow-up that would start a provider call, yet none runs (L1)."""
    owing: list[str] = []
    for session_id, session in state.sessions:
        if session.in_flight is not None or session.follow_up_through <= session.committed:
            continue
        attempt = model.step(state, model.CommitRequested(session_id, follow_up=True))
        if attempt.result is Outcome.STARTED:
            owing.append(str(session_id))
    return owing


def committable_by_model(state: Process, session_id: str) -> bool:
    """True when the model could start a commit of ``session_id`` in ``state`` (an agent exists)."""
    return model.step(state, model.CommitRequested(session_id)).result is not Outcome.NO_AGENT
