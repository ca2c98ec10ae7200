"""Racy variant: the provider call runs while the lock is held."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(provider_under_lock=True)
globals().update(api_functions(_lifecycle))
