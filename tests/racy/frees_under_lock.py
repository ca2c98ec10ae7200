"""Racy variant: agent references are dropped under the lock.

An agent whose __del__ calls the lifecycle deadlocks.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(frees_under_lock=True)
globals().update(api_functions(_lifecycle))
