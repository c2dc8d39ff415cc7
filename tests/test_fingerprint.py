"""Fingerprints cover the code a query reaches: edits to it, restarts, real processes.

Each restart scenario writes a small program to ``tmp_path`` (``PROGRAM``, with
``helpers.py`` beside it and a fake installed package in a ``site-packages``
folder), runs it in a fresh interpreter, edits one thing, and runs it again.
The program reads every query, commits, and prints which bodies executed: a
stored memo is served only when nothing its query reaches was edited.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import sofrito as sf
from sofrito._fingerprint import fingerprint

PYTHONPATH = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]

PROGRAM = """\
import functools
import json
import sys
import textwrap
from collections import Counter

import fakepkg
import helpers
import sofrito as sf
from sofrito.stores import SqliteStore

executed = Counter()
text = sf.Input("fp.text")
LONG = 3
STOP = frozenset({"the", "a", "of"})


class Shape:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side

    @property
    def perimeter(self):
        return 4 * self.side


def outer(words):
    return [inner(w) for w in words]


def inner(word):
    return word.lower()


def even(n):
    return True if n == 0 else odd(n - 1)


def odd(n):
    return False if n == 0 else even(n - 1)


@functools.lru_cache
def cached(word):
    return word[::-1]


def unrelated(word):
    return word * 2


@sf.query(name="fp.direct")
def direct(db):
    executed["direct"] += 1
    return late(text(db))


@sf.query(name="fp.transitive")
def transitive(db):
    executed["transitive"] += 1
    return outer(text(db).split())


@sf.query(name="fp.constant")
def constant(db):
    executed["constant"] += 1
    words = [w for w in text(db).split() if len(w) > LONG and w.lower() not in STOP]
    return [w for w in words if w not in {"and", "or", "but", "nor", "yet", "so"}]


@sf.query(name="fp.method")
def method(db):
    executed["method"] += 1
    return Shape(len(text(db))).area()


@sf.query(name="fp.prop")
def prop(db):
    executed["prop"] += 1
    return Shape(len(text(db))).perimeter


@sf.query(name="fp.module")
def module(db):
    executed["module"] += 1
    return helpers.scale(len(text(db))) + helpers.FACTOR


@sf.query(name="fp.recursive")
def recursive(db):
    executed["recursive"] += 1
    return even(len(text(db)))


@sf.query(name="fp.nested")
def nested(db):
    executed["nested"] += 1
    return sorted(text(db).split(), key=lambda w: cached(w))


@sf.query(name="fp.stdlib")
def stdlib(db):
    executed["stdlib"] += 1
    return textwrap.shorten(text(db), width=40) + "{}"


@sf.query(name="fp.package")
def package(db):
    executed["package"] += 1
    return fakepkg.count(text(db))


@sf.query(name="fp.leaf")
def leaf(db):
    executed["leaf"] += 1
    return len(text(db))


@sf.query(name="fp.caller")
def caller(db):
    executed["caller"] += 1
    return leaf(db) > 0


@sf.query(name="fp.top")
def top(db):
    executed["top"] += 1
    return not caller(db)


def late(value):  # defined below the query that calls it
    return value.upper()


QUERIES = [
    direct, transitive, constant, method, prop, module, recursive, nested, stdlib, package,
    leaf, caller, top,
]

rt = sf.Runtime(store=SqliteStore(sys.argv[1]), runtime_id="fp")
rt.set(text, "The art of the Incremental computation")
values = {q.spec.name: q(rt) for q in QUERIES}
rt.commit()
print(json.dumps({
    "executed": sorted(executed),
    "values": values,
    "fingerprints": {q.spec.name: q.spec.fingerprint.hex() for q in QUERIES},
}))
"""

HELPERS = """\
FACTOR = 2


def scale(n):
    return n * 10
"""

PACKAGE = """\
def count(text):
    return len(text.split())
"""

ALL = [
    "caller", "constant", "direct", "leaf", "method", "module", "nested", "package", "prop",
    "recursive", "stdlib", "top", "transitive",
]  # fmt: skip


class Program:
    """The program's files in ``tmp_path``, its cache, and a way to run it."""

    def __init__(self, tmp_path: Path) -> None:
        self.folder = tmp_path / "program"
        self.site = tmp_path / "site-packages"
        self.db = tmp_path / "cache.db"
        self.folder.mkdir()
        (self.site / "fakepkg").mkdir(parents=True)
        self.write("prog.py", PROGRAM)
        self.write("helpers.py", HELPERS)
        (self.site / "fakepkg" / "__init__.py").write_text(PACKAGE)
        self.set_package_version("1.0")

    def write(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text)

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.folder / name if name != "fakepkg" else self.site / "fakepkg" / "__init__.py"
        text = path.read_text()
        assert text.count(old) == 1, f"{old!r} is not once in {name}"
        path.write_text(text.replace(old, new))

    def set_package_version(self, version: str) -> None:
        for old in self.site.glob("fakepkg-*.dist-info"):
            (old / "METADATA").unlink()
            old.rmdir()
        info = self.site / f"fakepkg-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: fakepkg\nVersion: {version}\n"
        )

    def run(self, hash_seed: str = "0") -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, str(self.folder / "prog.py"), str(self.db)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.folder,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(self.site), *PYTHONPATH]),
                # An edit within the same second must not load stale bytecode.
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": hash_seed,
            },
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]


