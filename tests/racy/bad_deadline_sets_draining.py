"""Racy variant: the drain marks itself draining before checking its deadline.

A bad deadline leaves it draining.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(bad_deadline_sets_draining=True)
globals().update(api_functions(_lifecycle))
