"""Store URLs: ``sqlite:PATH``, ``memory:``, and a registry for more schemes.

A URL is ``scheme:rest``; ``SCHEMES`` maps a scheme to a function that
opens a store from ``rest`` and the flow's folder (a relative SQLite path is
relative to the flow's folder, not the working directory, so
``sofrito run site/flow.py`` finds the same cache from anywhere).
``postgresql://...`` and ``postgres://...`` open a ``PostgresStore`` with
the URL as its DSN, as written (psycopg is imported only then).

Options ride in a query string: ``sqlite:cache.db?busy_timeout=0.5`` (how
long to wait for another process's lock, in seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from sofrito.stores import MemoryStore, RuntimeStore

__all__ = ["SCHEMES", "default_url", "open_store", "register_scheme", "sqlite_file"]

Opener = Callable[[str, dict[str, str], Path], RuntimeStore]
"""``opener(rest, options, flow_folder) -> store``."""

SCHEMES: dict[str, Opener] = {}


def register_scheme(scheme: str, opener: Opener) -> None:
    """Make ``scheme:...`` URLs open stores with ``opener``."""
    SCHEMES[scheme] = opener


def default_url(flow_folder: Path) -> str:
    """The cache a flow uses without ``--store``: ``<flow dir>/.sofrito/cache.db``."""
    return f"sqlite:{flow_folder / '.sofrito' / 'cache.db'}"


def open_store(url: str, flow_folder: Path) -> RuntimeStore:
    """The store ``url`` names; ``ValueError`` naming the known schemes for another."""
    scheme, sep, rest = url.partition(":")
    opener = SCHEMES.get(scheme) if sep else None
    if opener is None:
        known = ", ".join(f"{name}:" for name in sorted(SCHEMES))
        raise ValueError(f"store URL {url!r}: unknown scheme; use one of {known}")
    rest, _, query = rest.partition("?")
    return opener(rest, dict(parse_qsl(query)), flow_folder)


def sqlite_path(rest: str, flow_folder: Path) -> Path:
    """The file a ``sqlite:`` URL names, relative paths taken from the flow's folder."""
    if rest.startswith("//"):  # sqlite:///abs/path, as SQLAlchemy writes it
        rest = rest[2:]
    if not rest:
        raise ValueError("store URL 'sqlite:' needs a path: sqlite:PATH")
    path = Path(rest).expanduser()
    return path if path.is_absolute() else flow_folder / path


def sqlite_file(url: str, flow_folder: Path) -> Path | None:
    """The file a ``sqlite:`` store URL names (its options left out); None for
    another scheme."""
    if not url.startswith("sqlite:"):
        return None
    return sqlite_path(url.removeprefix("sqlite:").partition("?")[0], flow_folder)


def _open_sqlite(rest: str, options: dict[str, str], flow_folder: Path) -> RuntimeStore:
    from sofrito.stores import SqliteStore  # noqa: PLC0415 (sqlite3 only when used)

    unknown = sorted(set(options) - {"busy_timeout"})
    if unknown:  # a typo (busy_timout=60) would otherwise wait the default 5 s, silently
        raise ValueError(
            f"store URL option {unknown[0]!r} is not one sqlite: knows; the one it takes is "
            "busy_timeout=SECONDS"
        )
    timeout = _seconds(options.get("busy_timeout", "5"))
    path = sqlite_path(rest, flow_folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path, busy_timeout=timeout)


def _seconds(text: str) -> float:
    """``busy_timeout``'s value: a number of seconds, 0 or more."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also NaN
        raise ValueError(
            f"store URL option busy_timeout={text!r} is not a number of seconds "
            "(e.g. busy_timeout=0.5)"
        )
    return seconds


def _open_memory(rest: str, options: dict[str, str], flow_folder: Path) -> RuntimeStore:
    return MemoryStore()


def _postgres_opener(scheme: str) -> Opener:
    """``postgresql://...`` (or ``postgres://``): the URL goes to psycopg as it was
    written, query string included (``sslmode=``, ``options=-csearch_path%3D...``)."""

    def open_postgres(rest: str, options: dict[str, str], flow_folder: Path) -> RuntimeStore:
        from sofrito.stores import PostgresStore  # noqa: PLC0415 (psycopg only when used)

        query = f"?{urlencode(options)}" if options else ""
        return PostgresStore(f"{scheme}:{rest}{query}")

    return open_postgres


register_scheme("sqlite", _open_sqlite)
register_scheme("memory", _open_memory)
register_scheme("postgresql", _postgres_opener("postgresql"))
register_scheme("postgres", _postgres_opener("postgres"))
