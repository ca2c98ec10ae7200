"""Racy variant: a commit checks and sets the in-flight mark in two critical sections."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(split_check_and_set=True)
globals().update(api_functions(_lifecycle))
