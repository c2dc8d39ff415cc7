"""``python -m benchmarks``: sofrito beside its Python peers on the workloads of DESIGN §7.

Run it with ``bash scripts/bench.sh``, which makes ``.venv-bench/`` on Python
3.13, installs sofrito and each peer there (one ``pip install`` per peer, so
one failure blocks nothing), and then runs this. ``python -m benchmarks
--help`` lists the options (``--only``, ``--scale`` for a quick run).

How it works:

- ``graph.py`` generates one deterministic DAG (1,000 inputs, 20 layers of
  500 nodes, one root) and evaluates it from scratch: the reference for
  every value any library returns.
- ``adapters/`` has one module per library, all of one shape
  (``adapters/base.py``): build the graph in the library's own idiom, read
  the root, write a leaf, the same for the fan-out graph, and a memo-hit
  statement. Node bodies count their executions.
- ``workloads/`` has one module per workload family (``dag``: W1-W4,
  ``fanout``: W5, ``hit``: the memo hit), which drive the adapters, time
  them (``timing.py``) and check values and execution counts.
- ``run.py`` measures each library in a process of its own and
  ``report.py`` prints the table, the execution counts, the notes and the
  targets of issue 3.

``benchmarks/persistence.py`` is separate: the store's costs, sofrito only.
"""

from benchmarks.run import main

main()
