"""The hermes-webui lifecycle API, defined once.

``HermesLifecycleApi`` is the typing Protocol of the functions every
implementation offers (a module such as ``memory_lifecycle.compat`` satisfies
it, and so does an adapter object). ``REQUIRED`` names them; ``OPTIONAL``
names the calls later published versions added, which a checker uses when a
target has them:

- ``discard_session(session_id) -> bool``: drop a clean, idle entry;
- ``drain_all_on_shutdown(deadline=30.0) -> None``: commit every dirty session
  by the deadline (the first published version takes no deadline);
- ``_register_background_commit_thread(thread) -> bool`` and
  ``_unregister_background_commit_thread(thread) -> None``: the registry of
  fire-and-forget boundary-commit threads the drain accounts for (registration
  returns False while a drain runs: the caller then does not start the thread).

Standard library only: the drop-in imports nothing else.
"""

from __future__ import annotations

from typing import Any, Protocol

REQUIRED: tuple[str, ...] = (
    "register_agent",
    "unregister_agent",
    "mark_turn_completed",
    "has_uncommitted_work",
    "commit_session_memory",
)
"""Functions every implementation offers."""

OPTIONAL: tuple[str, ...] = (
    "discard_session",
    "drain_all_on_shutdown",
    "_register_background_commit_thread",
    "_unregister_background_commit_thread",
)
"""Functions later published versions added."""


class HermesLifecycleApi(Protocol):
    """The required functions, as a module or an adapter object offers them."""

    def register_agent(self, session_id: Any, agent: Any, /) -> None:
        """Make ``agent`` the owner of the session's future turns."""
        ...

    def unregister_agent(self, session_id: Any, /) -> None:
        """Forget the session's current agent; owners of dirty work stay."""
        ...

    def mark_turn_completed(self, session_id: Any, /, *, agent: Any = None) -> int:
        """Record a completed turn; return the session's generation."""
        ...

    def has_uncommitted_work(self, session_id: Any, /) -> bool:
        """True when completed turns are not committed yet."""
        ...

    def commit_session_memory(
        self, session_id: Any, agent: Any = None, /, *, wait: bool = False, timeout: Any = None
    ) -> bool:
        """Commit the earliest dirty segment; True only when the provider call succeeded."""
        ...
