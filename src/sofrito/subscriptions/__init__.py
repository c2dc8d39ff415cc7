"""Declarative subscriptions: event sources that run while they are declared.

- ``Subscription``, ``StopSignal``, ``Closed``: the protocol (``protocol``)
- ``Reconciler``: diff declared against running, by id (``reconciler``)
- ``Every``, ``Process``, ``FileWatch``: timers, child processes, file changes
- ``Driver``: a query declares subscriptions, their messages update inputs

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
    "Subscription",
    "StopSignal",
    "Closed",
    "Reconciler",
    "ReconcilerStats",
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
    "Driver",
]
