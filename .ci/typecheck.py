"""Run ``mypy --strict`` on the package as it is imported.

The package maps three folders (impl/, model/, specs/) onto one import name,
which mypy cannot follow through an editable install, so this script lays the
package out as symlinks in a temporary folder and checks it there.
Usage: python .ci/typecheck.py  (exit status is mypy's)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / "memory_lifecycle"
        package.mkdir()
        for entry in (ROOT / "impl").iterdir():
            if entry.name != "__pycache__":
                (package / entry.name).symlink_to(entry)
        (package / "model").symlink_to(ROOT / "model")
        (package / "specs").symlink_to(ROOT / "specs")
        env = dict(os.environ, MYPYPATH=tmp)
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "-p",
            "memory_lifecycle",
        ]
        return subprocess.call(command, env=env, cwd=tmp)


if __name__ == "__main__":
    sys.exit(main())
