"""Racy variant: the drain joins a background thread registered but not yet started."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(join_unstarted_threads=True)
globals().update(api_functions(_lifecycle))
