"""Racy variant: follow-up threads are named with repr(session_id).

A raising repr loses the follow-up; a huge id is copied into every name.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(id_in_thread_name=True)
globals().update(api_functions(_lifecycle))
