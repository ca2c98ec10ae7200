"""The checks at the API boundary: one rule for every public call of both APIs.

Bad input is refused before anything changes, with a message that says what
was wrong and what to pass instead:

- a session id must be hashable (``TypeError``);
- a flag (``wait``, ``ephemeral``) must be ``True`` or ``False`` (``TypeError``);
- a timeout or deadline must be a number of seconds, not a bool and not NaN
  (``TypeError``, ``ValueError``); zero or negative means at once, and
  ``math.inf`` (or an int too large for a float) means without a bound; a
  timeout may also be None (no bound), a drain deadline may not;
- a count (``drain_workers``) must be a positive int (``TypeError``, ``ValueError``);
- an agent must have a callable ``commit_memory_session`` (native API only:
  the drop-in accepts any agent, as the original does; one that cannot commit
  then adopts nothing, and its own calls fail cleanly with the work kept).
"""

from __future__ import annotations

import math
import reprlib


def check_session_id(session_id: object) -> None:
    """Refuse an unhashable session id."""
    try:
        hash(session_id)
    except TypeError:
        raise TypeError(
            f"session_id must be hashable (a str, say); got {type(session_id).__name__}"
        ) from None


def check_flag(name: str, value: object) -> bool:
    """Refuse anything but True or False."""
    if value is True or value is False:
        return value
    raise TypeError(f"{name} must be True or False, got {describe(value)}")


def check_seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    """A number of seconds as a float (inf for no bound); None only when ``optional``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " or None" if optional else "; math.inf for no bound"
        raise TypeError(f"{name} must be a number of seconds{hint}, got {describe(value)}")
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if value != value:
        raise ValueError(f"{name} must be a number of seconds, got NaN")
    return value


def check_count(name: str, value: object) -> int:
    """A positive int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def can_commit(agent: object) -> bool:
    """True when ``agent`` has a callable ``commit_memory_session``."""
    return callable(getattr(agent, "commit_memory_session", None))


def check_agent(agent: object) -> None:
    """Refuse an agent that could never commit: it would own work no one can commit."""
    if agent is not None and not can_commit(agent):
        raise TypeError(no_commit_method(agent))


def no_commit_method(agent: object) -> str:
    """The message for an agent without a callable ``commit_memory_session``."""
    return (
        f"agent {describe(agent)} has no callable commit_memory_session(); "
        f"pass an agent object that has one"
    )


_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60


def describe(value: object) -> str:
    """A short repr of ``value`` for messages and thread names; never raises."""
    try:
        return _short.repr(value)
    except Exception:
        return f"<{type(value).__name__} whose repr() raised>"
