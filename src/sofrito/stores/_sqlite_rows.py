"""Rows of the SQLite store: records to parameters and back, each row checked.

Reading trusts nothing. A damaged page can hand back a str where bytes were
written, an int of another size, a status no enum knows. Every column is
type-checked and every row's checksum verified *before* a record is built, and
any failure raises ``Malformed``, which the store reports as
``CorruptSnapshot`` naming the file, the runtime and the row.

The runtime's header row (``runtimes``) is the anchor of everything else: its
checksum covers the lifecycle state, the snapshot revision and ``meta``, the
last receipt's sequence number, the seals of the memo, input and edge tables
(``_integrity``) and the head (the count of writes that compare-and-swap
checks), so every row of a runtime is accounted for by one checked row.
"""

from __future__ import annotations

import operator
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from sofrito._interpreted import without_context
from sofrito.stores import _encoding
from sofrito.stores._integrity import EMPTY_SEAL, SUM_SIZE, InputSums, checksum
from sofrito.stores.protocol import InputState, InputStatus, Receipt, RuntimeState

__all__ = [
    "ASTRAY",
    "SEAL_BROKEN",
    "Header",
    "Malformed",
    "blob",
    "integer",
    "lifecycle_state",
    "text",
    "input_params",
    "read_header",
    "read_input",
    "read_receipt",
    "receipt_params",
    "write_header",
]


class Malformed(Exception):
    """A stored row is damaged: ``what`` (e.g. "memo row 61") and ``why``."""

    def __init__(self, what: str, why: str = "fails its checksum (corrupt or truncated)") -> None:
        super().__init__(what, why)
        self.what = what
        self.why = why


SEAL_BROKEN = (
    "do not match the seal in the runtime's header (a row is missing or left over: damaged)"
)
ASTRAY = "was looked up, but another row came back (damaged index)"


# -- typed columns ------------------------------------------------------------------


def blob(value: object, what: str) -> bytes:
    if type(value) is not bytes:
        raise Malformed(what, f"holds {type(value).__name__} where bytes belong (damaged)")
    return value


def integer(value: object, what: str) -> int:
    if type(value) is not int:
        raise Malformed(what, f"holds {type(value).__name__} where an int belongs (damaged)")
    return value


def text(value: object, what: str) -> str:
    if type(value) is not str:
        raise Malformed(what, f"holds {type(value).__name__} where text belongs (damaged)")
    return value


def a_sum(value: object, what: str) -> bytes:
    raw = blob(value, what)
    if len(raw) != SUM_SIZE:
        raise Malformed(what, "has a checksum of the wrong size (damaged)")
    return raw


# -- the runtime header ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    """One runtime's row in ``runtimes``. ``meta is None``: no snapshot committed."""

    state: RuntimeState | None = None
    revision: int = 0
    meta: bytes | None = None
    sequence: int = 0
    memo_seal: bytes = EMPTY_SEAL
    input_seal: bytes = EMPTY_SEAL
    head: int = 0
    edge_seal: bytes = EMPTY_SEAL

    def checksum(self, runtime_id: str) -> bytes:
        state = None if self.state is None else self.state.value
        # The head (schema 3) joins the checksum once it is not 0, so a header
        # written by schema 2 (no head: 0) verifies unchanged after the upgrade;
        # the edge seal (schema 4) likewise once the runtime has an edge.
        extra: tuple[int | bytes, ...] = (self.head,) if self.head else ()
        if self.edge_seal != EMPTY_SEAL:
            extra = (self.head, self.edge_seal)
        return checksum(
            "sofrito.header",
            runtime_id,
            state,
            self.revision,
            self.meta,
            self.sequence,
            self.memo_seal,
            self.input_seal,
            *extra,
        )

    def advanced(self) -> Header:
        """The header after one more write to the runtime's state."""
        return replace(self, head=self.head + 1)

    def without_cache(self) -> Header:
        """What a reset leaves: the state, the receipt count and the head."""
        return replace(
            self,
            revision=0,
            meta=None,
            memo_seal=EMPTY_SEAL,
            input_seal=EMPTY_SEAL,
            edge_seal=EMPTY_SEAL,
        )


_HEADER_COLUMNS = "state, revision, meta, sequence, memo_seal, input_seal, head, edge_seal, sum"


def read_header(conn: sqlite3.Connection, runtime_id: str) -> Header | None:
    row = conn.execute(
        f"SELECT {_HEADER_COLUMNS} FROM runtimes WHERE runtime_id = ?", (runtime_id,)
    ).fetchone()
    return None if row is None else _header(runtime_id, row)


