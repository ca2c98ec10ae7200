"""Racy variant: a commit passing an agent without commit_memory_session returns False.

Even work another agent owns is then left dirty.
"""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(bare_agent_blocks_owned=True)
globals().update(api_functions(_lifecycle))
