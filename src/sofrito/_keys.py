"""Canonical key bytes and a deterministic 64-bit key hash.

Events and the store name a query call by its key, across processes and
machines, so a key needs bytes that are the same everywhere. Python's
``hash()`` is salted per process for str and bytes, and ``pickle`` is neither
canonical nor safe to read. So keys use the type-tagged, length-prefixed
encoding of ``_canonical``, which the safe value codec shares. This module
owns the key rules on top of it:

- **Which parts**: None, bool, int, float, str, bytes, tuples and frozensets of
  those, enum members and frozen dataclasses of those. Exact types only: a
  ``str`` subclass or a namedtuple is refused rather than silently turned into
  its base type, because it would decode as something else.
- **Types are part of the key**. ``1``, ``1.0`` and ``True`` are equal in
  Python (and hash alike) but encode differently, as do ``"a"``, ``b"a"`` and
  ``("a",)``. A program that calls ``q(1)`` and then ``q(True)`` may get one
  memo in the runtime's table; its bytes are those of whichever call came
  first. Keep key types consistent.
- **Floats are bit-exact**: ``0.0`` and ``-0.0`` are different keys, and a NaN
  is encoded by its bits (every ``float("nan")`` has the same bits, so it is
  one key). Decoding gives back the very same float.
- **Frozensets are sorted** by the encodings of their members, so the bytes
  do not depend on iteration order, which depends on ``PYTHONHASHSEED``.
- **Enums and frozen dataclasses** are named by ``module:qualname`` (plus the
  member name, or the fields in declaration order). Decoding them needs the
  class, which is looked up only in a ``types`` mapping the caller passes:
  bytes never choose what code runs.

Encoding is not on the memo-hit path, but it runs once per new memo when
events or persistence are on, and decoding once per key when a snapshot is
loaded. Both handle a flat tuple of str, int, bytes, None, bool and float
without the general recursive walk; tests check that the two agree.

An unencodable part raises ``KeyEncodingError``, a ``TypeError`` whose
``path`` and ``type_name`` let the engine re-raise it naming the query.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import struct
from collections.abc import Mapping
from typing import Any, cast

from sofrito import _canonical

__all__ = ["KeyEncodingError", "decode_key", "encode_key", "key_hash"]

_KEYS = _canonical.Policy(mutable_containers=False, objects=True)

_NONE = _canonical.NONE
_TRUE = _canonical.TRUE
_FALSE = _canonical.FALSE
_INT = _canonical.INT
_FLOAT = _canonical.FLOAT
_STR = _canonical.STR
_BYTES = _canonical.BYTES
_TUPLE = _canonical.TUPLE

_FLOAT_FORMAT = struct.Struct(">d")
_SIZE = struct.Struct(">I")


class KeyEncodingError(TypeError):
    """A key part has no canonical encoding.

    Raised by ``encode_key`` (and so by ``QueryRef.of``) the first time a key
    needs bytes. ``path`` says where the part is, as indexing from the key
    (``"[1][0]"``: item 0 of part 1; ``"[0].x"``: field ``x`` of part 0;
    ``"[2]<member>"``: a member of the frozenset at part 2; ``""``: the key
    itself), and ``type_name`` what it is. The message adds how to fix it.
    """

    def __init__(self, message: str, *, path: str, type_name: str) -> None:
        self.path = path
        self.type_name = type_name
        super().__init__(message)


def encode_key(key: tuple[Any, ...]) -> bytes:
    """The canonical bytes of a key tuple: equal keys of equal types, equal bytes.

    Raises ``KeyEncodingError`` (a ``TypeError``) naming the first part that has
    no canonical encoding.
    """
    if type(key) is tuple:
        out = bytearray((_TUPLE,))
        out += _SIZE.pack(len(key))
        for part in key:
            kind = type(part)
            if kind is str:
                raw = part.encode("utf-8", "surrogatepass")
                out.append(_STR)
                out += _SIZE.pack(len(raw))
                out += raw
            elif kind is int:
                raw = part.to_bytes((part.bit_length() + 8) // 8, "big", signed=True)
                out.append(_INT)
                out += _SIZE.pack(len(raw))
                out += raw
            elif part is None:
                out.append(_NONE)
            elif kind is bytes:
                out.append(_BYTES)
                out += _SIZE.pack(len(part))
                out += part
            elif kind is bool:
                out.append(_TRUE if part else _FALSE)
            elif kind is float:
                out.append(_FLOAT)
                out += _FLOAT_FORMAT.pack(part)
            else:
                break  # a container, an object, or nothing encodable: the general walk
        else:
            return bytes(out)
    try:
        return _canonical.encode(key, _KEYS)
    except _canonical.Unencodable:
        raise _explain(key) from None


def decode_key(data: bytes, types: Mapping[str, type] | None = None) -> tuple[Any, ...]:
    """The key tuple whose ``encode_key`` bytes are exactly ``data``.

    Enum members and frozen dataclasses decode only through ``types``, which
    maps ``"module:qualname"`` to the class; nothing is imported or evaluated.
    Raises ``ValueError`` for bytes that are not a canonical key (truncated,
    corrupt, or not what ``encode_key`` would produce) and for a class that is
    not in ``types``.
    """
    key = _decode_flat(data)
    if key is not None:
        return key
    lookup = _Lookup(types or {})
    try:
        key = _canonical.decode(data, cast("Mapping[str, type]", lookup))
    except Exception as exc:  # truncated or corrupt bytes, a bad member, a class that refuses
        if lookup.missing is not None:
            raise ValueError(
                f"the key names the class {lookup.missing!r}, which is not in the types "
                f"given; pass types={{{lookup.missing!r}: <the class>}} to decode it"
            ) from None
        raise ValueError(
            f"these {len(data)} bytes are not a canonical key ({type(exc).__name__}: {exc})"
        ) from exc
    problem = None
    if type(key) is not tuple:
        problem = f"they encode a {type(key).__name__}, not a tuple"
    else:
        try:
            if encode_key(key) != data:
                problem = (
                    f"they decode to {key!r}, whose canonical bytes differ (corrupt, or a "
                    "class in `types` is registered under another name)"
                )
        except KeyEncodingError as exc:  # a list or a dict inside
            problem = str(exc)
    if problem is not None:
        raise ValueError(f"these {len(data)} bytes are not a canonical key: {problem}")
    return key


class _Lookup:
    """``types`` for the decoder, remembering a class name it did not know."""

    __slots__ = ("missing", "types")

    def __init__(self, types: Mapping[str, type]) -> None:
        self.types = types
        self.missing: str | None = None

    def get(self, name: str) -> type | None:
        cls = self.types.get(name)
        if cls is None:
            self.missing = name
        return cls


def _decode_flat(data: bytes) -> tuple[Any, ...] | None:
    """``decode_key`` for a tuple of scalars; None for anything else, including bad bytes.

    It checks as it goes that the bytes are exactly what ``encode_key`` makes,
    so that the general path's re-encoding check is not needed here.
    """
    end = len(data)
    if end < 5 or data[0] != _TUPLE:
        return None
    at = 5
    parts: list[Any] = []
    for _ in range(_SIZE.unpack_from(data, 1)[0]):
        if at >= end:
            return None
        tag = data[at]
        if tag in _SIZED:
            if at + 5 > end:
                return None
            size = _SIZE.unpack_from(data, at + 1)[0]
            at += 5 + size
            if at > end:
                return None
            part = _sized_part(tag, data[at - size : at])
            if part is _BAD:
                return None
            parts.append(part)
        elif tag in _FIXED:
            parts.append(_FIXED[tag])
            at += 1
        elif tag == _FLOAT and at + 9 <= end:
            parts.append(_FLOAT_FORMAT.unpack_from(data, at + 1)[0])
            at += 9
        else:
            return None
    return tuple(parts) if at == end else None


_BAD = object()
_SIZED = frozenset((_STR, _INT, _BYTES))
_FIXED: dict[int, Any] = {_NONE: None, _TRUE: True, _FALSE: False}


def _sized_part(tag: int, raw: bytes) -> Any:
    if tag == _STR:
        try:
            return raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return _BAD
    if tag == _INT:
        number = int.from_bytes(raw, "big", signed=True)
        # Only the shortest form is what encode_key writes.
        return number if len(raw) == (number.bit_length() + 8) // 8 else _BAD
    return raw


def key_hash(encoded: bytes) -> int:
    """A deterministic unsigned 64-bit hash of canonical key bytes.

    BLAKE2b, not ``hash()``: the same value in every process, on every machine
    and under every ``PYTHONHASHSEED``, so it can be stored and compared.
    """
    return int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest(), "big")


# -- explaining a key that has no encoding (the rare, slow path) --------------------

_HINTS: dict[type, str] = {
    list: "use a tuple",
    dict: "use a tuple of (key, value) pairs, or a frozenset of them",
    set: "use a frozenset",
    bytearray: "use bytes",
    memoryview: "use bytes",
}

_PLAIN = (str, int, float, bytes, tuple, frozenset)


def _explain(key: object) -> KeyEncodingError:
    """The error for the first part of ``key`` (in encoding order) with no encoding."""
    if type(key) is not tuple:
        return KeyEncodingError(
            f"a key is a tuple of parts, got {type(key).__name__!r}",
            path="",
            type_name=type(key).__name__,
        )
    for index, part in enumerate(key):
        found = _find(part, f"[{index}]", [])
        if found is not None:
            path, steps, bad = found
            where = f"key part {index}"
            if steps:
                where += f" ({'; '.join(steps)})"
            name = type(bad).__name__
            message = f"{where} has type {name!r}, which has no canonical encoding"
            hint = _hint(bad)
            return KeyEncodingError(
                f"{message}; {hint}" if hint else message, path=path, type_name=name
            )
    # Unreachable unless the rules here and in ``_canonical`` disagree; say what we know.
    return KeyEncodingError("key has a part with no canonical encoding", path="?", type_name="?")


def _find(value: object, path: str, steps: list[str]) -> tuple[str, list[str], object] | None:
    """Where in ``value`` the walk of ``_canonical.encode`` would give up, if anywhere."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes) or isinstance(value, enum.Enum):
        return None
    if kind is tuple and isinstance(value, tuple):
        for index, item in enumerate(value):
            found = _find(item, f"{path}[{index}]", [*steps, f"in a tuple, item {index}"])
            if found is not None:
                return found
        return None
    if kind is frozenset and isinstance(value, frozenset):
        for item in value:
            found = _find(item, f"{path}<member>", [*steps, "in a frozenset, a member"])
            if found is not None:
                return found
        return None
    params = getattr(kind, "__dataclass_params__", None)
    if params is not None and params.frozen and dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            found = _find(
                getattr(value, field.name),
                f"{path}.{field.name}",
                [*steps, f"in a {kind.__name__}, field {field.name!r}"],
            )
            if found is not None:
                return found
        return None
    return path, steps, value


def _hint(value: object) -> str:
    kind = type(value)
    hint = _HINTS.get(kind)
    if hint is not None:
        return hint
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "declare it @dataclass(frozen=True)"
    import pathlib  # noqa: PLC0415 (only for this hint: `import sofrito` stays light)

    if isinstance(value, pathlib.PurePath):
        return "use str(path) or path.as_posix()"
    if isinstance(value, tuple) and hasattr(kind, "_fields"):
        return "use a plain tuple (tuple(value)) or a frozen dataclass"
    for base in _PLAIN:
        if isinstance(value, base):
            return f"convert it to a plain {base.__name__} ({base.__name__}(value))"
    return ""
