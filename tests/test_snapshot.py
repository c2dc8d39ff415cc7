"""A memo's row (``sofrito/_snapshot.py``): its layout is what stores hold, so it
is pinned here byte for byte, whichever way a commit builds it (each
dependency encoded once per commit, ``encode_dep``; the seal over parts)."""

from __future__ import annotations

import hashlib
import struct

import pytest

from sofrito._codec import CodecError, IntegrityError, Sealer
from sofrito._snapshot import (
    INPUT,
    QUERY,
    MemoRow,
    decode_memo_row,
    encode_dep,
    encode_memo_row,
    seal_row,
    value_at,
)

ROW = MemoRow(
    b"f" * 16,
    3,
    7,
    2,
    [(QUERY, "site.page", b"\x05key"), (INPUT, "sofrito.fs.file", b"path")],
    b"the value",
)


def _layout(row: MemoRow) -> bytes:
    """The documented layout (the module docstring), written out by hand."""
    out = struct.pack(
        ">B16sqqBI",
        2,
        row.fingerprint,
        row.changed_at,
        row.verified_at,
        row.durability,
        len(row.deps),
    )
    for kind, name, key in row.deps:
        out += kind + struct.pack(">H", len(name.encode())) + name.encode()
        out += struct.pack(">I", len(key)) + key
    return out + row.value


def test_a_row_is_the_documented_layout_behind_its_checksum() -> None:
    data = _layout(ROW)
    assert encode_memo_row(ROW, Sealer(None), b"") == (
        hashlib.blake2b(data, digest_size=16).digest() + data
    )


@pytest.mark.parametrize("secret", [None, "team secret"])
def test_a_row_sealed_from_encoded_deps_is_the_same_row(secret: str | None) -> None:
    sealer = Sealer(secret)
    deps = [encode_dep(dep) for dep in ROW.deps]
    sealed = seal_row(ROW._replace(deps=[]), deps, sealer, b"context")
    assert sealed == encode_memo_row(ROW, sealer, b"context")
    assert sealed == sealer.seal(_layout(ROW), b"context")
    assert decode_memo_row(sealed, sealer, b"context") == ROW


def test_a_row_sealed_in_parts_is_refused_under_another_context() -> None:
    sealer = Sealer("team secret")
    sealed = sealer.seal_parts([b"a", b"bc"], b"memo 1")
    assert sealer.open(sealed, b"memo 1") == b"abc"
    with pytest.raises(IntegrityError):
        sealer.open(sealed, b"memo 2")


@pytest.mark.parametrize("secret", [None, "team secret"])
def test_the_value_of_a_sealed_row_is_found_past_its_header_and_deps(secret: str | None) -> None:
    sealer = Sealer(secret)
    sealed = encode_memo_row(ROW, sealer, b"context")
    assert sealed[value_at(sealed, sealer.tag_size) :] == ROW.value


def test_a_row_the_store_checked_is_not_checked_again_without_a_secret() -> None:
    """Without a secret the seal is a checksum of the bytes ``load_memo_rows`` has
    just checked: a row from it is read without opening the seal (a damaged
    seal shows that it was not), and a forged row fails the header's checks."""
    sealer = Sealer(None)
    sealed = encode_memo_row(ROW, sealer, b"")
    damaged_seal = bytes([sealed[0] ^ 1]) + sealed[1:]
    with pytest.raises(IntegrityError):
        decode_memo_row(damaged_seal, sealer, b"")
    assert decode_memo_row(damaged_seal, sealer, b"", store_checked=True) == ROW
    with pytest.raises(CodecError, match="not a memo row"):
        decode_memo_row(b"\x00" * 40, sealer, b"", store_checked=True)


def test_a_row_the_store_checked_still_needs_its_mac_with_a_secret() -> None:
    """A store's checksum is no MAC: anyone who can write the file can make one."""
    sealer = Sealer("team secret")
    sealed = encode_memo_row(ROW, sealer, b"memo 1")
    assert decode_memo_row(sealed, sealer, b"memo 1", store_checked=True) == ROW
    with pytest.raises(IntegrityError):
        decode_memo_row(sealed, sealer, b"memo 2", store_checked=True)
    forged = Sealer(None).seal(sealed[sealer.tag_size :])
    with pytest.raises(IntegrityError):
        decode_memo_row(forged, sealer, b"memo 1", store_checked=True)


def test_a_row_stored_without_its_value_is_format_3_and_ends_after_its_deps() -> None:
    """``persist_value=False``: the header and the dependencies, nothing after them,
    and a format of its own (an empty value is something a codec may write)."""
    valueless = ROW._replace(value=None)
    layout = _layout(ROW._replace(value=b""))
    layout = bytes([3]) + layout[1:]
    sealer = Sealer(None)
    sealed = encode_memo_row(valueless, sealer, b"")
    assert sealed == sealer.seal(layout, b"")
    assert decode_memo_row(sealed, sealer, b"") == valueless
    empty = encode_memo_row(ROW._replace(value=b""), sealer, b"")
    assert decode_memo_row(empty, sealer, b"").value == b""  # format 2: a value of no bytes


def test_a_row_without_its_value_that_holds_more_bytes_is_refused() -> None:
    sealer = Sealer(None)
    layout = bytes([3]) + _layout(ROW)[1:]  # format 3, yet a value behind the deps
    with pytest.raises(CodecError, match="stored without its value holds 9 bytes more"):
        decode_memo_row(sealer.seal(layout, b""), sealer, b"")
    with pytest.raises(CodecError, match="row format 4, this sofrito reads 2 and 3"):
        decode_memo_row(sealer.seal(bytes([4]) + _layout(ROW)[1:], b""), sealer, b"")
