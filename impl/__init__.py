"""memory-lifecycle: the memory-provider session lifecycle, modeled and verified.

``import memory_lifecycle`` gives the threaded shell (``SessionLifecycle``);
``memory_lifecycle.model`` is the pure model, ``memory_lifecycle.compat`` the
drop-in for the hermes-webui module.
"""

from memory_lifecycle import lifecycle as _shell
from memory_lifecycle.lifecycle import DrainReport, SessionLifecycle
from memory_lifecycle.model import Outcome, Session

__version__ = "0.1.0"

COMPILED: bool = not _shell.__file__.endswith(".py")
"""True when the shell and the model run as modules compiled by mypyc (see setup.py)."""

__all__ = ["COMPILED", "DrainReport", "Outcome", "Session", "SessionLifecycle", "__version__"]
