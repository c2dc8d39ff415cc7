"""``python -m benchmarks.sqlite_edges``: the SQLite store's reverse edges, alone.

A runtime of 20,000 memo rows (200 bytes) in 20 layers of 1,000, each reading
5 nodes of the layer below (layer 0 reads 1,000 inputs): 100,000 edges. It
times, in CPU seconds (median of a few), the first commit of all of them,
reader closures of growing cones, the closure of every input, a full load
(every row and edge group checked against the seals) and a commit of one row
whose 5 reads changed. docs/persistence.md ("Numbers") has the figures, for
schema 5 (an edge per row) and 6 (edge groups, ``stores/_sqlite_edges.py``).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sofrito.stores import SnapshotDelta, SqliteStore

LAYERS, WIDTH, READS = 20, 1_000, 5


def _memo(layer: int, n: int) -> bytes:
    return b"m%02d-%04d" % (layer, n)


def _node(layer: int, n: int) -> bytes:
    return b"i:%04d" % n if layer < 0 else b"q" + _memo(layer, n)


def _graph() -> tuple[dict[bytes, bytes], dict[bytes, list[bytes]]]:
    rows: dict[bytes, bytes] = {}
    reads: dict[bytes, list[bytes]] = {}
    for layer in range(LAYERS):
        for n in range(WIDTH):
            memo = _memo(layer, n)
            rows[memo] = b"r" * 200
            reads[memo] = [_node(layer - 1, (n * 7 + k * 13) % WIDTH) for k in range(READS)]
    return rows, reads


def _timed(call: Callable[[], object], repeat: int = 5) -> float:
    spent = []
    for _ in range(repeat):
        start = time.process_time()
        call()
        spent.append(time.process_time() - start)
    return statistics.median(spent)


def main() -> None:
    rows, reads = _graph()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        made: list[Path] = []

        def first() -> None:
            made.append(Path(folder) / f"s{len(made)}.db")
            with SqliteStore(made[-1]) as store:
                delta = SnapshotDelta(1, b"m", rows, reads=reads)
                store.commit_boundary("rt", delta, "r", "c", [], [])

        results["first commit, 20,000 rows + 100,000 edges"] = _timed(first, 3)
        with SqliteStore(made[0]) as store:
            header = store.load_header("rt")
            assert header is not None
            head = header.head
            for layer in (18, 15, 10, -1):
                seeds = [_node(layer, 5)]
                size = len(store.load_reader_closure("rt", seeds, head=head))
                results[f"closure of a layer {layer} node, {size:,} edges"] = _timed(
                    lambda seeds=seeds: store.load_reader_closure("rt", seeds, head=head)
                )
            every = [_node(-1, n) for n in range(WIDTH)]
            results["closure of every input, all edges"] = _timed(
                lambda: store.load_reader_closure("rt", every, head=head), 3
            )
            results["load_snapshot, every row and edge checked"] = _timed(
                lambda: store.load_snapshot("rt"), 3
            )
            revision = [1]

            def one() -> None:
                revision[0] += 1
                memo = _memo(LAYERS - 1, 3)
                new = [_node(LAYERS - 2, (revision[0] + k) % WIDTH) for k in range(READS)]
                delta = SnapshotDelta(revision[0], b"m", {memo: b"x" * 200}, reads={memo: new})
                store.commit_boundary("rt", delta, "r", "c", [], [])

            results["commit 1 row whose 5 reads changed"] = _timed(one, 9)
    for what, spent in results.items():
        print(f"{what:<48} {spent * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
