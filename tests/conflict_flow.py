"""A runtime in a child process, driven line by line, for the head-conflict tests.

``python tests/conflict_flow.py DB`` opens runtime "race" on the SQLite file DB,
prints ``{"opened": head}`` and then runs one command per stdin line, printing
one JSON line per command, so a test can interleave two real processes exactly:

- ``set TEXT`` / ``durable TEXT``: set ``x`` (``durable=True`` for the second);
- ``f``: compute ``f`` (``len(x)``);
- ``commit``: commit, and print the receipt's sequence.

A ``StoreError`` is printed as ``{"error": type name, "message": ...}``, and the
child goes on reading commands.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import sofrito as sf
from sofrito.stores import SqliteStore, StoreError

x = sf.Input("race.x")
y = sf.Input("race.y")


@sf.query(name="race.f")
def f(db: Any) -> int:
    return len(x(db))


@sf.query(name="race.g")
def g(db: Any) -> str:
    return str(y(db)).upper()


def run(rt: sf.Runtime, command: str, arg: str) -> dict[str, Any]:
    if command == "set":
        rt.set(x, arg)
        return {"ok": True}
    if command == "durable":
        rt.set(y, arg, durable=True)
        return {"ok": True}
    if command == "f":
        return {"f": f(rt)}
    if command == "g":
        return {"g": g(rt)}
    if command == "commit":
        return {"sequence": rt.commit().sequence}
    raise ValueError(f"unknown command {command!r}")


def main(path: str) -> None:
    rt = sf.Runtime(store=SqliteStore(path, busy_timeout=30), runtime_id="race")
    assert rt._persistence is not None
    print(json.dumps({"opened": rt._persistence.head}), flush=True)
    for line in sys.stdin:
        command, _, arg = line.rstrip("\n").partition(" ")
        try:
            answer = run(rt, command, arg)
        except StoreError as exc:
            answer = {"error": type(exc).__name__, "message": str(exc)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
