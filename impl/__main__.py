"""``python -m memory_lifecycle``: the command line."""

from .cli import run

run()
