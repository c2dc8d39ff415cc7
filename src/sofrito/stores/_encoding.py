"""The store's canonical bytes: what receipt digests and row checksums are computed over.

A receipt is a promise about bytes that anyone must be able to recompute, in
any process, on any machine, with any later sofrito. So the encoding it rests
on lives here, owned by the stores and frozen: changing one byte of it breaks
every stored receipt. It deliberately handles only what the stores need
(None, bool, int, str, bytes and tuples of those), and it is byte-for-byte
the plain subset of ``sofrito._canonical`` (the key encoding), so the two can
never disagree on the values they share, yet a change to key encoding can
never silently change a digest (``tests/stores/test_records.py`` pins golden
vectors).

Layout: one type tag byte, then the payload. Lengths and counts are 4-byte
big-endian unsigned integers.

====  =========  ============================================================
tag   type       payload
====  =========  ============================================================
0x00  None       (none)
0x01  True       (none)
0x02  False      (none)
0x03  int        length, then the minimal two's-complement big-endian bytes
                 with room for the sign bit (``0`` is one zero byte)
0x05  str        length, then UTF-8 (lone surrogates as ``surrogatepass``)
0x06  bytes      length, then the bytes
0x07  tuple      count, then each item's encoding
====  =========  ============================================================

Types are matched exactly: ``True`` is not ``1``, and subclasses (an
``IntEnum``, a ``str`` subclass) are refused with ``TypeError`` rather than
encoded as something they only resemble.
"""

from __future__ import annotations

from typing import Final, TypeAlias

__all__ = ["MAX_LENGTH", "Plain", "decode_str_tuple", "encode", "encode_into", "length"]

Plain: TypeAlias = "bool | int | str | bytes | tuple[Plain, ...] | None"

# The tag byte of each kind of value (0x04 is the key encoding's float).
NONE: Final = 0x00
TRUE: Final = 0x01
FALSE: Final = 0x02
INT: Final = 0x03
STR: Final = 0x05
BYTES: Final = 0x06
TUPLE: Final = 0x07
MAX_LENGTH: Final = 0xFFFF_FFFF


def encode(value: Plain) -> bytes:
    out = bytearray()
    encode_into(out, value)
    return bytes(out)


def encode_into(out: bytearray, value: Plain) -> None:
    if type(value) is tuple:
        items: tuple[Plain, ...] = value
        out.append(TUPLE)
        out += length(len(items))
        for item in items:  # a row's fields: scalars, encoded with one call each
            if type(item) is tuple:
                encode_into(out, item)
            else:
                _encode_scalar(out, item)
    else:
        _encode_scalar(out, value)


def _encode_scalar(out: bytearray, value: Plain) -> None:
    """Every store checksum encodes a row's fields, so this is on the path that
    opens a cache: one call per field, lengths inlined."""
    kind = type(value)
    raw: bytes
    if kind is bytes:
        tag, raw = BYTES, value  # type: ignore[assignment]
    elif kind is str:
        tag, raw = STR, value.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
    elif kind is int:
        number: int = value  # type: ignore[assignment]
        tag, raw = INT, number.to_bytes((number.bit_length() + 8) // 8, "big", signed=True)
    elif value is None:
        out.append(NONE)
        return
    elif kind is bool:
        out.append(TRUE if value else FALSE)
        return
    else:
        raise TypeError(
            f"the store encoding takes None, bool, int, str, bytes and tuples, "
            f"not {kind.__qualname__}: {value!r:.80}"
        )
    size = len(raw)
    if size > MAX_LENGTH:
        raise ValueError(f"{size} bytes or items do not fit the store encoding (at most 4 GiB)")
    out.append(tag)
    out += size.to_bytes(4, "big")
    out += raw


def length(size: int) -> bytes:
    """A length or count as the encoding writes it (``ValueError`` past 4 GiB)."""
    if size > MAX_LENGTH:
        raise ValueError(f"{size} bytes or items do not fit the store encoding (at most 4 GiB)")
    return size.to_bytes(4, "big")


def decode_str_tuple(data: bytes) -> tuple[str, ...]:
    """Decode ``encode(tuple_of_str)``; anything else raises ``ValueError``.

    Used for the receipt's contributing input ids, read back from storage, so
    it trusts nothing: every length is checked against the data.
    """
    view = memoryview(data)
    if len(view) < 5 or view[0] != TUPLE:
        raise ValueError("not an encoded tuple")
    count, at = int.from_bytes(view[1:5], "big"), 5
    items: list[str] = []
    for _ in range(count):
        if at + 5 > len(view) or view[at] != STR:
            raise ValueError("not an encoded str")
        size = int.from_bytes(view[at + 1 : at + 5], "big")
        end = at + 5 + size
        if end > len(view):
            raise ValueError("truncated str")
        items.append(bytes(view[at + 5 : end]).decode("utf-8", "surrogatepass"))
        at = end
    if at != len(view):
        raise ValueError("trailing bytes after the tuple")
    return tuple(items)
