"""Racy variant: the drain joins registered background commits with the whole budget first.

One hung background commit spends the deadline.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(join_background_first=True)
globals().update(api_functions(_lifecycle))