def edited_then_run(tmp_path: Path, name: str, old: str, new: str) -> list[str]:
    """Run the program, make one edit, run it again: the bodies that executed."""
    program = Program(tmp_path)
    assert program.run()["executed"] == ALL
    program.edit(name, old, new)
    return program.run()["executed"]  # type: ignore[no-any-return]


def test_a_restart_without_edits_executes_nothing_under_another_hash_seed(tmp_path: Path) -> None:
    """Stable across processes: a set literal in code (``w not in {"and", "or"}``)
    is a frozenset constant whose order depends on ``PYTHONHASHSEED``; the
    fingerprint does not."""
    program = Program(tmp_path)
    first = program.run(hash_seed="1")
    second = program.run(hash_seed="2")
    assert first["executed"] == ALL
    assert second["executed"] == []
    assert second["fingerprints"] == first["fingerprints"]
    assert second["values"] == first["values"]


def test_editing_a_helper_re_executes_its_caller(tmp_path: Path) -> None:
    executed = edited_then_run(tmp_path, "prog.py", "return value.upper()", "return value.title()")
    assert executed == ["direct"]


def test_editing_a_transitively_reached_helper_re_executes_its_caller(tmp_path: Path) -> None:
    executed = edited_then_run(tmp_path, "prog.py", "return word.lower()", "return word.casefold()")
    assert executed == ["transitive"]


def test_editing_a_module_level_constant_re_executes_its_reader(tmp_path: Path) -> None:
    assert edited_then_run(tmp_path, "prog.py", "LONG = 3", "LONG = 4") == ["constant"]


def test_editing_a_frozenset_constant_re_executes_its_reader(tmp_path: Path) -> None:
    executed = edited_then_run(tmp_path, "prog.py", '{"the", "a", "of"}', '{"the", "a", "an"}')
    assert executed == ["constant"]


def test_editing_a_method_re_executes_the_query_that_uses_the_class(tmp_path: Path) -> None:
    executed = edited_then_run(
        tmp_path, "prog.py", "return self.side * self.side", "return self.side**2 + 0"
    )
    assert executed == ["method", "prop"]  # both use Shape: a class counts as a whole


def test_editing_a_property_re_executes_the_query_that_reads_it(tmp_path: Path) -> None:
    assert edited_then_run(tmp_path, "prog.py", "4 * self.side", "self.side * 4") == [
        "method",
        "prop",
    ]


def test_editing_a_helper_in_another_module_re_executes_its_caller(tmp_path: Path) -> None:
    assert edited_then_run(tmp_path, "helpers.py", "n * 10", "n * 11") == ["module"]


def test_editing_a_constant_in_another_module_re_executes_its_reader(tmp_path: Path) -> None:
    assert edited_then_run(tmp_path, "helpers.py", "FACTOR = 2", "FACTOR = 3") == ["module"]


def test_editing_one_of_two_mutually_recursive_helpers_re_executes_the_caller(
    tmp_path: Path,
) -> None:
    executed = edited_then_run(
        tmp_path,
        "prog.py",
        "return False if n == 0 else even(n - 1)",
        "return n != 0 and even(n - 1)",
    )
    assert executed == ["recursive"]


def test_editing_a_decorated_helper_called_from_a_lambda_re_executes_the_query(
    tmp_path: Path,
) -> None:
    assert edited_then_run(tmp_path, "prog.py", "return word[::-1]", "return word[::-1][:]") == [
        "nested"
    ]


def test_editing_an_unrelated_function_or_moving_lines_executes_nothing(tmp_path: Path) -> None:
    program = Program(tmp_path)
    program.run()
    program.edit("prog.py", "return word * 2", "return word * 3")
    program.edit("prog.py", "executed = Counter()", "# a comment\n\n\nexecuted = Counter()")
    assert program.run()["executed"] == []


def test_an_installed_package_counts_by_its_version_not_its_source(tmp_path: Path) -> None:
    program = Program(tmp_path)
    first = program.run()
    program.edit("fakepkg", "return len(text.split())", "return len(text.split(' '))")
    assert program.run()["executed"] == []  # same version: its source is not read
    program.set_package_version("1.1")
    upgraded = program.run()
    assert upgraded["executed"] == ["package"]
    others = {name for name in first["fingerprints"] if name != "fp.package"}
    assert {n: upgraded["fingerprints"][n] for n in others} == {
        n: first["fingerprints"][n] for n in others
    }


