"""``python -m sofrito``: the same command as ``sofrito`` (docs/flows.md)."""

from sofrito.cli.main import command

command()
