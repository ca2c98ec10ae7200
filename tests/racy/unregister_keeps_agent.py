"""Racy variant: ``unregister_agent`` forgets nothing, so the unregistered agent goes on
owning new turns and is called for work that no registered agent may commit."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(unregister_keeps_agent=True)
globals().update(api_functions(_lifecycle))
