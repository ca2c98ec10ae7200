"""Racy variant: the drain sets its draining flag before the ``try`` whose ``finally``
clears it, so a Ctrl-C right after the flag is set leaves every later boundary commit
refused until some later drain."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(draining_set_before_try=True)
globals().update(api_functions(_lifecycle))
