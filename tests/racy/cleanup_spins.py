"""Racy variant: the end of a provider call is retried on any exception.

One that repeats spins forever.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(retry_cleanup_forever=True)
globals().update(api_functions(_lifecycle))
