"""Runtime events: what happened, for live reload, diagnostics and tests.

- ``kinds``      the event records and ``QueryRef``
- ``watch``      the revision watch: holds only the latest revision
- ``broadcast``  bounded per-receiver queues; a slow receiver lags, never blocks
"""
