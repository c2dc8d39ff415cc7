"""Kill a real child process with SIGKILL at a random moment of its work.

The crash tests of the store and of the runtime share it: the child prints
``ready`` once its loop is under way, and is killed at a random instant
after that, with no chance to clean up.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).parent.parent


def kill_at_random(script: Path, path: Path, rng: random.Random, *, within: float) -> None:
    """Run ``script path``, wait for ``ready``, SIGKILL it within ``within`` seconds."""
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    time.sleep(rng.uniform(0.0, within))
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
