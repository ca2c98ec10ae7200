"""Racy variant: a BaseException from the provider skips the in-flight cleanup."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(catch_base_exception=False)
globals().update(api_functions(_lifecycle))
