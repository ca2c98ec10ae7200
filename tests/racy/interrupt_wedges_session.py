"""Racy variant: the provider call's try begins after the lock is released.

A Ctrl-C in between leaves the session in flight.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(call_outside_try=True)
globals().update(api_functions(_lifecycle))
