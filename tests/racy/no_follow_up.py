"""Racy variant: a commit refused as busy is dropped instead of followed up."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(start_follow_ups=False)
globals().update(api_functions(_lifecycle))
