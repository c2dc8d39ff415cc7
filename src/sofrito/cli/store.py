"""``sofrito store upgrade URL``: the explicit schema upgrade of a shared store.

A shared store (PostgreSQL) never upgrades its schema as a side effect of a
newer client opening it: other machines may still run the older sofrito, and
the role that alters tables is often not the role that runs builds. So a
client that finds an older schema refuses and names this command, which
whoever administers the database runs once every client is new enough. On a
database (or schema) that holds no store yet it creates one, which is how an
administrator sets one up before handing out a role that may only read and
write rows (docs/persistence.md, "Who holds which role").

Only ``postgresql://`` and ``postgres://`` URLs: a SQLite file upgrades itself
when opened, since only one machine uses it.
"""

from __future__ import annotations

import argparse

from sofrito.cli.errors import CacheDamaged, CliError

__all__ = ["add_store_command"]

_SCHEMES = ("postgresql://", "postgres://")


class _UsageError(CliError):
    exit_code = 2


def add_store_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``sofrito store upgrade URL``, added to the command's subcommands."""
    store = commands.add_parser(
        "store",
        help="administer a shared store (upgrade its schema)",
        description="Administer a shared store.",
    )
    _debug_option(store)  # `sofrito store --debug upgrade URL`, as every command takes it
    actions = store.add_subparsers(dest="store_action", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade",
        help="bring a PostgreSQL store's schema to this sofrito's version (or create it)",
        description=(
            "Bring the store schema at URL to this sofrito's version, in one transaction, "
            "or create it if the database holds no store. Run it once every client that "
            "uses the store runs this sofrito, with a role that may alter tables."
        ),
    )
    upgrade.add_argument("url", metavar="URL", help="postgresql://USER@HOST:PORT/DATABASE")
    _debug_option(upgrade)  # `sofrito store upgrade URL --debug`
    upgrade.set_defaults(handler=_upgrade)


def _debug_option(command: argparse.ArgumentParser) -> None:
    """``--debug`` wherever it is given: before or after the action, or before
    ``store`` (SUPPRESS: an absent one keeps what an earlier level set)."""
    command.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )


def _upgrade(args: argparse.Namespace) -> int:
    url = str(args.url)
    args.store_url = url  # what a store error's line names (main._store_problem)
    if not url.startswith(_SCHEMES):
        raise _UsageError(
            f"store upgrade: {url.partition(':')[0]!r} URLs need no upgrade command (a "
            "SQLite file upgrades itself when opened); give a postgresql:// URL"
        )
    from sofrito.stores import WriteFailed  # noqa: PLC0415
    from sofrito.stores.postgres import upgrade_schema  # noqa: PLC0415 (psycopg only here)

    try:
        found, now = upgrade_schema(url)
    except WriteFailed as exc:  # not the cache line's "delete it": nothing is damaged
        raise CacheDamaged(
            f"store upgrade: {exc}; check the URL, that the server is up, and that the "
            "role may create and alter tables, then run it again"
        ) from None
    if found is None:
        print(f"created a sofrito store, schema {now}")
    elif found == now:
        print(f"the store schema is already {now}; nothing to do")
    else:
        print(f"upgraded the store schema from {found} to {now}")
    return 0
