"""Which build of the engine this run tests.

``scripts/test.sh`` runs the suite twice, on the pure-Python package and on
the one whose engine mypyc compiled, and sets ``SOFRITO_EXPECT_COMPILED``
for each. Without this check a failed compile could leave the second run
testing pure Python (or a stale extension in ``src/`` the first run testing
compiled code), and both would pass while testing one build.
"""

from __future__ import annotations

import os
from pathlib import Path

import sofrito
import sofrito._engine
from sofrito._engine import family, fetch, lifetime, local, spec, suspense, verify


def test_the_engine_is_the_build_this_run_expects() -> None:
    expected = os.environ.get("SOFRITO_EXPECT_COMPILED", "0") == "1"
    assert sofrito._engine.COMPILED is expected, sofrito.__file__
    assert sofrito.COMPILED is expected  # what users check


def test_the_compiled_build_compiles_the_engine_but_keeps_python_classes_python() -> None:
    compiled = {
        module.__name__: not module.__file__.endswith(".py")
        for module in (fetch, verify, local, spec, family, lifetime, suspense)
    }
    engine = sofrito._engine.COMPILED
    assert compiled == {
        "sofrito._engine.fetch": engine,
        "sofrito._engine.verify": engine,
        "sofrito._engine.local": engine,
        "sofrito._engine.spec": engine,
        "sofrito._engine.family": engine,
        "sofrito._engine.lifetime": False,  # weakly referenced by the gate
        "sofrito._engine.suspense": False,  # async code
    }
    assert Path(sofrito.__file__).name == "__init__.py"  # the package itself stays Python