def _header(runtime_id: str, row: Any) -> Header:
    what = "the header"
    state, revision, meta, sequence, memo_seal, input_seal, head, edge_seal, stored = row
    header = Header(
        lifecycle_state(state, what),
        integer(revision, what),
        None if meta is None else blob(meta, what),
        integer(sequence, what),
        a_sum(memo_seal, what),
        a_sum(input_seal, what),
        integer(head, what),
        a_sum(edge_seal, what),
    )
    if header.checksum(runtime_id) != a_sum(stored, what):
        raise Malformed(what)
    return header


def lifecycle_state(value: object, what: str) -> RuntimeState | None:
    if value is None:
        return None
    try:
        return RuntimeState(text(value, what))
    except ValueError:
        raise without_context(
            Malformed(what, f"holds an unknown lifecycle state {value!r} (damaged)")
        ) from None


def write_header(conn: sqlite3.Connection, runtime_id: str, header: Header) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO runtimes (runtime_id, {_HEADER_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            runtime_id,
            None if header.state is None else header.state.value,
            header.revision,
            header.meta,
            header.sequence,
            header.memo_seal,
            header.input_seal,
            header.head,
            header.edge_seal,
            header.checksum(runtime_id),
        ),
    )


# -- input states ------------------------------------------------------------------

INPUT_COLUMNS = "input_id, kind, key, value, durability, changed_at, status, sum"


def input_params(runtime_id: str, state: InputState, sums: InputSums) -> tuple[Any, ...]:
    """The row for ``state``, its checksum last (``sums``: ``input_checksummer(runtime_id)``).
    Int-like fields (an ``IntEnum`` durability) are stored as plain ints; anything
    else is a ``TypeError``."""
    fields = (
        state.input_id,
        state.kind,
        state.key,
        state.value,
        operator.index(state.durability),
        operator.index(state.changed_at),
        InputStatus(state.status).value,
    )
    return (runtime_id, *fields, sums(*fields))


_STATUSES = {status.value: status for status in InputStatus}


def read_input(sums: InputSums, row: Any) -> tuple[InputState, bytes]:
    """The checked state and its checksum (for the seal); ``sums`` is the runtime's
    ``input_checksummer``. A load reads every input row, so the columns are
    type-checked in one expression, and the checks that name the damaged column
    run only when it fails."""
    input_id, kind, key, value, durability, changed_at, status, stored = row
    if not (
        type(input_id) is str
        and type(kind) is str
        and type(key) is bytes
        and type(value) is bytes
        and type(durability) is int
        and type(changed_at) is int
        and type(status) is str
        and type(stored) is bytes
        and len(stored) == SUM_SIZE
    ):
        _name_the_damaged_column(row)
    if sums(input_id, kind, key, value, durability, changed_at, status) != stored:
        raise Malformed(f"input state {input_id!r}")
    known = _STATUSES.get(status)
    if known is None:
        raise Malformed(
            f"input state {input_id!r}", f"holds an unknown status {status!r} (damaged)"
        )
    return InputState(input_id, kind, key, value, durability, changed_at, known), stored


def _name_the_damaged_column(row: Any) -> None:
    input_id, kind, key, value, durability, changed_at, status, stored = row
    what = f"input state {input_id!r}"
    text(input_id, what)
    text(kind, what)
    blob(key, what)
    blob(value, what)
    integer(durability, what)
    integer(changed_at, what)
    text(status, what)
    a_sum(stored, what)


# -- receipts --------------------------------------------------------------------------

RECEIPT_COLUMNS = "sequence, run_id, boundary, contributing, digest, sum"


def receipt_params(receipt: Receipt) -> tuple[Any, ...]:
    fields = (
        operator.index(receipt.sequence),
        receipt.run_id,
        receipt.boundary,
        _encoding.encode(tuple(receipt.contributing_inputs)),
        receipt.digest,
    )
    return (receipt.runtime_id, *fields, _receipt_sum(receipt.runtime_id, fields))


def _receipt_sum(runtime_id: str, fields: tuple[int, str, str, bytes, str]) -> bytes:
    return checksum("sofrito.receipt-row", runtime_id, *fields)


def read_receipt(runtime_id: str, row: Any) -> Receipt:
    sequence, run_id, boundary, contributing, digest, stored = row
    what = f"receipt {sequence!r}"
    fields = (
        integer(sequence, what),
        text(run_id, what),
        text(boundary, what),
        blob(contributing, what),
        text(digest, what),
    )
    if _receipt_sum(runtime_id, fields) != a_sum(stored, what):
        raise Malformed(what)
    try:
        inputs = _encoding.decode_str_tuple(fields[3])
    except ValueError:
        raise without_context(Malformed(what, "has undecodable input ids (damaged)")) from None
    return Receipt(runtime_id, fields[1], fields[0], fields[2], inputs, fields[4])
