"""Racy variant: the drain commits in rounds that wait for their slowest call.

It also stops after a round without progress.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(drain_in_rounds=True)
globals().update(api_functions(_lifecycle))
