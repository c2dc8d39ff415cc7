"""The engine's boundary: nothing outside ``sofrito._engine`` writes an engine
record, and the engine imports nothing from ``sofrito.stores`` at run time.

Checked on the source, as the package is laid out: a write to an engine
record from outside (``memo.verified_at = ...``, ``engine.tables.clear()``)
is the thing the boundary forbids, whatever its effect in a given run, so
the test reads every module and names each such line. The records' fields
are taken from the classes themselves, so a new field is covered at once.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import sofrito
from sofrito._engine.journal import Journal
from sofrito._engine.local import Batch, Reader
from sofrito._engine.memo import Cell, Memo
from sofrito._engine.revision import Revisions
from sofrito._engine.state import Engine

PACKAGE = Path(sofrito.__file__).parent
ENGINE = PACKAGE / "_engine"

_MUTATORS = frozenset(
    {"clear", "add", "discard", "pop", "popitem", "setdefault", "update", "append", "extend"}
)


def _fields() -> frozenset[str]:
    """The fields of every engine record: its slots, or what its ``__init__`` sets."""
    names: set[str] = set()
    for record in (Memo, Cell, Revisions, Reader, Batch, Journal, Engine):
        names.update(_declared_fields(record))
    return frozenset(names)


def _declared_fields(record: type) -> set[str]:
    """Read from the record's source: a class compiled by mypyc keeps its fields
    in C, with neither ``__slots__`` nor ``__dict__`` to ask at run time."""
    source = Path(sys.modules[record.__module__].__file__ or "")
    source = source.with_name(source.name.split(".")[0] + ".py")
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ClassDef) and node.name == record.__name__:
            return _slots_or_init_fields(node)
    raise AssertionError(f"class {record.__name__} not found in {source}")


def _slots_or_init_fields(cls: ast.ClassDef) -> set[str]:
    for statement in cls.body:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.targets[0], ast.Name)
            and statement.targets[0].id == "__slots__"
        ):
            return set(ast.literal_eval(statement.value))
    fields: set[str] = set()
    for statement in cls.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == "__init__":
            for node in ast.walk(statement):
                target = node.target if isinstance(node, ast.AnnAssign) else None
                targets = node.targets if isinstance(node, ast.Assign) else [target]
                for each in targets:
                    if (
                        isinstance(each, ast.Attribute)
                        and isinstance(each.value, ast.Name)
                        and each.value.id == "self"
                    ):
                        fields.add(each.attr)
    assert fields, f"no fields found for class {cls.name}"
    return fields


NOT_RECORDS = {
    "_entry_points.py: entry.spec": "the generated entry point's own attribute, not Memo.spec",
    "_on_demand.py: pending.deps": "settle's own record of stored edges by id, not Memo.deps",
}
"""Writes the check matches by name that are not to an engine record, and why."""


def _outside_modules() -> list[Path]:
    """Modules outside the engine that import from it: only they hold its records."""
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if ENGINE not in path.parents and "sofrito._engine" in path.read_text()
    )


def _record_writes(path: Path, fields: frozenset[str], root: Path = PACKAGE) -> list[str]:
    """Lines of ``path`` that assign to, or mutate in place, a field named like an
    engine record's, on anything but ``self`` (a class's own fields are its own)."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []

    def owner_is_self(node: ast.expr) -> bool:
        while isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        return isinstance(node, ast.Name) and node.id == "self"

    def check_target(target: ast.expr, line: int) -> None:
        if isinstance(target, ast.Tuple):
            for element in target.elts:
                check_target(element, line)
            return
        while isinstance(target, ast.Subscript):
            target = target.value  # engine.cells[input] = ...: a write to engine.cells
        if (
            isinstance(target, ast.Attribute)
            and target.attr in fields
            and not owner_is_self(target)
        ):
            found.append(f"{path.relative_to(root)}:{line}: {ast.unparse(target)}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                check_target(target, node.lineno)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            check_target(node.target, node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MUTATORS
        ):
            receiver = node.func.value
            while isinstance(receiver, ast.Subscript):
                receiver = receiver.value
            if (
                isinstance(receiver, ast.Attribute)
                and receiver.attr in fields
                and not owner_is_self(receiver)
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_outside_the_engine_writes_an_engine_record() -> None:
    fields = _fields()
    writes = [
        line
        for path in _outside_modules()
        for line in _record_writes(path, fields)
        if line.split(":", 1)[0] + ": " + line.split(": ", 1)[1] not in NOT_RECORDS
    ]
    assert writes == []


def test_the_check_finds_a_write_from_outside(tmp_path: Path) -> None:
    """The check above is not vacuous: writes like the ones restoring used to make are found."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def fill(memo, engine, row):\n"
        "    memo.verified_at = row.verified_at\n"
        "    engine.tables.clear()\n"
        "    engine.cells[row.input][row.key] = row\n"
        "    other = memo\n"
        "    other.dirty_at, x = 3, 4\n"
        "    self.value = 1\n"
    )
    writes = _record_writes(probe, _fields(), root=tmp_path)
    assert sorted(w.split(": ", 1)[1] for w in writes) == [
        "engine.cells",
        "engine.tables.clear()",
        "memo.verified_at",
        "other.dirty_at",
    ]


def _runtime_imports(path: Path) -> list[str]:
    """Modules ``path`` imports when it runs (not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(), str(path))
    imported: list[str] = []

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.If) and ast.unparse(statement.test) == "TYPE_CHECKING":
                visit(statement.orelse)
                continue
            for node in ast.walk(statement):
                if isinstance(node, ast.Import):
                    imported.extend(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module is not None:
                    imported.append(node.module)

    visit(tree.body)
    return imported


def test_the_engine_imports_nothing_from_the_stores_at_run_time() -> None:
    offending = {
        path.name: module
        for path in sorted(ENGINE.glob("*.py"))
        for module in _runtime_imports(path)
        if module == "sofrito.stores" or module.startswith("sofrito.stores.")
    }
    assert offending == {}


def test_the_lifecycle_enum_is_one_class_under_its_public_name() -> None:
    from sofrito._runtime_state import RuntimeState

    assert sofrito.stores.RuntimeState is RuntimeState
    assert RuntimeState.__module__ == "sofrito.stores"
    assert RuntimeState("retired") is RuntimeState.RETIRED
