"""What a scenario sees: a recording hermes-webui API and its agents.

``RecordingApi`` forwards each call to the target and records its invocation
and response (or exception) in the run's ``History``; an exception the target
raises is recorded and the call returns ``None``, so an actor goes on with
its next call. A function the target lacks raises ``NotApplicable``.
``background_commit`` starts a fire-and-forget boundary commit the way a host
does (a thread registered with ``_register_background_commit_thread``).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from ..conformance.target import Target
from .agents import ScriptedAgent
from .history import Call, History
from .scheduler import AbortRun, Scheduler

FINAL_DRAIN_DEADLINE = 30.0
"""Virtual seconds the final drain (with succeeding providers) may take."""


class NotApplicable(Exception):
    """The scenario needs an API the target does not offer."""


class RecordingApi:
    """The hermes-webui functions of a target (``hermes_api``), each call recorded."""

    def __init__(
        self,
        target: Target,
        scheduler: Scheduler,
        history: History,
        threading_module: types.ModuleType,
    ) -> None:
        self.target = target
        self.scheduler = scheduler
        self.history = history
        self.threading = threading_module
        self.sessions: list[str] = []
        """Session ids the scenario touched, in first-use order."""
        self.on_return: Callable[[Call], None] | None = None
        """Called after each recorded call returns (or raises)."""

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
            result = None
        else:
            self.history.respond(call, label, self.scheduler.now, result=result)
        if self.on_return is not None:
            self.on_return(call)
        return result

    def register_agent(self, session_id: str, agent: object) -> None:
        """Record and forward ``register_agent``."""
        self._call(
            "register_agent",
            {"session_id": session_id, "agent": agent},
            lambda: self.target.register_agent(session_id, agent),
        )

    def unregister_agent(self, session_id: str) -> None:
        """Record and forward ``unregister_agent``."""
        self._call(
            "unregister_agent",
            {"session_id": session_id},
            lambda: self.target.unregister_agent(session_id),
        )

    def mark_turn_completed(self, session_id: str, *, agent: object = None) -> Any:
        """Record and forward ``mark_turn_completed``."""
        return self._call(
            "mark_turn_completed",
            {"session_id": session_id, "agent": agent},
            lambda: self.target.mark_turn_completed(session_id, agent),
        )

    def has_uncommitted_work(self, session_id: str) -> Any:
        """Record and forward ``has_uncommitted_work``."""
        return self._call(
            "has_uncommitted_work",
            {"session_id": session_id},
            lambda: self.target.has_uncommitted_work(session_id),
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
        return self._call(
            "commit_session_memory",
            {"session_id": session_id, "agent": agent, "wait": wait, "timeout": timeout},
            lambda: self.target.commit(session_id, agent, wait, timeout),
        )

    def discard_session(self, session_id: str) -> Any:
        """Record and forward ``discard_session``."""
        return self._call(
            "discard_session",
            {"session_id": session_id},
            lambda: self.target.discard(session_id),
        )

    def drain_all_on_shutdown(self, deadline: float = FINAL_DRAIN_DEADLINE) -> None:
        """Record and forward ``drain_all_on_shutdown`` (without ``deadline`` if it takes none)."""
        arguments = {"deadline": deadline} if self.target.drain_takes_deadline else {}
        self._call("drain_all_on_shutdown", arguments, lambda: self.target.drain(deadline))

    def background_commit(self, session_id: str) -> None:
        """Commit ``session_id`` on a registered background thread, as a host's boundary does."""
        if not self.target.has_background_registry:
            raise NotApplicable(f"{self.target.name} has no _register_background_commit_thread()")
        self._touch(session_id)

        def body() -> None:
            try:
                self.commit_session_memory(session_id, wait=True)
            finally:
                self._call(
                    "_unregister_background_commit_thread",
                    {},
                    lambda: self.target.unregister_background(worker),
                )

        worker = self.threading.Thread(target=body, name=f"background-{session_id}", daemon=True)
        admitted = self._call(
            "_register_background_commit_thread",
            {},
            lambda: self.target.register_background(worker),
        )
        if admitted:
            worker.start()


class Context:
    """A scenario's handle on the run: the recording API, agents, and waiting on the run."""

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

    def wait_until_provider_runs(self, session_id: str, behaviour: str) -> None:
        """Block this actor until a ``behaviour`` provider call of ``session_id`` is running."""
        history = self.api.history

        def running() -> bool:
            return any(
                record.behaviour == behaviour and record.ended is None
                for record in history.running(session_id)
            )

        self.api.scheduler.point(
            f"wait until a {behaviour} provider call of {session_id!r} runs",
            ready=running,
            interruptible=False,
        )
