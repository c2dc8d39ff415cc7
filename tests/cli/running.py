"""A long-running ``sofrito`` command (``watch``, ``serve``) as a real child process.

Its stdout and stderr are read line by line on threads, so a test waits for
a line with a bound (``expect``) instead of sleeping; ``close`` kills the
child if it is still there, and the context manager always calls it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

T = TypeVar("T")

TIMEOUT = 30.0
"""The bound on any wait in these tests: generous for a busy 2-core machine."""


def wait_for(check: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Stream:
    """The lines of one of the child's streams, with a cursor for ``expect``."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self.cursor = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The next line (after the last one expected) matching ``pattern``."""

        def find() -> re.Match[str] | None:
            with self.lock:
                for index in range(self.cursor, len(self.lines)):
                    match = re.search(pattern, self.lines[index])
                    if match:
                        self.cursor = index + 1
                        return match
            return None

        try:
            return wait_for(find, f"a line matching {pattern!r}", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the lines: {self.text()!r}") from None

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.lines)


class Command:
    """``python -m sofrito ARGS`` running in the background."""

    def __init__(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        env = {**os.environ, "PYTHONWARNINGS": "error", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sofrito", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd=cwd,
            env=env,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.out = Stream(self.process.stdout)
        self.err = Stream(self.process.stderr)

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = TIMEOUT) -> int:
        """Send ``sig`` (Ctrl-C by default) and wait for the exit code."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.out.thread.join(timeout)
        self.err.thread.join(timeout)
        return code

    def close(self) -> None:
        """Kill the child if it still runs, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)
        self.out.thread.join(TIMEOUT)  # EOF once the child is gone; then the pipes can close
        self.err.thread.join(TIMEOUT)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> Command:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


_IMPORTS = """
import sys
from sofrito.cli.main import main
split = sys.argv.index("--")
code = main(["run", *sys.argv[1:split]])
print(" ".join(sorted(name for name in sys.argv[split + 1 :] if name in sys.modules)))
sys.exit(code)
"""


def run_importing(arguments: list[str], modules: tuple[str, ...]) -> tuple[str, str]:
    """``sofrito run *arguments`` in a fresh process: its summary line, and which
    of ``modules`` it imported (space-separated, sorted; empty for none)."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS, *arguments, "--", *modules],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent.parent,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary, imported = done.stdout.split("\n")[:2]
    return summary, imported
