"""Racy variant: a Ctrl-C that makes ``Condition.wait`` raise without its lock is not
met by taking the lock back, so the ``with`` around the wait raises RuntimeError."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(wait_drops_lock=True)
globals().update(api_functions(_lifecycle))
