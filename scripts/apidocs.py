"""Build the API reference from the docstrings with pdoc, and check it.

    python scripts/apidocs.py [OUT [MODULE ...]]   (default: build/api, the public modules)

The reference covers the public modules, ``sofrito``, ``sofrito.stores`` and
``sofrito.subscriptions``, and nothing else: their ``__all__`` is the API.
pdoc (https://pdoc.dev) reads the docstrings of the imported package, so
what it shows is what ``help()`` shows, with no second copy to keep in step.

The build fails (exit 1, each problem on a line of its own) when:

- pdoc cannot import or document one of the modules;
- a name in a module's ``__all__`` is missing from that module's page;
- a public name has no docstring of its own. A class that only inherits
  its base's docstring, or a dataclass with the signature that
  ``@dataclass`` writes, counts as none: the reader would learn nothing
  about *this* name. A constant or alias is documented by a string literal
  right after its assignment, which pdoc reads from the source.

pdoc's warnings about annotations it cannot evaluate (names imported only
for type checkers) are not failures: the page then shows the annotation as
written, which reads the same.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import itertools
import re
import sys
import types
import warnings
from collections.abc import Sequence
from pathlib import Path

import pdoc
import pdoc.doc
import pdoc.render

MODULES = ("sofrito", "sofrito.stores", "sofrito.subscriptions")
# pdoc's warnings that mean a module was not documented at all.
FATAL_WARNINGS = ("Error importing", "Error loading", "Cannot find spec")


def borrow_variable_docstrings(module: pdoc.doc.Module) -> None:
    """Give a re-exported constant or alias the docstring it has where it is defined.

    pdoc reads a variable's docstring from the source of the module that
    documents it, and sofrito defines ``PENDING``, ``Drop`` and the like in
    private modules, with their docstrings, then re-exports them. Without
    this the public page would show them bare; with it the docstring stays
    in one place. ``pdoc.pdoc`` builds its pages from the same (cached)
    ``Module.from_name`` objects, and ``check`` looks for the docstring on
    the page, so a pdoc that stopped sharing them would fail loudly.
    """
    root = module.modulename.partition(".")[0]
    for name, member in module.members.items():
        if not isinstance(member, pdoc.doc.Variable) or member.docstring:
            continue
        value = getattr(module.obj, name)
        for other in list(sys.modules.values()):
            if (
                isinstance(other, types.ModuleType)
                and other is not module.obj
                and other.__name__.startswith(f"{root}.")
                and getattr(other, name, None) is value
                and (docstring := variable_docstrings(other).get(name))
            ):
                member.docstring = docstring
                break


def variable_docstrings(module: types.ModuleType) -> dict[str, str]:
    """``NAME = ...`` followed by a string literal, in the module's source.

    Read from the ``.py`` file beside the module, so that it works for a
    module compiled by mypyc too (the wheel ships the source beside the
    extension, and ``inspect`` finds no source for an extension).
    """
    file = getattr(module, "__file__", None)
    if file is None:
        return {}
    path = Path(file)
    source = path.with_name(path.name.partition(".")[0] + ".py")
    if not source.is_file():
        return {}
    body = ast.parse(source.read_text(encoding="utf-8")).body
    found: dict[str, str] = {}
    for statement, after in itertools.pairwise(body):
        targets: list[ast.expr]
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        if not (
            isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = inspect.cleandoc(after.value.value)
    return found


def resolve_lazy_names(module: types.ModuleType) -> None:
    """Import the names of ``__all__`` that the module imports on first use.

    pdoc documents what is in the module's ``__dict__``, and a name served by
    a module ``__getattr__`` (``sofrito.stores.SqliteStore``, which keeps
    sqlite3 out of ``import sofrito``) is not there until someone asks for it.
    """
    for public in getattr(module, "__all__", ()):
        getattr(module, public)


def build(out: Path, modules: Sequence[str] = MODULES) -> list[str]:
    """Write the pages into ``out``; return pdoc's fatal warnings."""
    pdoc.render.configure(docformat="restructuredtext", search=True, show_source=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in modules:
            try:
                resolve_lazy_names(importlib.import_module(name))
                borrow_variable_docstrings(pdoc.doc.Module.from_name(name))
            except Exception as exc:  # pdoc reports the import error below
                warnings.warn(f"Error importing {name}: {exc!r}", stacklevel=1)
        try:
            pdoc.pdoc(*modules, output_directory=out)
        except Exception as exc:
            return [f"pdoc: {exc}"]
    return [
        f"pdoc: {w.message}"
        for w in caught
        if any(str(w.message).startswith(prefix) for prefix in FATAL_WARNINGS)
    ]


def own_docstring(doc: pdoc.doc.Doc[object]) -> str:
    """The docstring the name itself carries, not one it inherits."""
    if isinstance(doc, pdoc.doc.Class):
        own = doc.obj.__dict__.get("__doc__") or ""
        if dataclasses.is_dataclass(doc.obj) and not doc.docstring:
            return ""  # the signature @dataclass wrote, which pdoc hides too
        return own.strip() and doc.docstring
    return doc.docstring


def check(out: Path, modules: Sequence[str] = MODULES) -> list[str]:
    """Every name of every module's ``__all__`` is on its page, with a docstring."""
    problems: list[str] = []
    for name in modules:
        module = importlib.import_module(name)
        page = out / (name.replace(".", "/") + ".html")
        if not page.is_file():
            problems.append(f"{name}: no page at {page}")
            continue
        html = page.read_text(encoding="utf-8")
        documented = pdoc.doc.Module.from_name(name)
        for public in module.__all__:
            doc = documented.get(public)
            where = f"{name}.{public}"
            if doc is None or f'id="{public}"' not in html:
                problems.append(f"{where}: in __all__ but not on {page}")
            elif not (docstring := own_docstring(doc)):
                problems.append(f"{where}: no docstring of its own; say what it is for")
            elif _first_words(docstring) not in html:
                problems.append(f"{where}: its docstring is not on {page}")
    return problems


def _first_words(docstring: str) -> str:
    """A stretch of plain words from the docstring, as the page's HTML shows them."""
    words: list[str] = re.findall(r"[A-Za-z]+(?: [A-Za-z]+)*", docstring)
    return max(words, key=len, default="")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path("build/api")
    modules = tuple(argv[2:]) or MODULES
    problems = build(out, modules)
    if not problems:
        problems = check(out, modules)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"API reference: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"API reference: {out / 'index.html'} ({', '.join(modules)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
