"""The pure lifecycle model: immutable state, events, effects and the rules.

Standard library only; no clock, threads, logging or I/O. The theory of
operation opens ``rules``; ``state``, ``events`` and ``effects`` hold the data
it works on. Each submodule's ``__all__`` is re-exported here for
convenience; none of the names shadows a submodule.
"""

from . import effects, events, rules, state
from .effects import *  # noqa: F403
from .events import *  # noqa: F403
from .rules import *  # noqa: F403
from .state import *  # noqa: F403

__all__ = [*effects.__all__, *events.__all__, *rules.__all__, *state.__all__]
