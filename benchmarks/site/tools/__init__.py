"""One module per site tool, each a :class:`~benchmarks.site.tools.base.Tool`."""

from __future__ import annotations

from benchmarks.site.tools.base import Tool
from benchmarks.site.tools.hugo import Hugo
from benchmarks.site.tools.mkdocs import MkDocs, MkDocsDirty
from benchmarks.site.tools.pelican import Pelican
from benchmarks.site.tools.sofrito import Sofrito
from benchmarks.site.tools.sphinx import Sphinx

TOOLS: tuple[type[Tool], ...] = (Sofrito, Pelican, Sphinx, MkDocs, MkDocsDirty, Hugo)
"""In the table's order; sofrito first, since every ratio is against it."""
