"""Value codecs for persisted memos and inputs, and what each one trusts.

Two codecs:

- ``"pickle"`` (the default) stores any picklable value. Unpickling runs code
  named by the data, so it trusts whoever can write the store. That is fine for
  a cache file on your own machine. For a store shared between machines
  (PostgreSQL), give the runtime a ``secret=``: every row then carries an
  HMAC-SHA256 that is verified *before* anything is unpickled, so a writer
  without the secret cannot make a reader run code.
- ``"safe"`` stores plain data only: None, bool, int, float, str, bytes, and
  lists, tuples, dicts, sets and frozensets of those. Decoding never runs user
  code, whoever wrote the bytes. A value outside that set fails ``commit()``
  with a clear error.

Both encode deterministically for the same value and Python version, so an
unchanged value produces identical bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from sofrito import _canonical

__all__ = [
    "Codec",
    "CodecError",
    "IntegrityError",
    "PickleCodec",
    "SafeCodec",
    "Sealer",
    "codec_named",
]

CodecName = Literal["pickle", "safe"]


class CodecError(TypeError):
    """A value cannot be encoded (or bytes cannot be decoded) by the codec."""


class IntegrityError(ValueError):
    """A row's MAC or checksum does not verify: the bytes were altered or forged."""


class Codec(Protocol):
    name: str

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


class PickleCodec:
    """Any picklable value; decoding trusts the store (see the module docstring)."""

    name = "pickle"

    def encode(self, value: Any) -> bytes:
        try:
            return pickle.dumps(value, protocol=5)
        except Exception as exc:
            raise CodecError(f"cannot pickle a {type(value).__name__}: {exc}") from exc

    def decode(self, data: bytes) -> Any:
        return pickle.loads(data)


_PLAIN = _canonical.Policy(mutable_containers=True, objects=False)


class SafeCodec:
    """Plain data only; decoding never runs user code."""

    name = "safe"

    def encode(self, value: Any) -> bytes:
        try:
            return _canonical.encode(value, _PLAIN, "value")
        except _canonical.Unencodable as exc:
            raise CodecError(
                f"{exc.path} is a {exc.type_name}, which the 'safe' codec does not store "
                "(plain data only: None, bool, int, float, str, bytes, list, tuple, dict, "
                "set, frozenset); use codec='pickle' with a secret= instead"
            ) from None

    def decode(self, data: bytes) -> Any:
        try:
            return _canonical.decode(data)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise CodecError(f"not a safe-encoded value: {exc}") from None


def codec_named(name: str) -> Codec:
    if name == "pickle":
        return PickleCodec()
    if name == "safe":
        return SafeCodec()
    raise ValueError(f"unknown codec {name!r}: choose 'pickle' or 'safe'")


class Sealer:
    """Appends and checks a MAC (with a secret) or a checksum (without) on rows.

    ``context`` names where the sealed bytes belong (the runtime id and the
    memo or input id). With a secret it is covered by the MAC, so a row moved
    to another memo id, input or runtime does not verify: otherwise a writer
    without the secret could swap two authentic rows and have a reader serve
    one key's value for another. Without a secret the checksum covers the data
    only (the store's own row checksums already bind the ids, and without a
    secret nothing is authenticated anyway).
    """

    def __init__(self, secret: bytes | str | None) -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        self._secret = secret

    @property
    def authenticated(self) -> bool:
        return self._secret is not None

    @property
    def tag_size(self) -> int:
        """The bytes of the seal in front of the data: 16 (a checksum) or 32 (a MAC)."""
        return 16 if self._secret is None else 32

    @property
    def secret(self) -> bytes | None:
        """The secret, for a worker process that opens the same runtime
        (``sofrito._shipping``): its rows must seal as the coordinator's do."""
        return self._secret

    def _tag(self, parts: Sequence[bytes], context: bytes) -> bytes:
        """The tag of the data ``parts`` make together: the same as of their join."""
        if self._secret is None:
            hasher = hashlib.blake2b(digest_size=16)
            for part in parts:
                hasher.update(part)
            return hasher.digest()
        mac = hmac.new(self._secret, len(context).to_bytes(4, "big"), hashlib.sha256)
        mac.update(context)
        for part in parts:
            mac.update(part)
        return mac.digest()

    def seal(self, data: bytes, context: bytes = b"") -> bytes:
        return self._tag((data,), context) + data

    def seal_parts(self, parts: Sequence[bytes], context: bytes = b"") -> bytes:
        """``seal(b"".join(parts), context)``, with the data copied once, not twice
        (joined, then again behind the tag): a commit seals every row it
        writes, 100 MB of them in a 10,000-page first build."""
        return b"".join([self._tag(parts, context), *parts])

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        """The sealed data, or ``IntegrityError`` saying why not. The caller adds
        which row it was: a load opens every row, and names none unless one fails."""
        size = self.tag_size
        tag, data = sealed[:size], sealed[size:]
        if len(sealed) < size or not hmac.compare_digest(tag, self._tag((data,), context)):
            raise IntegrityError(
                "its MAC does not verify (wrong secret, forged, or moved from another row)"
                if self._secret
                else "its checksum does not match (corrupt or truncated)"
            )
        return data
