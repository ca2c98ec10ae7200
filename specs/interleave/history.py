"""The recorded history of one run: API calls, provider calls, thread events.

Every record gets the next ``tick`` (a counter, strictly increasing), so
real-time order is ``a.returned < b.invoked``. Only one logical thread runs at
a time, so recording needs no locking. The linearizability checker reads
``calls`` and ``provider_calls``; traces are built from ``events``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..conformance.fakes import ended_text


@dataclass
class ProviderCall:
    """One ``commit_memory_session()`` call made by the target."""

    session_id: str
    agent: object
    agent_name: str
    behaviour: str
    thread: int
    began: int
    call_id: int | None
    """The API call running in the same thread when the provider was called."""
    generation_at_begin: int | None = None
    """The target's generation for the session at the call's start (if inspectable)."""
    ended: int | None = None
    outcome: str | None = None
    """``ok``, ``fail`` (raised an Exception) or ``abort`` (a BaseException); None while running."""
    error: BaseException | None = None
    """What the call raised, if it raised."""


@dataclass
class Call:
    """One API call made by the scenario (or by a provider, re-entrantly)."""

    call_id: int
    thread: int
    method: str
    arguments: dict[str, Any]
    invoked: int
    invoked_at: float
    """Virtual time of the invocation."""
    parent: int | None
    returned: int | None = None
    returned_at: float | None = None
    result: Any = None
    raised: BaseException | None = None
    provider: ProviderCall | None = None
    """The first provider call this call made in its own thread."""


@dataclass(frozen=True)
class Event:
    """One line of a trace: who did what, with what result."""

    tick: int
    actor: str
    action: str
    result: str


@dataclass
class History:
    """Everything observed in one run."""

    calls: list[Call] = field(default_factory=list)
    provider_calls: list[ProviderCall] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    thread_ended: dict[int, int] = field(default_factory=dict)
    open_calls: dict[int, list[Call]] = field(default_factory=dict)
    tick: int = 0

    def next_tick(self) -> int:
        """Advance and return the tick counter."""
        self.tick += 1
        return self.tick

    def note(self, actor: str, action: str, result: str = "") -> None:
        """Record a free-form trace event."""
        self.events.append(Event(self.next_tick(), actor, action, result))

    def invoke(
        self, thread: int, actor: str, method: str, arguments: dict[str, Any], now: float
    ) -> Call:
        """Record the start of an API call."""
        stack = self.open_calls.setdefault(thread, [])
        call = Call(
            call_id=len(self.calls),
            thread=thread,
            method=method,
            arguments=arguments,
            invoked=self.next_tick(),
            invoked_at=now,
            parent=stack[-1].call_id if stack else None,
        )
        self.calls.append(call)
        stack.append(call)
        shown = ", ".join(f"{key}={_show(value)}" for key, value in arguments.items())
        self.events.append(Event(call.invoked, actor, f"{method}({shown})", "..."))
        return call

    def respond(
        self,
        call: Call,
        actor: str,
        now: float,
        result: Any = None,
        raised: BaseException | None = None,
    ) -> None:
        """Record the end of an API call (a result or an exception)."""
        call.returned = self.next_tick()
        call.returned_at = now
        call.result = result
        call.raised = raised
        stack = self.open_calls.get(call.thread, [])
        if stack and stack[-1] is call:
            stack.pop()
        shown = ended_text(raised) if raised is not None else _show(result)
        self.events.append(Event(call.returned, actor, f"{call.method} returned", shown))

    def provider_begin(
        self,
        thread: int,
        actor: str,
        session_id: str,
        agent: object,
        agent_name: str,
        behaviour: str,
        generation: int | None,
    ) -> ProviderCall:
        """Record the start of a provider call; attach it to the open commit call."""
        stack = self.open_calls.get(thread, [])
        enclosing = stack[-1] if stack else None
        record = ProviderCall(
            session_id=session_id,
            agent=agent,
            agent_name=agent_name,
            behaviour=behaviour,
            thread=thread,
            began=self.next_tick(),
            call_id=None if enclosing is None else enclosing.call_id,
            generation_at_begin=generation,
        )
        if (
            enclosing is not None
            and enclosing.method == "commit_session_memory"
            and enclosing.provider is None
        ):
            enclosing.provider = record
        self.provider_calls.append(record)
        self.events.append(
            Event(record.began, actor, f"provider {agent_name}.commit_memory_session() begins", "")
        )
        return record

    def provider_end(self, record: ProviderCall, actor: str, error: BaseException | None) -> None:
        """Record the end of a provider call: returned (``error`` None) or raised ``error``."""
        record.ended = self.next_tick()
        record.error = error
        if error is None:
            record.outcome = "ok"
        else:
            record.outcome = "fail" if isinstance(error, Exception) else "abort"
        self.events.append(
            Event(record.ended, actor, f"provider {record.agent_name} ends", ended_text(error))
        )

    def running(self, session_id: str) -> list[ProviderCall]:
        """Provider calls for ``session_id`` that began and have not ended."""
        return [
            record
            for record in self.provider_calls
            if record.session_id == session_id and record.ended is None
        ]


def _show(value: Any) -> str:
    name = getattr(value, "agent_name", None)
    if isinstance(name, str):
        return name
    if hasattr(value, "value") and hasattr(value, "name") and not isinstance(value, type):
        return str(value.name)
    return repr(value)
