"""The ``sofrito`` command: flows run from the shell (docs/flows.md).

One idea per module:

- ``main``: arguments, subcommands, and the one place errors become exit codes.
- ``errors``: the ``CliError`` kinds and their exit codes (the table in docs/flows.md).
- ``flow``: loading a flow file (``SOURCES``, ``main``) as a module.
- ``urls``: a store URL (``sqlite:PATH``, ``memory:``) to a store, by scheme.
- ``runner``: one run as a function returning a ``RunSummary`` record, so
  ``watch`` and ``serve`` can call it per change batch.
- ``output``: the summary line, the progress bar on a terminal, ``--events``.
- ``receipts``: listing committed boundaries.

Nothing here is imported by ``import sofrito``: argparse and rich load only
when the command runs.
"""
