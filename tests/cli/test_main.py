"""``sofrito.cli.main.command``: the console script and ``python -m sofrito`` as processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli.running import TIMEOUT


def _command(*args: str, before: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{before}\nfrom sofrito.cli.main import command\ncommand()\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_command_exits_with_the_code_of_main(tmp_path: Path) -> None:
    """``command`` is ``main`` as a process: its exit code, its lines."""
    done = _command("run", str(tmp_path / "missing.py"))
    assert done.returncode == 3, done.stderr
    assert "missing.py: no such flow file" in done.stderr
    assert _command("--version").stdout.startswith("sofrito ")


def test_the_command_exits_as_a_process_does_atexit_and_streams_included() -> None:
    """Leaving the heap to the operating system at exit skips no ``atexit``
    handler and loses no buffered output."""
    before = "import atexit\natexit.register(lambda: print('atexit ran', flush=True))"
    done = _command("--version", before=before)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("sofrito ")
    assert done.stdout.splitlines()[-1] == "atexit ran"


def test_python_dash_m_sofrito_is_the_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sofrito", "run", str(tmp_path / "missing.py")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 3, done.stderr


def test_help_is_as_wide_as_columns_says() -> None:
    """The help's width follows ``COLUMNS`` (or the terminal), as argparse's own
    measure (``shutil.get_terminal_size``) has it, less argparse's 2 spare."""
    for columns in (60, 100):
        done = subprocess.run(
            [sys.executable, "-m", "sofrito", "run", "--help"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env={**os.environ, "COLUMNS": str(columns)},
        )
        assert done.returncode == 0, done.stderr
        widest = max(len(line) for line in done.stdout.splitlines())
        assert columns - 20 < widest <= columns - 2, done.stdout
