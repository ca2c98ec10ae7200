"""What a scenario sees: a recording hermes-webui API and its agents.

``RecordingApi`` forwards each call to the target and records its invocation
and response (or exception) in the run's ``History``; an exception the target
raises is recorded and the call returns ``None``, so an actor goes on with
its next call. A method the target lacks raises ``NotApplicable``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .agents import ScriptedAgent
from .history import History
from .scheduler import AbortRun, Scheduler
from .target import Target

FINAL_DRAIN_DEADLINE = 30.0
"""Virtual seconds the final drain (with succeeding providers) may take."""


class NotApplicable(Exception):
    """The scenario needs an API the target does not offer."""


class RecordingApi:
    """The hermes-webui functions of a target, each call recorded."""

    def __init__(self, target: Target, scheduler: Scheduler, history: History) -> None:
        self.target = target
        self.scheduler = scheduler
        self.history = history
        self.sessions: list[str] = []
        """Session ids the scenario touched, in first-use order."""

    def _touch(self, session_id: str) -> None:
        if session_id and session_id not in self.sessions:
            self.sessions.append(session_id)

    def _call(self, method: str, arguments: dict[str, Any], invoke: Callable[[], Any]) -> Any:
        if method not in self.target.supports:
            raise NotApplicable(f"{self.target.name} has no {method}()")
        session_id = arguments.get("session_id")
        if isinstance(session_id, str):
            self._touch(session_id)
        me = self.scheduler.current()
        index, label = (-1, "outside") if me is None else (me.index, me.label)
        call = self.history.invoke(index, label, method, arguments, self.scheduler.now)
        try:
            result = invoke()
        except AbortRun:
            raise
        except BaseException as error:  # recorded; S3 wants BaseExceptions re-raised
            self.history.respond(call, label, self.scheduler.now, raised=error)
            return None
        self.history.respond(call, label, self.scheduler.now, result=result)
        return result

    def register_agent(self, session_id: str, agent: object) -> None:
        """Record and forward ``register_agent``."""
        api = self.target.api
        self._call(
            "register_agent",
            {"session_id": session_id, "agent": agent},
            lambda: api.register_agent(session_id, agent),
        )

    def unregister_agent(self, session_id: str) -> None:
        """Record and forward ``unregister_agent``."""
        api = self.target.api
        self._call(
            "unregister_agent",
            {"session_id": session_id},
            lambda: api.unregister_agent(session_id),
        )

    def mark_turn_completed(self, session_id: str, *, agent: object = None) -> Any:
        """Record and forward ``mark_turn_completed``."""
        api = self.target.api
        return self._call(
            "mark_turn_completed",
            {"session_id": session_id, "agent": agent},
            lambda: api.mark_turn_completed(session_id, agent=agent),
        )

    def has_uncommitted_work(self, session_id: str) -> Any:
        """Record and forward ``has_uncommitted_work``."""
        api = self.target.api
        return self._call(
            "has_uncommitted_work",
            {"session_id": session_id},
            lambda: api.has_uncommitted_work(session_id),
        )

    def commit_session_memory(
        self,
        session_id: str,
        agent: object = None,
        *,
        wait: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Record and forward ``commit_session_memory``."""
        api = self.target.api
        return self._call(
            "commit_session_memory",
            {"session_id": session_id, "agent": agent, "wait": wait, "timeout": timeout},
            lambda: api.commit_session_memory(session_id, agent, wait=wait, timeout=timeout),
        )

    def discard_session(self, session_id: str) -> Any:
        """Record and forward ``discard_session``."""
        api = self.target.api
        return self._call(
            "discard_session",
            {"session_id": session_id},
            lambda: api.discard_session(session_id),
        )

    def drain_all_on_shutdown(self, deadline: float = FINAL_DRAIN_DEADLINE) -> None:
        """Record and forward ``drain_all_on_shutdown`` (without ``deadline`` if it takes none)."""
        api = self.target.api
        if self.target.drain_takes_deadline:
            self._call(
                "drain_all_on_shutdown",
                {"deadline": deadline},
                lambda: api.drain_all_on_shutdown(deadline=deadline),
            )
        else:
            self._call("drain_all_on_shutdown", {}, lambda: api.drain_all_on_shutdown())


class Context:
    """A scenario's handle on the run: the recording API and agent factory."""

    def __init__(
        self,
        api: RecordingApi,
        make_agent: Callable[[str, str, tuple[str, ...]], ScriptedAgent],
    ) -> None:
        self.api = api
        self.agents: dict[str, ScriptedAgent] = {}
        self._make_agent = make_agent

    def agent(self, agent_name: str, session_id: str, *script: str) -> ScriptedAgent:
        """A new scripted agent of ``session_id`` (see ``agents`` for behaviours)."""
        if agent_name in self.agents:
            raise ValueError(f"agent {agent_name!r} already exists in this scenario")
        made = self._make_agent(agent_name, session_id, script)
        self.agents[agent_name] = made
        self.api._touch(session_id)
        return made
