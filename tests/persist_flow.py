"""A small program that runs in a child process for the persistence tests.

``python tests/persist_flow.py DB ACTION [ARG]`` opens a runtime on the SQLite
file DB, does ACTION, commits, and prints JSON: the result and which queries
executed. ``SOFRITO_TEST_VERSION`` sets the version of ``words``, and
``SOFRITO_TEST_BODY=edited`` swaps in an edited body with the same result, so a
test can change a query's fingerprint between runs either way.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Any

import sofrito as sf
from sofrito.stores import SqliteStore

document = sf.Input("flow.document")
settings = sf.Input("flow.settings", durability=sf.Durability.STABLE)
executed: Counter[str] = Counter()


VERSION = os.environ.get("SOFRITO_TEST_VERSION", "1")

if os.environ.get("SOFRITO_TEST_BODY") == "edited":

    @sf.query(name="flow.words", version=VERSION)
    def words(db: Any, name: str) -> int:  # the same result, from edited code
        executed[f"words:{name}"] += 1
        weight = settings(db)["weight"]
        return weight * len(document(db, name).split())

else:

    @sf.query(name="flow.words", version=VERSION)
    def words(db: Any, name: str) -> int:
        executed[f"words:{name}"] += 1
        return len(document(db, name).split()) * settings(db)["weight"]


@sf.query(name="flow.total")
def total(db: Any) -> int:
    executed["total"] += 1
    return sum(words(db, name) for name in ("a", "b", "c"))


def main(path: str, action: str, arg: str = "") -> None:
    rt = sf.Runtime(store=SqliteStore(path), runtime_id="flow")
    opened_at = rt.revision
    if action == "init":
        with rt.batch():
            rt.set(settings, {"weight": 1})
            for name in "abc":
                rt.set(document[name], f"{name} " * 3)
    elif action == "edit":
        rt.set(document["b"], arg)
    elif action == "durable-then-die":
        rt.set(document["a"], arg, durable=True)
        os.kill(os.getpid(), 9)
    result = total(rt)
    receipt = rt.commit()
    print(
        json.dumps(
            {
                "opened_at": opened_at,
                "result": result,
                "executed": dict(executed),
                "sequence": receipt.sequence,
                "revision": rt.revision,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
