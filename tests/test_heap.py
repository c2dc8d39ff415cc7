"""``sofrito._heap.give_back``: the holes freed values leave in the C heap go
back to the system (glibc), as after a first commit turned every value into
its row. Measured in a process of its own, whose heap nothing else shares."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = """
import sys

from sofrito import _heap


def resident() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * 4096


# Values between survivors, as a run leaves them: 2,000 holes of 32 KB once
# the values go, each too far from the top of the heap to be trimmed from it.
values, survivors = [], []
for n in range(2_000):
    values.append(bytes([n % 251]) * 32_768)
    survivors.append(bytes([n % 241]) * 700)
del values
before = resident()
_heap.give_back()
after = resident()
print(before - after)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_the_pages_of_freed_values_go_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    released = int(done.stdout)
    assert released > 40_000_000, released  # of 64 MB freed, in 28 KB of whole pages each
