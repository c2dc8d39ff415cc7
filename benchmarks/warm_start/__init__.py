"""Warm start (issue 23): what a fresh process pays to use a large cache.

``python -m benchmarks.warm_start [--sizes 1000,10000,100000] [--repeat 3]``
(part of ``bash scripts/bench.sh``). For each size it builds one cache of
that many memos on a real ``SqliteStore`` in a temporary folder, through the
public API, then runs each step in a fresh process (``sys.executable``):

- (a) open the runtime and read the unchanged root;
- (b) open, change one input, read the root, commit;

and, twice a round, a child that only starts and imports, whose best wall
time is subtracted.
It prints, per step, the wall time, the time beyond start and import, the
peak RSS, the rows loaded from the store and written to it (exact counts,
the same on any machine) beside what the step needs, and the verdicts on
issue 23's targets. Nothing here is a test: tests never time anything
(``tests/benchmarks/`` checks the counting and the verdicts).

The package, one step per module:

- ``graph.py``: the generated tree of queries, its oracle, and what each
  step needs (the cone, the direct dependencies);
- ``counting.py``: ``CountingStore``, the store wrapper that counts rows by
  what each ``load_`` call returns, so the on-demand calls count unchanged;
- ``child.py``: the process of one step;
- ``report.py``: best-of runs, needs, verdicts, the printed table;
- ``__main__.py``: builds the caches and runs the children.

Step (b) commits into the cache it measures, so repetitions edit the same
input again (+1 each time): the cache stays the same size and shape, and
every (b) re-executes the same cone. The oracle follows the edits.
"""
