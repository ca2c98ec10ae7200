"""Racy variant: a commit passing an agent without commit_memory_session returns False even for owned
work."""

from .core import HermesLifecycle, api_functions

_lifecycle = HermesLifecycle(bare_agent_blocks_owned=True)
globals().update(api_functions(_lifecycle))
