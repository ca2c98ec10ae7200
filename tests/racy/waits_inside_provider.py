"""Racy variant: only a provider's commit of its own session is kept from waiting.

Providers committing each other's sessions deadlock.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(waits_inside_provider=True)
globals().update(api_functions(_lifecycle))
