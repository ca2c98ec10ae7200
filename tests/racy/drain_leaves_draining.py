"""Racy variant: the lifecycle stays draining after a drain.

Busy commits are never followed up and background commits are refused for good.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(drain_leaves_draining=True)
globals().update(api_functions(_lifecycle))
