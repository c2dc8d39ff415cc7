"""One module per library, each with the same small shape (``base.Adapter``).

``ADAPTERS`` lists them in column order: sofrito first (every ratio is
against it), sofrito with its engine compiled, the from-scratch baseline,
then the peers, the Rust-backed ones first. Importing an adapter module
never imports its library: that happens in the adapter's ``__init__``, so a
peer that is not installed fails there, with the reason, and the harness
skips it.
"""

from __future__ import annotations

import importlib

from benchmarks.adapters.base import Adapter

ADAPTERS: dict[str, str] = {
    "sofrito": "sofrito_adapter:SofritoAdapter",
    "sofrito-compiled": "sofrito_adapter:CompiledSofritoAdapter",
    "from-scratch": "baseline:BaselineAdapter",
    "incr-compute": "incr_adapter:IncrAdapter",
    "signified": "signified_adapter:SignifiedAdapter",
    "reaktiv": "reaktiv_adapter:ReaktivAdapter",
    "nervio": "nervio_adapter:NervioAdapter",
    "revlet": "revlet_adapter:RevletAdapter",
    "query-cascade": "cascade_adapter:CascadeAdapter",
    "pytracked": "pytracked_adapter:PytrackedAdapter",
}


def adapter_class(name: str) -> type[Adapter]:
    module, _, cls = ADAPTERS[name].partition(":")
    found: type[Adapter] = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return found
