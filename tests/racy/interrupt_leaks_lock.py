"""Racy variant: lock.acquire() then try: a Ctrl-C between them leaves the lock held."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(explicit_acquire=True)
globals().update(api_functions(_lifecycle))