def test_editing_a_called_query_leaves_its_callers_fingerprints_alone(tmp_path: Path) -> None:
    """Another query is a name in its callers' fingerprints, not code: editing it
    discards its own memos only. That counts as a change, so its callers are
    verified (and here re-executed), but their stored memos are not discarded."""
    program = Program(tmp_path)
    first = program.run()
    program.edit("prog.py", "return len(text(db))", "return len(str(text(db)))")
    edited = program.run()
    assert {"caller", "leaf"} <= set(edited["executed"]) <= {"caller", "leaf", "top"}
    assert edited["fingerprints"]["fp.leaf"] != first["fingerprints"]["fp.leaf"]
    for name in ("fp.caller", "fp.top"):
        assert edited["fingerprints"][name] == first["fingerprints"][name]
    assert program.run()["executed"] == []


# -- in one process ---------------------------------------------------------------

LIMIT = 7


def ping(n: int) -> int:
    return 0 if n <= 0 else pong(n - 1) + LIMIT


def pong(n: int) -> int:
    return 0 if n <= 0 else ping(n - 1)


def test_mutual_recursion_terminates_and_each_helper_is_folded_once() -> None:
    def body(db: Any, n: int) -> int:
        return ping(n)

    trace: list[tuple[str, str]] = []
    digest = fingerprint(body, None, trace)
    assert digest == fingerprint(body, None)
    nodes = [data for tag, data in trace if tag == "node"]
    assert len(nodes) == 3  # body, ping, pong: each expanded once
    assert ("leaf", "plain " + _plain(7)) in trace  # LIMIT, read by ping


def test_a_stdlib_call_folds_python_s_version_not_the_stdlib_source() -> None:
    def body(db: Any, text: str) -> str:
        return textwrap.shorten(text, width=10) + os.path.join("a", "b")

    trace: list[tuple[str, str]] = []
    fingerprint(body, None, trace)
    assert [tag for tag, _ in trace].count("node") == 1  # only the body is walked
    leaves = {data for tag, data in trace if tag == "leaf"}
    python = f"python {sys.implementation.cache_tag}"
    assert f"{python} module textwrap" in leaves
    assert f"{python} module os" in leaves


class Point(NamedTuple):
    x: int
    y: int


def test_pickling_a_value_of_a_reached_class_leaves_the_fingerprint_alone() -> None:
    """Pickling a named tuple caches ``__slotnames__`` on its class (copyreg): a
    commit pickles a query's value, so a fingerprint that folded it differed
    between the process that committed and the next, discarding the memos of
    every query returning a record of its own module on every second run."""

    def body(db: Any) -> Point:
        return Point(1, 2)

    before = fingerprint(body, None)
    pickle.dumps(Point(1, 2))
    assert "__slotnames__" in Point.__dict__
    assert fingerprint(body, None) == before


class Unreadable:
    """An object whose ``__dict__`` raises: the walk reads ``__dict__`` for
    ``__wrapped__``, and must not fail a commit over it."""

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        raise RuntimeError("no attributes here")


UNREADABLE = Unreadable()


def test_an_object_that_cannot_be_read_does_not_fail_the_fingerprint() -> None:
    def body(db: Any) -> object:
        return UNREADABLE

    trace: list[tuple[str, str]] = []
    digest = fingerprint(body, None, trace)
    assert digest == fingerprint(body, None)
    assert ("unreadable", "RuntimeError") in trace


def test_sofrito_counts_by_the_version_imported() -> None:
    text = sf.Input("fingerprint.text")

    def body(db: Any) -> object:
        return text(db)

    trace: list[tuple[str, str]] = []
    fingerprint(body, None, trace)
    assert ("leaf", f"value of sofrito {sf.__version__} sofrito.Input") in trace
    assert [tag for tag, _ in trace].count("node") == 1  # sofrito's code is not walked


def test_declaring_a_query_does_not_import_the_fingerprint_walk() -> None:
    code = textwrap.dedent(
        """
        import sys
        import sofrito as sf

        @sf.query
        def q(db, x):
            return x

        rt = sf.Runtime()
        assert q(rt, 1) == 1
        assert "sofrito._fingerprint" not in sys.modules, "imported at declaration"
        q.spec.fingerprint
        assert "sofrito._fingerprint" in sys.modules
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_fingerprint_is_computed_once_per_query() -> None:
    calls: list[int] = []

    def helper() -> int:
        calls.append(1)
        return 1

    @sf.query(name="fingerprint.once")
    def once(db: Any) -> int:
        return helper()

    first = once.spec.fingerprint
    assert once.spec.fingerprint is first


def _plain(value: Any) -> str:
    from sofrito import _canonical

    raw = _canonical.encode(value, _canonical.Policy(mutable_containers=False, objects=False))
    return raw.decode("utf-8", "backslashreplace")
