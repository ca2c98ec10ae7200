"""``python -m memory_lifecycle``: the command line."""

import sys

from .cli import main

sys.exit(main())
