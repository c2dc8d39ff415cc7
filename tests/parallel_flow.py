"""Queries for the process and Dask executor tests (tests/test_parallel.py).

A module of its own, importable by name: worker processes import it to find
the queries the tests dispatch by name. Each body appends to ``RUNS`` (in the
process that runs it) and can be told to sleep or to kill its own process,
so a test can lose a worker in the middle of a task.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import sofrito as sf

texts = sf.Input("parallel.texts")
settings = sf.Input("parallel.settings")
RUNS: list[str] = []


@sf.query(name="parallel.words")
def words(db: Any, name: str) -> int:
    RUNS.append(f"words {name}")
    return len(texts(db, name).split())


@sf.query(name="parallel.suffix")
def suffix(db: Any) -> str:
    RUNS.append("suffix")
    return str(settings(db)["suffix"])


@sf.query(name="parallel.render")
def render(db: Any, name: str) -> str:
    RUNS.append(f"render {name}")
    text = texts(db, name)
    behaviour = settings(db).get("behaviour", {}).get(name) or ""
    in_worker = os.getpid() != int(os.environ.get("SOFRITO_TEST_COORDINATOR", "0"))
    if behaviour == "kill" and in_worker:
        os.kill(os.getpid(), signal.SIGKILL)  # a worker dies in the middle of its task
    if behaviour.startswith("kill-once:") and in_worker:
        mark = Path(behaviour.removeprefix("kill-once:"))
        if not mark.exists():  # the first worker to render it dies; the next one renders it
            mark.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    if behaviour == "slow":
        time.sleep(0.2)
    if behaviour == "fail":
        raise ValueError(f"cannot render {name}")
    return f"<p>{text.upper()}</p> ({words(db, name)} words){suffix(db)}"
