"""Scripted agents: the provider side of a scenario.

An agent belongs to one session. Each ``commit_memory_session()`` call takes
the next behaviour of its script (then ``ok`` once the script is used up, and
always ``ok`` in the final phase):

- ``ok``: return normally;
- ``fail``: raise ``ProviderFailure`` (an ``Exception``);
- ``base``: raise ``KeyboardInterrupt`` (a ``BaseException``);
- ``hang``: block until the run releases hung providers (final phase), then return;
- ``slow``: take 10 virtual seconds (a timed wait that fires when nothing else
  can run), then return;
- ``reenter``: call ``commit_session_memory`` for its own session from inside the
  call (through the recording API), then return;
- ``reenter_wait``: the same with ``wait=True`` and no timeout.

The call's begin and end are scheduling points and are recorded in the
history; a begin while another call of the same session runs is an S5
violation, reported at once.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

from .history import History
from .scheduler import Scheduler

BEHAVIOURS = ("ok", "fail", "base", "hang", "slow", "reenter", "reenter_wait")

SLOW_SECONDS = 10.0
"""Virtual seconds a ``slow`` provider call takes."""


class ProviderFailure(Exception):
    """The scripted provider failure (an ordinary exception)."""


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
        reenter: Callable[[str, bool], object],
    ) -> None:
        unknown = [item for item in script if item not in BEHAVIOURS]
        if unknown:
            raise ValueError(f"unknown provider behaviour(s) {unknown}; use {BEHAVIOURS}")
        self.agent_name = agent_name
        self.session_id = session_id
        self.script = list(script)
        self.final = False
        self._scheduler = scheduler
        self._history = history
        self._on_begin = on_begin
        self._hang_release = hang_release
        self._reenter = reenter

    def _next_behaviour(self) -> str:
        if self.final or not self.script:
            return "ok"
        return self.script.pop(0)

    def commit_memory_session(self) -> None:
        """The provider call: behave as scripted, recording begin and end."""
        behaviour = self._next_behaviour()
        me = self._scheduler.current()
        thread = -1 if me is None else me.index
        actor = "?" if me is None else me.label
        self._scheduler.point(f"call provider {self.agent_name}")
        record = self._history.provider_begin(
            thread, actor, self.session_id, self, self.agent_name, behaviour, None
        )
        self._on_begin(self)
        outcome = "ok"
        try:
            if behaviour == "hang":
                self._hang_release.wait()
            elif behaviour == "slow":
                self._scheduler.point(
                    f"provider {self.agent_name} works",
                    ready=lambda: False,
                    deadline=self._scheduler.now + SLOW_SECONDS,
                )
            elif behaviour in ("reenter", "reenter_wait"):
                self._reenter(self.session_id, behaviour == "reenter_wait")
            self._scheduler.point(f"return from provider {self.agent_name}")
            if behaviour == "fail":
                outcome = "error"
                raise ProviderFailure(f"{self.agent_name}: scripted provider failure")
            if behaviour == "base":
                outcome = "base"
                raise KeyboardInterrupt(f"{self.agent_name}: scripted BaseException")
        finally:
            if record.ended is None and not (me is not None and me.abort):
                self._history.provider_end(record, actor, outcome)

    def __hash__(self) -> int:
        """Hash by name, not address: a target's sets of agents iterate the same every run."""
        return zlib.crc32(f"{self.session_id}/{self.agent_name}".encode())

    def __repr__(self) -> str:
        return f"<agent {self.agent_name} of {self.session_id!r}>"
