"""A sound lifecycle with no flaw: the explorer must find nothing here."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle()
globals().update(api_functions(_lifecycle))
