"""Racy variant: a successful commit marks work completed during the call committed."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(commit_to_generation=True)
globals().update(api_functions(_lifecycle))
