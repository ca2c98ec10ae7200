"""Racy variant: a failed provider call does not wake waiting committers."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(notify_after_failure=False)
globals().update(api_functions(_lifecycle))
