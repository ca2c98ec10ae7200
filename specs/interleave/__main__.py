"""``python -m memory_lifecycle.specs.interleave``: see ``cli``.

String hashing is randomised per process, and a target that iterates a set
of strings would then schedule differently in a replaying process. Without
``PYTHONHASHSEED`` in the environment, the command re-executes itself with
``PYTHONHASHSEED=0`` so that a printed schedule replays the same anywhere.
"""

import os
import sys

if os.environ.get("PYTHONHASHSEED") is None:
    environment = dict(os.environ, PYTHONHASHSEED="0")
    arguments = [sys.executable, "-m", "memory_lifecycle.specs.interleave", *sys.argv[1:]]
    os.execve(sys.executable, arguments, environment)

from .cli import main

sys.exit(main())
