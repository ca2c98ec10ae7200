"""The threaded shell loaded from its ``.py`` source, for tests that patch its methods.

A compiled (mypyc) class calls its own methods directly, so patching them has
no effect there; these tests load a pure copy of ``memory_lifecycle.lifecycle``
in the same process (the model and the checks it imports stay as installed).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import memory_lifecycle.lifecycle as installed


def _source(origin: str) -> Path:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if origin.endswith(suffix):
            return Path(origin[: -len(suffix)] + ".py")
    return Path(origin)


def pure_lifecycle() -> ModuleType:
    """A fresh module object run from the source of ``memory_lifecycle.lifecycle``."""
    assert installed.__file__ is not None
    spec = importlib.util.spec_from_file_location(
        "memory_lifecycle.lifecycle_from_source", _source(installed.__file__)
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "memory_lifecycle"
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
