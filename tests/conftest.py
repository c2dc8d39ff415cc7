"""pytest's set-up for the whole suite: children get Ctrl-C as a terminal gives it.

A test run started in the background by a script inherits SIGINT ignored (a
non-interactive shell ignores it for its background jobs), an ignored signal
stays ignored across ``exec``, and Python installs no ``KeyboardInterrupt``
for a SIGINT ignored at its start: every ``sofrito`` child would run on when a
test stops it as Ctrl-C does (a CI run launched that way failed
``test_a_run_interrupted_before_writing_leaves_no_output_stale``). A handled
signal is reset to the default at ``exec``, so handling it here, as Python
does by default, gives each child what a user at a terminal has.
"""

from __future__ import annotations

import signal


def pytest_configure() -> None:
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
