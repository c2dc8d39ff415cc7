"""``Traces``: whether a runtime publishes and reads traces, and under which secret.

A trace is a memo shared by content between runtimes (docs/persistence.md,
"Traces: sharing by content"). The store only keeps the rows
(``RuntimeStore.publish_traces`` and ``load_traces``); what goes in them, and
whom to believe, is the runtime's, configured here.

**No secret, no traces.** A trace's value is decoded by the runtime's codec,
and the default codec unpickles, which runs code named by the data. So a
trace is only ever read after its HMAC-SHA256 under the team's secret
verifies, and there is no way to turn traces on without one. The secret is
symmetric: whoever holds it can publish. ``publish=False`` keeps a runtime
from writing traces, which keeps a laptop's half-finished work out of the
team's cache; it is a policy, not a protection against someone who holds the
secret.

Rejected: one secret for the runtime's own rows and its traces (``secret=``
on the runtime). The rows of one runtime are trusted by whoever can write
that runtime; traces are trusted by a whole team, so their secret is
handed out (and rotated) on its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sofrito.stores.protocol import RuntimeStore

__all__ = ["ENV_MODE", "ENV_SECRET", "ENV_STORE", "Traces"]

ENV_SECRET = "SOFRITO_TRACE_SECRET"
"""The environment variable ``sofrito run`` takes the trace secret from."""

ENV_MODE = "SOFRITO_TRACES"
"""``read``, ``publish`` or ``read,publish`` (the default once a secret is set)."""

ENV_STORE = "SOFRITO_TRACE_STORE"
"""A store URL for the traces, when they are not kept in the run's own store."""


@dataclass(frozen=True, slots=True)
class Traces:
    """Traces for a runtime: ``sf.Runtime(store=..., traces=sf.stores.Traces(secret))``.

    - ``secret``: the team's trace secret (at least 16 bytes); every trace is
      sealed with an HMAC-SHA256 under it, and a trace that does not verify is
      refused (``TraceRefused``) and computed instead.
    - ``publish``: each ``commit()`` also publishes, as a trace, every stored
      memo that executed since the last one. For CI, which builds from
      reviewed sources.
    - ``read``: a query about to execute first looks for a trace of the same
      code and key whose reads match this runtime's values.
    - ``store``: where the traces are kept, if not in the runtime's own store:
      each checkout or laptop keeps its own cache (its own head, no conflicts),
      and the team's traces live in one shared store (PostgreSQL, or one SQLite
      file on a machine). Only ``publish_traces`` and ``load_traces`` are used.
    """

    secret: bytes | str = field(repr=False)
    publish: bool = True
    read: bool = True
    store: RuntimeStore | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        secret = self.secret.encode() if isinstance(self.secret, str) else self.secret
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ValueError(
                "a trace secret must be at least 16 bytes (a team-wide random string, "
                "e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Traces | None:
        """``SOFRITO_TRACE_SECRET`` and ``SOFRITO_TRACES`` (``read``, ``publish``, or both,
        comma-separated; both by default); None without a secret."""
        env = os.environ if environ is None else environ
        secret = env.get(ENV_SECRET, "")
        if not secret:
            return None
        mode = {part.strip() for part in env.get(ENV_MODE, "read,publish").split(",")}
        unknown = mode - {"read", "publish", ""}
        if unknown:
            raise ValueError(
                f"{ENV_MODE}={env.get(ENV_MODE)!r}: expected 'read', 'publish' or "
                f"'read,publish', not {', '.join(sorted(unknown))}"
            )
        return cls(secret, publish="publish" in mode, read="read" in mode)


Traces.__module__ = "sofrito.stores"
