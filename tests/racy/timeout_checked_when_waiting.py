"""Racy variant: the timeout is checked only with wait=True: bad ones pass without waiting."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(timeout_checked_when_waiting=True)
globals().update(api_functions(_lifecycle))
