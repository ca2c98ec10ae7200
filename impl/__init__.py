"""memory-lifecycle: the memory-provider session lifecycle, modeled and verified.

``import memory_lifecycle`` gives the threaded shell (``SessionLifecycle``);
``memory_lifecycle.model`` is the pure model, ``memory_lifecycle.compat`` the
drop-in for the hermes-webui module.
"""

from memory_lifecycle.lifecycle import DrainReport, SessionLifecycle
from memory_lifecycle.model import Outcome, Session

__version__ = "0.1.0"

__all__ = ["DrainReport", "Outcome", "Session", "SessionLifecycle", "__version__"]
