"""Query fingerprints: one digest of the code a query reaches, for the store.

A stored memo is served after a restart only when its query's fingerprint is
the one of the code loaded now (``_persistence.py``), so the fingerprint must
change whenever an edit could change what the query returns. Its body alone
is not enough: a query calls helpers, which call other helpers, and reads
module-level constants. This module folds into one BLAKE2b digest:

- the query's ``version=``;
- the code of every function it reaches in **the program's own modules**,
  transitively: bytecode, exception table, constants (nested code objects:
  lambdas, comprehensions, inner functions and classes), the names it uses,
  argument and local names, flags, defaults and closure cells;
- every class it reaches there: its attributes in name order (methods,
  properties, static and class methods, class constants, nested classes), its
  bases and metaclass; enum members with their values; for an instance of such
  a class, the class (not the instance's state);
- the value of each module-level constant of a plain type it reads (None,
  bool, int, float, str, bytes, tuples and frozensets of those), and of
  immutable records of them (named tuples, frozen dataclasses);
- for everything from the standard library or an installed package, only a
  version: ``sys.implementation.cache_tag`` (``cpython-311``: the bytecode and
  the standard library change with it) or the distribution's version from
  ``importlib.metadata``. sofrito itself counts by its version.

**What reaches what.** A code object's ``co_names`` lists the globals it loads
*and* the attributes it reads, without saying which is which. Each name is
looked up in the function's ``__globals__`` (then ``builtins``); where one
resolves to a program module (``import helpers``), every name is looked up in
that module too, so ``helpers.fn`` and ``mod.CONST`` are followed, and
``pkg.sub.fn`` through each module in turn. Treating every attribute name as a
possible global over-approximates: an attribute that shares its name with a
global makes the global part of the fingerprint. The cost is an extra
re-execution after an edit, never a stale value. Reading the bytecode with
``dis`` would be exact about globals, but its instructions change from one
Python version to the next; ``co_names`` does not.

**Other queries are names, not code.** A query that calls another records it
as a dependency at run time, and that query has its own fingerprint: edit it,
and its memos are discarded on load, which counts as a change, so its callers
are verified and re-execute only if its value changed. Folding its code into
its callers would instead discard every transitive caller on any edit of a
leaf, defeating early cutoff across restarts.

**One walk, a graph in discovery order.** Helpers may be mutually recursive,
so a digest per function (a Merkle tree) is not defined. The walk is a
breadth-first traversal with a worklist: each object that needs expanding is
numbered when first met, a reference to it folds its number, and its contents
are folded when its turn comes. The numbering follows ``co_names``, constants
and attributes sorted by name, so it is the same in every process, and no
``id()``, ``hash()`` or memory address reaches the digest. Cycles terminate
because an object is numbered once; deep chains do not recurse.

**Not folded.** Line numbers and file names: a comment, a blank line, or code
moved elsewhere in the file leaves the fingerprint unchanged; a docstring is a
constant of its code and counts. Values read through mutable globals (dicts,
lists, instances' state), files read behind sofrito's back, environment
variables: declare those as inputs, or bump ``version=``.

**When.** Computed on first use, when a memo row is committed or restored
(``QuerySpec.fingerprint`` caches it), not at declaration: a helper may be
defined below the query that calls it. Declaring a query and the memo hit
never import this module.

Options turned down: hashing each module's source text (any edit in a module,
even a comment or an unrelated function, would discard every memo of every
query in it); folding called queries' code (above); ``dis`` (above).
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import functools
import hashlib
import os
import sys
import types
import weakref
from typing import Any, Final

from sofrito import _canonical
from sofrito._engine.spec import QuerySpec
from sofrito._version import __version__

__all__ = ["fingerprint"]

FORMAT: Final = b"sofrito.fingerprint.v2"
"""Mixed into every digest: a change to what this module folds changes it."""

_PLAIN: Final = _canonical.Policy(mutable_containers=False, objects=False)
_PLAIN_TYPES: Final = frozenset({type(None), bool, int, float, str, bytes, tuple, frozenset})
_MISSING: Final[Any] = object()

_CLASS_SKIPPED: Final = frozenset(
    {"__dict__", "__weakref__", "__module__", "__qualname__", "__firstlineno__", "__slotnames__"}
)
"""Class attributes that are not behaviour: where the class is, not what it does;
and ``__slotnames__``, which ``copyreg`` caches on a class the first time one of
its instances is pickled (a commit pickling a value would change the digest)."""

_NATIVE_CALLABLES: Final = (
    types.BuiltinFunctionType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.MethodWrapperType,
)
_WRAPPERS: Final = (
    types.MethodType,
    functools.partial,
    staticmethod,
    classmethod,
    property,
    functools.cached_property,
)
"""Objects that hold functions: expanded to what they hold."""

_PYTHON: Final = f"python {sys.implementation.cache_tag}"
_STDLIB: Final = os.path.dirname(os.__file__)
_origins: dict[tuple[str, str | None], str | None] = {}
_versions: dict[str, str] = {}
_codes: weakref.WeakKeyDictionary[types.CodeType, tuple[bytes, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)


def fingerprint(fn: Any, version: str | None, trace: list[tuple[str, str]] | None = None) -> bytes:
    """The digest of the code ``fn`` (a query's body) reaches, and ``version``.

    ``trace``, when given, receives every record folded, as ``(tag, data)``
    text: what a test or a puzzled user reads to see what a query reaches.
    """
    walk = _Walk(trace)
    walk.put(b"version", repr(version).encode())
    walk.ref(fn)
    walk.run()
    return hashlib.blake2b(walk.out, digest_size=16).digest()


class _Walk:
    """One traversal: the records folded so far (hashed once, at the end: one
    ``update`` per record cost more than the walk), and the objects numbered."""

    def __init__(self, trace: list[tuple[str, str]] | None) -> None:
        self.trace = trace
        self.out = bytearray(FORMAT)
        self.numbers: dict[int, int] = {}
        self.queue: list[Any] = []
        """Objects to expand, in discovery order; also keeps them alive, so
        that no ``id`` in ``numbers`` is reused during the walk."""

    def put(self, tag: bytes, data: bytes) -> None:
        """Fold one record; length-prefixed, so records never run together."""
        out = self.out
        out += tag
        out += len(data).to_bytes(4, "big")
        out += data
        if self.trace is not None:
            self.trace.append((tag.decode(), data.decode("utf-8", "backslashreplace")))

    def run(self) -> None:
        at = 0
        while at < len(self.queue):
            self.put(b"node", at.to_bytes(4, "big"))
            try:
                self._expand(self.queue[at])
            except Exception as exc:  # an object that resists reading: never fail a commit
                self.put(b"unreadable", type(exc).__name__.encode())
            at += 1

    def ref(self, obj: Any) -> None:
        """Fold a reference to ``obj``: a leaf inline, anything else by number."""
        leaf = _leaf(obj)
        if leaf is not None:
            self.put(b"leaf", leaf)
            return
        number = self.numbers.get(id(obj))
        if number is None:
            number = self.numbers[id(obj)] = len(self.queue)
            self.queue.append(obj)
        self.put(b"ref", number.to_bytes(4, "big"))

    def _expand(self, obj: Any) -> None:
        if isinstance(obj, types.FunctionType):
            self._function(obj)
        elif isinstance(obj, type):
            self._class(obj)
        else:
            self._value(obj)
        wrapped = _own_attribute(obj, "__wrapped__")
        if wrapped is not _MISSING:  # a decorated function: the function it wraps
            self.put(b"wraps", b"")
            self.ref(wrapped)

    def _value(self, obj: Any) -> None:
        """An object that is neither a function nor a class, but holds some."""
        if isinstance(obj, enum.Enum):
            self.put(b"member", obj.name.encode())
            self.ref(type(obj))
            self.ref(obj._value_)
        elif isinstance(obj, tuple):  # named tuples, and tuples holding functions
            self.put(b"tuple", len(obj).to_bytes(4, "big"))
            self.ref(type(obj))
            for item in obj:
                self.ref(item)
        elif isinstance(obj, functools.partial):
            self.ref(obj.func)
            self.ref(obj.args)
            self._mapping(obj.keywords)
        elif isinstance(obj, types.MethodType):
            self.ref(obj.__func__)
            self.ref(obj.__self__)
        elif isinstance(obj, (staticmethod, classmethod)):
            self.put(b"wrapper", type(obj).__name__.encode())
            self.ref(obj.__func__)
        elif isinstance(obj, property):
            for accessor in (obj.fget, obj.fset, obj.fdel):
                self.ref(accessor)
        elif isinstance(obj, functools.cached_property):
            self.ref(obj.func)
        elif dataclasses.is_dataclass(obj) and _is_frozen(obj):
            self.ref(type(obj))
            for field in dataclasses.fields(obj):
                self.put(b"field", field.name.encode())
                self.ref(getattr(obj, field.name))
        else:  # an instance of a program class: its class, not its state
            self.put(b"instance", b"")
            self.ref(type(obj))

    def _function(self, fn: types.FunctionType) -> None:
        self._code(fn.__code__, fn.__globals__)
        self.ref(fn.__defaults__)
        self._mapping(fn.__kwdefaults__)
        for cell in fn.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # not bound yet
                self.put(b"empty cell", b"")
            else:
                self.ref(contents)

    def _code(self, code: types.CodeType, namespace: dict[str, Any]) -> None:
        """Fold one code object, its nested code, and what their names reach in
        ``namespace`` (nested code shares its function's globals)."""
        digest, names = _code_parts(code)
        self.put(b"code", digest)
        self._globals(names, namespace)

    def _globals(self, names: tuple[str, ...], namespace: dict[str, Any]) -> None:
        modules: list[types.ModuleType] = []
        for name in names:
            value = namespace.get(name, _MISSING)
            if value is _MISSING:
                value = builtins.__dict__.get(name, _MISSING)
            if value is _MISSING:
                continue  # an attribute name, or a global not bound (yet)
            self.put(b"global", name.encode())
            self.ref(value)
            if _is_program_module(value):
                modules.append(value)
        seen = {id(module) for module in modules}
        while modules:  # ``helpers.fn``, ``pkg.sub.CONST``: names read from program modules
            module = modules.pop(0)
            for name in names:
                value = module.__dict__.get(name, _MISSING)
                if value is _MISSING:
                    continue
                self.put(b"attribute", f"{module.__name__}.{name}".encode())
                self.ref(value)
                if _is_program_module(value) and id(value) not in seen:
                    seen.add(id(value))
                    modules.append(value)

    def _class(self, cls: type) -> None:
        self.put(b"class", cls.__qualname__.encode())
        for base in cls.__bases__:
            self.ref(base)
        self.ref(type(cls))
        if issubclass(cls, enum.Enum):
            for member in cls:  # members are instances: fold their values here too
                self.put(b"member", member.name.encode())
                self.ref(member._value_)
        for name in sorted(cls.__dict__):
            if name not in _CLASS_SKIPPED:
                self.put(b"attribute", name.encode())
                self.ref(cls.__dict__[name])

    def _mapping(self, mapping: dict[str, Any] | None) -> None:
        for name in sorted(mapping or ()):
            self.put(b"keyword", name.encode())
            self.ref(mapping[name])  # type: ignore[index]


def _code_parts(code: types.CodeType) -> tuple[bytes, tuple[str, ...]]:
    """A code object's own digest (nested code included) and every name it and
    its nested code use, in order; cached, since code objects never change and
    queries share their helpers."""
    parts = _codes.get(code)
    if parts is None:
        out = bytearray()
        names: dict[str, None] = {}
        _serialize_code(out, names, code)
        parts = _codes[code] = (hashlib.blake2b(out, digest_size=16).digest(), tuple(names))
    return parts


def _serialize_code(out: bytearray, names: dict[str, None], code: types.CodeType) -> None:
    for part in (
        code.co_code,
        getattr(code, "co_exceptiontable", b""),
        _ints(code.co_flags, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount),
        _strings(code.co_names),
        _strings(code.co_varnames),
        _strings(code.co_cellvars + code.co_freevars),
    ):
        out += _sized(part)
    names.update(dict.fromkeys(code.co_names))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out += b"nested"
            _serialize_code(out, names, const)
        else:
            out += b"const"
            out += _sized(_constant(const))
    out += b"end"


def _leaf(obj: Any) -> bytes | None:
    """What ``obj`` folds as when it needs no expanding; None when it does."""
    if obj is None:  # defaults and closures of most functions
        return b"plain none"
    kind = type(obj)
    if kind in _PLAIN_TYPES:
        try:
            return b"plain " + _canonical.encode(obj, _PLAIN)
        except _canonical.Unencodable:
            if kind is frozenset:  # of other things: no order to fold them in
                return b"frozenset of other values"
            return None  # a tuple holding functions, classes, ...: expanded
    if kind is types.FunctionType:
        spec = obj.__dict__.get("spec")
        if isinstance(spec, QuerySpec):  # another query: its own fingerprint covers it
            return b"query " + spec.name.encode()
        # A function made by ``exec`` may name no module: walked, to be safe.
        origin = _origin(obj.__module__) if obj.__module__ else None
        if origin is None:
            return None
        return f"{origin} {obj.__module__}.{obj.__qualname__}".encode()
    if kind is types.ModuleType:
        origin = _origin(obj.__name__)
        return f"{origin or 'program'} module {obj.__name__}".encode()
    if isinstance(obj, type):
        origin = _origin(obj.__module__)
        if origin is None:
            return None
        return f"{origin} {obj.__module__}.{obj.__qualname__}".encode()
    return _other_leaf(obj, kind)


def _other_leaf(obj: Any, kind: type) -> bytes | None:
    """``_leaf`` for what is not plain, a function, a module or a class."""
    if kind in _NATIVE_CALLABLES:  # code in C: it counts by its module's version
        native = _origin(getattr(obj, "__module__", None)) or "program"
        return f"{native} {getattr(obj, '__qualname__', kind.__name__)}".encode()
    if isinstance(obj, enum.Enum) or (dataclasses.is_dataclass(obj) and _is_frozen(obj)):
        return None
    if isinstance(obj, _WRAPPERS):
        return None
    if isinstance(obj, tuple) or _own_attribute(obj, "__wrapped__") is not _MISSING:
        return None
    origin = _origin(kind.__module__)
    if origin is None:
        return None  # an instance of a program class: expanded to its class
    # A value of a library type (a dict, a list, an Input, ...): its state is
    # not covered, only its type.
    return f"value of {origin} {kind.__module__}.{kind.__qualname__}".encode()


def _is_program_module(value: Any) -> bool:
    return type(value) is types.ModuleType and _origin(value.__name__) is None


def _is_frozen(obj: Any) -> bool:
    params = getattr(type(obj), "__dataclass_params__", None)
    return not isinstance(obj, type) and params is not None and bool(params.frozen)


def _own_attribute(obj: Any, name: str) -> Any:
    """``obj.name`` if set on the object itself; never runs ``__getattr__``
    (a proxy could answer any name with a fresh object, forever)."""
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return _MISSING
    return namespace.get(name, _MISSING) if isinstance(namespace, dict) else _MISSING


def _constant(const: Any) -> bytes:
    """A code constant's bytes: canonical where plain (frozensets sorted, so
    ``x in {"a", "b"}`` folds the same under every ``PYTHONHASHSEED``)."""
    try:
        return _canonical.encode(const, _PLAIN)
    except _canonical.Unencodable:  # complex, Ellipsis, or a tuple holding them
        if isinstance(const, tuple):
            return b"tuple " + b"".join(_sized(_constant(item)) for item in const)
        if isinstance(const, frozenset):
            return b"frozenset " + b"".join(sorted(_sized(_constant(item)) for item in const))
        return f"{type(const).__qualname__} {const!r}".encode()


def _sized(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _ints(*values: int) -> bytes:
    return b"".join(value.to_bytes(8, "big", signed=True) for value in values)


def _strings(names: tuple[str, ...]) -> bytes:
    return b"".join(_sized(name.encode("utf-8", "surrogatepass")) for name in names)


def _origin(module_name: str | None) -> str | None:
    """Where a module's code comes from: None for the program's own modules,
    else the version it counts by (Python's, sofrito's, a distribution's)."""
    if not module_name or not isinstance(module_name, str):
        return _PYTHON
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        file = None
    key = (module_name, file)
    if key not in _origins:
        _origins[key] = _classify(module_name, file)
    return _origins[key]


def _classify(module_name: str, file: str | None) -> str | None:
    top = module_name.partition(".")[0]
    if top == "sofrito":  # the sofrito imported, whatever is installed
        return f"sofrito {__version__}"
    if file is None:  # built into the interpreter, or a namespace package
        stdlib = top in sys.stdlib_module_names or module_name in sys.builtin_module_names
        return _PYTHON if stdlib else None
    path = os.path.realpath(file)
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return f"package {top} {_distribution_version(top)}"
    if path.startswith(os.path.realpath(_STDLIB) + os.sep):
        return _PYTHON
    return None


def _distribution_version(top: str) -> str:
    """The version of the distribution that installs the top-level package
    ``top``, cached: an upgrade of it changes the fingerprints that reach it.

    Read from the ``NAME-VERSION.dist-info`` folders on ``sys.path`` first:
    importing ``importlib.metadata`` costs more (15 ms) than a warm start may
    spend, and is only needed when the import name is not the distribution's
    (``yaml`` from PyYAML).
    """
    if top not in _versions:
        found = _dist_infos().get(_normalized(top))
        if found is None:
            from importlib import metadata  # noqa: PLC0415 (rarely: see above)

            names = metadata.packages_distributions().get(top, [])
            found = ",".join(sorted(f"{name}=={metadata.version(name)}" for name in names))
        if not found:
            found = str(getattr(sys.modules.get(top), "__version__", "unknown"))
        _versions[top] = found
    return _versions[top]


@functools.cache
def _dist_infos() -> dict[str, str]:
    """Distribution name (normalized) to version, the first on ``sys.path`` winning."""
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            entries = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        for entry in entries:
            if entry.endswith(".dist-info"):
                name, _, version = entry[: -len(".dist-info")].partition("-")
                found.setdefault(_normalized(name), version)
    return found


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")
