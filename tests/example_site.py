"""The example site's files (examples/site/), loaded by path for the tests that
use them: ``examples`` is not a package, and a flow is loaded as
``sofrito run`` loads it, from its file."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType

SITE = Path(__file__).parent.parent / "examples" / "site"


def load(name: str, path: Path) -> ModuleType:
    """The module in ``path``, run under ``name`` (each name its own module)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def generator() -> ModuleType:
    """``examples/site/generate.py``: ``generator().generate(root, pages, seed=...)``."""
    return load("site_generate", SITE / "generate.py")
