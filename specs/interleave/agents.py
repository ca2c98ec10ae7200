"""Scripted agents: the provider side of a scenario.

An agent belongs to one session. Each ``commit_memory_session()`` call takes
the next behaviour of its script (then ``ok`` once the script is used up, and
always ``ok`` in the final phase). The behaviours are the checkers' one
vocabulary (``conformance.fakes.BEHAVIOURS``); here ``hang`` blocks until the
run releases hung providers (final phase), ``slow`` takes ``SLOW_SECONDS`` of
virtual time (a timed wait that fires when nothing else can run), and the
behaviours that call the lifecycle from inside the call (``reenter``,
``reenter_wait``, ``wait_on:SESSION``, ``drain``) go through the run's
recording API, so those calls are recorded too.

The call's begin and end are scheduling points and are recorded in the
history; a begin while another call of the same session runs is an S5
violation, reported at once.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

from ..conformance.fakes import MODES, SLOW_SECONDS, end_as, parse_behaviour
from .history import History, ProviderCall
from .scheduler import Scheduler

Inside = Callable[[str, str], object]
"""Runs a call from inside a provider call: (behaviour kind, its argument)."""


class ScriptedAgent:
    """An agent whose provider calls follow a script."""

    def __init__(
        self,
        agent_name: str,
        session_id: str,
        script: Sequence[str],
        *,
        scheduler: Scheduler,
        history: History,
        on_begin: Callable[[ScriptedAgent], None],
        hang_release: Any,
        inside: Inside,
    ) -> None:
        for item in script:
            parse_behaviour(item)
        self.agent_name = agent_name
        self.session_id = session_id
        self.script = list(script)
        self.final = False
        self._scheduler = scheduler
        self._history = history
        self._on_begin = on_begin
        self._hang_release = hang_release
        self._inside = inside

    def _next_behaviour(self) -> str:
        if self.final or not self.script:
            return "ok"
        return self.script.pop(0)

    def commit_memory_session(self) -> None:
        """The provider call: behave as scripted, recording begin and end."""
        kind, argument = parse_behaviour(self._next_behaviour())
        me = self._scheduler.current()
        thread = -1 if me is None else me.index
        actor = "?" if me is None else me.label
        self._scheduler.point(f"call provider {self.agent_name}")
        record = self._history.provider_begin(
            thread, actor, self.session_id, self, self.agent_name, kind, None
        )
        self._on_begin(self)
        error: BaseException | None = None
        try:
            self._behave(kind, argument, record)
            self._scheduler.point(f"return from provider {self.agent_name}")
            end_as(kind if kind in MODES else "ok", f"provider {self.agent_name}")
        except BaseException as raised:
            error = raised
            raise
        finally:
            if record.ended is None and not (me is not None and me.abort):
                self._history.provider_end(record, actor, error)

    def _behave(self, kind: str, argument: str, record: ProviderCall) -> None:
        scheduler = self._scheduler
        if kind == "hang":
            self._hang_release.wait()
        elif kind == "slow":
            scheduler.point(
                f"provider {self.agent_name} works",
                ready=lambda: False,
                deadline=scheduler.now + SLOW_SECONDS,
            )
        elif kind == "wait_on":

            def partner_ran() -> bool:
                """A call of the partner session overlapped this one (or runs now)."""
                return any(
                    other.session_id == argument
                    and (other.ended is None or other.ended > record.began)
                    for other in self._history.provider_calls
                    if other is not record
                )

            scheduler.point(
                f"provider {self.agent_name} waits until {argument!r}'s provider call runs",
                ready=partner_ran,
            )
            self._inside(kind, argument)
        elif kind in ("reenter", "reenter_wait", "drain"):
            self._inside(kind, self.session_id)

    def __hash__(self) -> int:
        """Hash by name, not address: a target's sets of agents iterate the same every run."""
        return zlib.crc32(f"{self.session_id}/{self.agent_name}".encode())

    def __repr__(self) -> str:
        return f"<agent {self.agent_name} of {self.session_id!r}>"
