"""One canonical, type-tagged, length-prefixed encoding of plain data.

Two users with different rules share it:

- key bytes (``_keys``): hashable values only, plus enum members and frozen
  dataclasses, so that a query call has the same bytes in every process;
- the ``safe`` value codec (``_codec``): plain data including lists, dicts and
  sets, which decodes without running any user code.

Every value is tagged with its type, so ``1``, ``1.0`` and ``True`` never
share bytes. Floats are bit-exact (``0.0`` and ``-0.0`` differ), and the
members of sets are sorted by their encodings, so order never matters.
Decoding never imports anything: enum and dataclass values decode only
through a ``types`` mapping that the caller provides.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Policy", "Unencodable", "decode", "encode", "type_name"]

NONE, TRUE, FALSE, INT, FLOAT, STR, BYTES = range(7)
TUPLE, FROZENSET, ENUM, DATACLASS, LIST, DICT, SET = range(7, 14)


class Unencodable(TypeError):
    """``value`` at ``path`` has a type this policy does not encode."""

    def __init__(self, path: str, type_name: str) -> None:
        self.path = path
        self.type_name = type_name
        super().__init__(path, type_name)


@dataclasses.dataclass(frozen=True)
class Policy:
    """Which types beyond the scalars, tuples and frozensets are allowed."""

    mutable_containers: bool
    """list, dict and set (values, not keys)."""
    objects: bool
    """enum members and frozen dataclasses (keys, decoded through ``types``)."""


def type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _length(out: bytearray, size: int) -> None:
    out += size.to_bytes(4, "big")


def _sized(out: bytearray, tag: int, raw: bytes) -> None:
    out.append(tag)
    _length(out, len(raw))
    out += raw


def encode(value: Any, policy: Policy, path: str = "") -> bytes:
    out = bytearray()
    _encode(out, value, policy, path)
    return bytes(out)


def _encode(out: bytearray, value: Any, policy: Policy, path: str) -> None:
    kind = type(value)
    scalar = _SCALARS.get(kind)
    if value is None:
        out.append(NONE)
    elif scalar is not None:
        scalar(out, value)
    elif kind is tuple or (kind is list and policy.mutable_containers):
        out.append(TUPLE if kind is tuple else LIST)
        _length(out, len(value))
        for index, item in enumerate(value):
            _encode(out, item, policy, _step(path, index))
    elif kind is frozenset or (kind is set and policy.mutable_containers):
        members = sorted(encode(item, policy, _step(path, "member")) for item in value)
        out.append(FROZENSET if kind is frozenset else SET)
        _length(out, len(members))
        for member in members:
            out += member
    elif kind is dict and policy.mutable_containers:
        out.append(DICT)
        _length(out, len(value))
        for key, item in value.items():
            _encode(out, key, policy, _step(path, "key"))
            _encode(out, item, policy, _step(path, repr(key)))
    elif policy.objects and isinstance(value, enum.Enum):
        out.append(ENUM)
        _encode(out, type_name(kind), policy, path)
        _encode(out, value.name, policy, path)
    elif policy.objects and _is_frozen_dataclass(value):
        _encode_dataclass(out, value, policy, path)
    else:
        raise Unencodable(path, kind.__name__)


def _is_frozen_dataclass(value: Any) -> bool:
    params = getattr(type(value), "__dataclass_params__", None)
    return params is not None and bool(params.frozen)


def _encode_dataclass(out: bytearray, value: Any, policy: Policy, path: str) -> None:
    fields = dataclasses.fields(value)
    out.append(DATACLASS)
    _encode(out, type_name(type(value)), policy, path)
    _length(out, len(fields))
    for field in fields:
        _encode(out, getattr(value, field.name), policy, _step(path, field.name))


def _step(path: str, step: object) -> str:
    return f"{path}, {step}" if path else str(step)


def _int(out: bytearray, value: int) -> None:
    _sized(out, INT, value.to_bytes((value.bit_length() + 8) // 8 or 1, "big", signed=True))


_SCALARS: dict[type, Callable[[bytearray, Any], None]] = {
    bool: lambda out, value: out.append(TRUE if value else FALSE),
    int: _int,
    float: lambda out, value: out.extend(bytes([FLOAT]) + struct.pack(">d", value)),
    str: lambda out, value: _sized(out, STR, value.encode("utf-8", "surrogatepass")),
    bytes: lambda out, value: _sized(out, BYTES, value),
}


def decode(data: bytes, types: Mapping[str, type] | None = None) -> Any:
    value, end = _decode(memoryview(data), 0, types or {})
    if end != len(data):
        raise ValueError("trailing bytes after a canonical value")
    return value


def _decode(data: memoryview, at: int, types: Mapping[str, type]) -> tuple[Any, int]:
    tag = data[at]
    at += 1
    if tag <= FALSE:
        return (None, True, False)[tag], at
    if tag == FLOAT:
        return struct.unpack_from(">d", data, at)[0], at + 8
    if tag in (INT, STR, BYTES):
        size = int.from_bytes(data[at : at + 4], "big")
        raw = bytes(data[at + 4 : at + 4 + size])
        at += 4 + size
        if tag == INT:
            return int.from_bytes(raw, "big", signed=True), at
        return (raw.decode("utf-8", "surrogatepass") if tag == STR else raw), at
    if tag in (ENUM, DATACLASS):
        return _decode_object(data, at, tag, types)
    count = int.from_bytes(data[at : at + 4], "big")
    at += 4
    if tag == DICT:
        mapping = {}
        for _ in range(count):
            key, at = _decode(data, at, types)
            mapping[key], at = _decode(data, at, types)
        return mapping, at
    factory = _CONTAINERS.get(tag)
    if factory is None:
        raise ValueError(f"unknown tag {tag} in canonical bytes")
    items = []
    for _ in range(count):
        item, at = _decode(data, at, types)
        items.append(item)
    return factory(items), at


_CONTAINERS: dict[int, Callable[[list[Any]], Any]] = {
    TUPLE: tuple,
    FROZENSET: frozenset,
    LIST: list,
    SET: set,
}


def _decode_object(
    data: memoryview, at: int, tag: int, types: Mapping[str, type]
) -> tuple[Any, int]:
    name, at = _decode(data, at, types)
    cls: Any = types.get(name)
    if cls is None:
        raise ValueError(f"cannot decode a value of type {name}: it is not in the types given")
    if tag == ENUM:
        member, at = _decode(data, at, types)
        return cls[member], at
    count = int.from_bytes(data[at : at + 4], "big")
    at += 4
    values = []
    for _ in range(count):
        item, at = _decode(data, at, types)
        values.append(item)
    return cls(*values), at
