"""``python -m memory_lifecycle.specs.interleave``: see ``cli``."""

import sys

from .cli import main

sys.exit(main())
