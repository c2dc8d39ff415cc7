"""What the subscription tests share: leak checks on threads and child processes.

Threads are compared against a snapshot taken before the test body, so a
thread some other test left behind does not count. Processes are read from
/proc: the direct children of this test process, and whether a given pid is
still alive (a zombie waiting for init to reap it counts as gone: it runs
nothing).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def thread_snapshot() -> set[threading.Thread]:
    return set(threading.enumerate())


def new_threads(before: set[threading.Thread]) -> list[str]:
    """Names of threads alive now that were not alive at ``before``."""
    return sorted(t.name for t in threading.enumerate() if t not in before)


def child_pids() -> set[int]:
    """Pids of this process's children, zombies included (an unreaped child is a leak)."""
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _stat(int(entry.name))[1:2] == [str(me)]:
            found.add(int(entry.name))
    return found


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, ppid, ... ([] if gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return stat.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """The pid runs something (not a zombie, not gone)."""
    return _stat(pid)[:1] not in ([], ["Z"])


def gone(pid: int, within: float = 10.0) -> bool:
    """Wait, bounded, for ``pid`` to stop running.

    Polling is the only way: the pid is a grandchild reparented to init, so
    there is nothing of ours to wait on.
    """
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
