"""Racy variant: a drain called from inside a provider call waits for that call.

So it always waits out its deadline.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(drain_waits_for_caller=True)
globals().update(api_functions(_lifecycle))
