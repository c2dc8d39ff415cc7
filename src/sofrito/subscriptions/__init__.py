"""Declarative subscriptions: event sources that run while they are declared.

Layout, one idea per module:

- ``protocol``: ``Subscription``, ``StopSignal``, ``Closed``
- ``reconciler``: ``Reconciler`` diffs declared against running, by id
- ``every``, ``process``, ``filewatch``: timers, child processes, file changes
- ``driver``: ``Driver``, where a query declares the subscriptions and their
  messages update inputs
- ``_ids``: deterministic ids (never Python's salted ``hash()``)

See docs/subscriptions.md.
"""

from sofrito.subscriptions.driver import Driver
from sofrito.subscriptions.every import Every
from sofrito.subscriptions.filewatch import Batch, FileWatch
from sofrito.subscriptions.process import (
    Error,
    Exited,
    Killed,
    Process,
    ProcessEvent,
    Signaled,
    Stderr,
    Stdout,
)
from sofrito.subscriptions.protocol import Closed, StopSignal, Subscription
from sofrito.subscriptions.reconciler import Reconciler, ReconcilerStats

__all__ = [
    # the protocol
    "Subscription",
    "StopSignal",
    "Closed",
    # running them
    "Reconciler",
    "ReconcilerStats",
    "Driver",
    # built-ins
    "Every",
    "Process",
    "ProcessEvent",
    "Stdout",
    "Stderr",
    "Exited",
    "Signaled",
    "Killed",
    "Error",
    "FileWatch",
    "Batch",
]

# Tracebacks and reprs say `sofrito.subscriptions.Closed`, not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
