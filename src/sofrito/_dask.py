"""The Dask side of ``sofrito.executors.Dask``: a worker plugin and the task function.

Imported only when a ``Dask`` executor is made (and on the workers, by the
names Dask pickles): ``distributed`` is an optional extra
(``pip install 'sofrito[dask]'``).

**Functions by name.** Dask pickles a function by reference when its module
is importable on the worker. ``run_on_worker`` lives here, in an installed
package, so it always is; the flow's queries are never pickled, only their
names and keys (``sofrito._shipping.Task``): a flow loaded from a file by
path would be pickled by reference too, and no worker could import it.

**One runtime per worker, held by its plugin.** ``SofritoPlugin`` is set up on
every worker (those that join later too) and holds the worker's runtimes
and store connections (``_shipping.Opened``): a task reuses them while the
coordinator's head stays the same, and the plugin closes them when the
worker shuts down. It also counts the tasks the worker ran.
"""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin, get_worker

from sofrito import _shipping

__all__ = ["PLUGIN", "SofritoPlugin", "run_on_worker", "tasks_run"]

PLUGIN = "sofrito"
"""The plugin's name on every worker (``worker.plugins[PLUGIN]``)."""


class SofritoPlugin(WorkerPlugin):
    """Holds a worker's sofrito runtimes (module docstring)."""

    name = PLUGIN

    def __init__(self) -> None:
        self.opened: _shipping.Opened | None = None
        """Made on the worker (``setup``): the plugin travels pickled, a lock cannot."""

    def setup(self, worker: Any) -> None:
        self.opened = _shipping.Opened()

    def teardown(self, worker: Any) -> None:
        if self.opened is not None:
            self.opened.close()


def run_on_worker(task: _shipping.Task) -> _shipping.Shipped:
    """``_shipping.run_task`` with the worker's plugin's runtimes."""
    plugin = get_worker().plugins[PLUGIN]
    assert isinstance(plugin, SofritoPlugin)
    if plugin.opened is None:
        plugin.opened = _shipping.Opened()
    return _shipping.run_task(task, plugin.opened)


def tasks_run(dask_worker: Any) -> int:
    """How many tasks this worker ran (``client.run(tasks_run)`` asks every worker)."""
    plugin = dask_worker.plugins[PLUGIN]
    return 0 if plugin.opened is None else plugin.opened.tasks
