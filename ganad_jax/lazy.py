"""Modules imported on first use, so that `ganad --help`, `ganad list` and `ganad data list`
start without loading pandas or SciPy (the standard library's `importlib.util.LazyLoader`)."""

from __future__ import annotations

import importlib.util
import sys
import types


def module(name: str) -> types.ModuleType:
    """Module `name`: the loaded one if it is loaded already, else one whose code runs when one
    of its attributes is first read."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    lazy = importlib.util.module_from_spec(spec)
    sys.modules[name] = lazy
    loader.exec_module(lazy)
    return lazy
