"""The public names are exactly the API of DESIGN.md, each exported once."""

from __future__ import annotations

from pathlib import Path

import sofrito as sf

CORE_API = {
    "Input",
    "InputRef",
    "query",
    "Query",
    "Runtime",
    "Polled",
    "Durability",
    "QueryError",
    "Suspend",
    "CycleError",
    "Cancelled",
    "MissingDependency",
    "NotFound",
    "Lagged",
    "PENDING",
    "state",
    "Loading",
    "Ready",
    "Failed",
}


def test_core_api_is_exported() -> None:
    assert set(sf.__all__) >= CORE_API
    assert len(sf.__all__) == len(set(sf.__all__))
    for name in sf.__all__:
        assert hasattr(sf, name), name


def test_public_classes_say_sofrito_in_tracebacks() -> None:
    for name in sf.__all__:
        obj = getattr(sf, name)
        if isinstance(obj, type):
            assert obj.__module__ == "sofrito", name


def test_version_is_the_installed_distributions() -> None:
    import importlib.metadata

    assert sf.__version__ == importlib.metadata.version("sofrito")
    assert "__version__" in sf.__all__


def test_every_public_exception_lives_in_errors() -> None:
    """One module holds the exception tree (sofrito/_errors.py says so)."""
    from sofrito import _errors

    exceptions = [
        name
        for name in sf.__all__
        if isinstance(getattr(sf, name), type) and issubclass(getattr(sf, name), BaseException)
    ]
    assert "ReceiverClosed" in exceptions
    for name in exceptions:
        assert getattr(_errors, name, None) is getattr(sf, name), name
        assert name in _errors.__all__, name


EVENTS_API = {
    "QueryRef",
    "RevisionBumped",
    "RevisionSet",
    "InputSet",
    "InputRemoved",
    "QueryInvalidated",
    "QueryChanged",
    "QueryExecuting",
    "QueryVerified",
    "QueryTraced",
}

STORES_API = {
    "RuntimeStore",
    "Receipt",
    "InputState",
    "RuntimeState",
    "StoreError",
    "WriteFailed",
    "ReadFailed",
    "RecordNotFound",
    "Conflict",
    "CorruptSnapshot",
    "MemoryStore",
    "SqliteStore",
}

SUBSCRIPTIONS_API = {
    "Subscription",
    "StopSignal",
    "Closed",
    "Reconciler",
    "Every",
    "Process",
    "ProcessEvent",
    "FileWatch",
    "Driver",
}


def test_events_are_exported_from_sofrito() -> None:
    assert set(sf.__all__) >= EVENTS_API


def test_stores_api_is_exported() -> None:
    from sofrito import stores

    assert set(stores.__all__) >= STORES_API
    assert len(stores.__all__) == len(set(stores.__all__))
    for name in stores.__all__:
        obj = getattr(stores, name)
        if isinstance(obj, type):
            assert obj.__module__ == "sofrito.stores", name


def test_subscriptions_api_is_exported() -> None:
    from sofrito import subscriptions

    assert set(subscriptions.__all__) >= SUBSCRIPTIONS_API
    for name in subscriptions.__all__:
        assert hasattr(subscriptions, name), name


def test_core_import_stays_light() -> None:
    import subprocess
    import sys

    heavy = "('watchfiles', 'psycopg', 'rich')"
    code = f"import sys, sofrito; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_sofrito_does_not_import_asyncio() -> None:
    """A sync program does not pay for asyncio: it comes in with the first ``await``."""
    import subprocess
    import sys

    code = "import sofrito, sys; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_sofrito_leaves_sqlite_and_pathlib_to_the_sqlite_store(tmp_path: Path) -> None:
    """A runtime without a store, or on MemoryStore, does not import the SQLite store.

    ``sf.stores.SqliteStore`` and ``from sofrito.stores import SqliteStore`` import it
    on first use, in a fresh process each.
    """
    import subprocess
    import sys

    light = "('sqlite3', 'pathlib', 'sofrito.stores.sqlite')"
    cache = str(tmp_path / "cache.db")
    scripts = {
        f"import sofrito, sys; print(sorted(m for m in {light} if m in sys.modules))": "[]",
        f"""if True:
            import sofrito as sf
            src = sf.Input("light.src")
            store = sf.stores.SqliteStore({cache!r})
            rt = sf.Runtime(store=store, runtime_id="light")
            rt.set(src, "x")
            rt.commit()
            again = sf.Runtime(store=sf.stores.SqliteStore({cache!r}), runtime_id="light")
            print(type(store).__module__, type(store).__name__, again.get(src))
        """: "sofrito.stores SqliteStore x",
        "from sofrito.stores import SqliteStore; print(SqliteStore.__name__)": "SqliteStore",
        "import sofrito.stores as s; print(s.SqliteStore is s.sqlite.SqliteStore)": "True",
    }
    for code, expected in scripts.items():
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected, code


def test_the_async_paths_work_once_asyncio_comes_in_late() -> None:
    """The receivers and ``aquery`` import asyncio when first awaited, in a fresh process."""
    import subprocess
    import sys

    code = """if True:
        import sys, threading
        import sofrito as sf
        assert "asyncio" not in sys.modules
        src = sf.Input("late.src")
        rt = sf.Runtime()
        events, revisions = rt.subscribe_events(), rt.subscribe_revisions()

        @sf.query(name="late.upper")
        def upper(db):
            return src(db).upper()

        import asyncio

        async def main():
            threading.Timer(0.05, lambda: rt.set(src, "hi")).start()
            await asyncio.wait_for(revisions.achanged(), 10)
            event = await asyncio.wait_for(events.arecv(), 10)
            return type(event).__name__, await rt.aquery(upper)

        print(asyncio.run(main()))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "('RevisionBumped', 'HI')"
