"""sofrito's version: the single place it is written.

The build reads it from here (``[tool.hatch.version]`` in pyproject.toml),
so the installed distribution's metadata and ``sofrito.__version__`` cannot
disagree, in an editable install as in a wheel, compiled or not. A plain
string rather than ``importlib.metadata.version("sofrito")``, which costs
~40 ms to import and would answer for whichever sofrito is installed rather
than the one imported.
"""

__version__ = "0.1.0.dev0"
"""The version of this sofrito, as its distribution's metadata says it (PEP 440)."""
