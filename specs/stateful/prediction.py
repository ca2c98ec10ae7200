"""What the model predicts for the stateful comparison: this package's one use of the model.

``Prediction`` keeps one model ``Session`` per session id and feeds it the
events that the machine's API calls stand for. It answers in the comparison's
own terms (agent names, ``Expected`` outcomes, booleans and one-line
descriptions), so no other module of this package touches a model type.

Provider calls end as the machine's scripted provider says: ``ends`` maps a
session id to ``"ok"``, ``"fail"`` (an ``Exception``) or ``"abort"`` (a
``BaseException``).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from memory_lifecycle import model
from memory_lifecycle.model import Outcome, Session, SessionId
from memory_lifecycle.specs.trace import describe_session, show_agent


class Expected(enum.Enum):
    """What the model says an API call does (named as the model's outcomes)."""

    STARTED = "a provider call starts"
    COMMITTED = "the provider call succeeds"
    FAILED = "the provider call raises"
    NOTHING_TO_COMMIT = "nothing is dirty"
    BUSY = "another call is running"
    TIMED_OUT = "the wait for the running call expires"
    NO_AGENT = "the dirty segment has no owner"
    NOT_FOUND = "the session has no entry"
    DISCARDED = "the clean, idle entry is removed"
    ALREADY_ABSENT = "there is no entry to discard"
    KEPT_DIRTY = "discard refused: work is dirty"
    KEPT_IN_FLIGHT = "discard refused: a call is running"
    OTHER = "another outcome"

    @classmethod
    def of(cls, result: model.Result) -> Expected:
        """The ``Expected`` member named like the model's outcome ``result``."""
        if isinstance(result, Outcome):
            return cls.__members__.get(result.name, cls.OTHER)
        return cls.OTHER

    @property
    def busy(self) -> bool:
        """True when another call was running (the commit neither ran nor waited it out)."""
        return self in (Expected.BUSY, Expected.TIMED_OUT)


@dataclass(frozen=True)
class ModelCall:
    """A provider call the model started: its session, id, agent and captured end."""

    session_id: str
    call_id: int
    agent: object
    captured_generation: int

    @property
    def agent_name(self) -> str:
        return show_agent(self.agent)


@dataclass
class Forecast:
    """The provider calls the model predicts for one rule, per session, and how they end."""

    calls: dict[str, list[str]] = field(default_factory=dict)
    """Agent names per session, in call order."""
    follow_up_from: dict[str, int] = field(default_factory=dict)
    """Per session, the index in ``calls`` of its first follow-up call."""
    follow_up: bool = False
    """The model started a follow-up commit (L1) in this rule."""
    ended: dict[str, str] = field(default_factory=dict)
    """Per session, how the rule's own call ended (a drain: the session's last call)."""

    def add(self, call: ModelCall, *, follow_up: bool = False) -> None:
        calls = self.calls.setdefault(call.session_id, [])
        if follow_up:
            self.follow_up_from.setdefault(call.session_id, len(calls))
        calls.append(call.agent_name)


class Prediction:
    """The model's sessions, fed with what the machine does to the target."""

    def __init__(self, session_ids: Sequence[str]) -> None:
        self._sessions: dict[SessionId, Session | None] = dict.fromkeys(session_ids)
        self._shutdown = model.Shutdown()
        self._call_ids = itertools.count(1)
        self.failed: dict[str, str | None] = dict.fromkeys(session_ids)
        """Per session, how its last provider call failed (``fail``, ``abort``), else None."""

    # --- queries ----------------------------------------------------------------------

    def dirty(self, session_id: str) -> bool:
        """What ``has_uncommitted_work`` must say."""
        session = self._sessions[session_id]
        return session is not None and session.generation > session.committed

    def has_turns(self, session_id: str) -> bool:
        """True once the session has completed a (non-ephemeral) turn."""
        session = self._sessions[session_id]
        return session is not None and session.generation > 0

    def in_flight(self, session_id: str) -> bool:
        session = self._sessions[session_id]
        return session is not None and session.in_flight is not None

    def describe(self, session_id: str) -> str:
        """The session's model state in one line, for traces."""
        return f"{session_id}: {describe_session(self._sessions[session_id])}"

    # --- API calls --------------------------------------------------------------------

    def register(self, session_id: str, agent: object) -> None:
        self._feed(model.RegisterAgent(session_id, agent))

    def unregister(self, session_id: str) -> None:
        self._feed(model.UnregisterAgent(session_id))

    def turn(self, session_id: str, agent: object | None, ephemeral: bool) -> int:
        """The generation ``mark_turn_completed`` must return."""
        _, result = self._feed(model.TurnCompleted(session_id, agent, ephemeral))
        assert isinstance(result, int)
        return result

    def discard(self, session_id: str) -> Expected:
        _, result = self._feed(model.Discard(session_id))
        return Expected.of(result)

    def commit(
        self,
        session_id: str,
        agent: object | None,
        wait: bool,
        ends: Mapping[str, str],
        forecast: Forecast,
    ) -> Expected:
        """A commit on the caller's thread: its outcome once any call it made has ended.

        A waiting commit that finds a call running waits it out only until its
        timeout: the machine never releases a held call while it waits.
        """
        expected, call = self.begin_commit(session_id, agent, wait, expire=True)
        if call is None:
            return expected
        forecast.add(call)
        how = ends[session_id]
        forecast.ended[session_id] = how
        self.end_call(call, how, ends, forecast)
        return Expected.COMMITTED if how == "ok" else Expected.FAILED

    def begin_commit(
        self, session_id: str, agent: object | None, wait: bool, *, expire: bool = False
    ) -> tuple[Expected, ModelCall | None]:
        """A commit request; the call it starts, if any, runs until ``end_call``.

        With ``expire``, a waiting request that finds a call running has already
        waited out its timeout (TIMED_OUT); without, it waits (WAIT).
        """
        request = model.CommitRequested(
            session_id,
            next(self._call_ids),
            agent,
            agent is None or callable(getattr(agent, "commit_memory_session", None)),
            wait=wait,
            deadline=0.0 if expire else None,
        )
        effects, result = self._feed(request)
        return Expected.of(result), _started_call(effects)

    def end_call(
        self, call: ModelCall, how: str, ends: Mapping[str, str], forecast: Forecast
    ) -> None:
        """A provider call ends ``how``; then the follow-up commits it starts (L1)."""
        session_id = call.session_id
        while True:
            event: model.SessionEvent
            if how == "ok":
                event = model.CommitSucceeded(session_id, call.call_id)
            else:
                event = model.CommitFailed(session_id, call.call_id, how == "abort")
            self.failed[session_id] = None if how == "ok" else how
            effects, _ = self._feed(event)
            if not any(isinstance(effect, model.StartFollowUp) for effect in effects):
                return
            forecast.follow_up = True
            follow_up = model.CommitRequested(session_id, next(self._call_ids), follow_up=True)
            effects, _ = self._feed(follow_up)
            next_call = _started_call(effects)
            if next_call is None:
                return
            forecast.add(next_call, follow_up=True)
            call, how = next_call, ends[session_id]

    def drain(self, ends: Mapping[str, str], forecast: Forecast) -> None:
        """The model's drain with one worker and time to spare: sessions are taken off
        its queue (again after a failure, up to the model's attempts) until none is left."""
        effects, _ = self._feed_process(model.DrainStarted(now=0.0, deadline=math.inf))
        queue = [effect.session_id for effect in effects if isinstance(effect, model.QueueForDrain)]
        while queue:
            session_id = str(queue.pop(0))
            effects, _ = self._feed_process(model.DrainNext(session_id, 0.0, next(self._call_ids)))
            call = _started_call(effects)
            if call is None:
                continue
            forecast.add(call)
            how = ends[session_id]
            forecast.ended[session_id] = how
            self.failed[session_id] = None if how == "ok" else how
            if how == "ok":
                event: model.SessionEvent = model.CommitSucceeded(session_id, call.call_id)
            else:
                event = model.CommitFailed(session_id, call.call_id, how == "abort")
            effects, _ = self._feed(event)
            queue += [
                effect.session_id for effect in effects if isinstance(effect, model.QueueForDrain)
            ]
        self._feed_process(model.DrainFinished())

    def _feed(self, event: model.SessionEvent) -> tuple[tuple[model.Effect, ...], model.Result]:
        session_id = event.session_id
        moved = model.step_session(self._sessions[session_id], event, self._shutdown)
        self._sessions[session_id] = moved.session
        self._shutdown = moved.shutdown
        return moved.effects, moved.result

    def _feed_process(
        self, event: model.ProcessEvent
    ) -> tuple[tuple[model.Effect, ...], model.Result]:
        live = {key: value for key, value in self._sessions.items() if value is not None}
        moved = model.step_process(self._shutdown, live, event)
        self._shutdown = moved.shutdown
        for session_id, session in moved.changes:
            self._sessions[session_id] = session
        return moved.effects, moved.result


def _started_call(effects: tuple[model.Effect, ...]) -> ModelCall | None:
    for effect in effects:
        if isinstance(effect, model.CallProvider):
            return ModelCall(
                str(effect.session_id), effect.call_id, effect.agent, effect.captured_generation
            )
    return None
