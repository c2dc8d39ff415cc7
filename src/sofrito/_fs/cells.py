"""The two input families behind ``sofrito.fs``: file contents and the scan's manifest.

- ``FILES``: relpath -> the file's bytes. What a flow reads (``sf.fs.file``)
  and lists (``sf.fs.glob`` reads ``FILES.keys``, which changes only when a
  file is added or removed).
- ``MANIFEST``: relpath -> ``(size, mtime_ns, sha256 hex)`` of the bytes
  in ``FILES``: what the scan compares the disk with. No query reads it, so
  updating it (a touched file) invalidates nothing.

Both are inputs of the flow's own runtime, so they are committed with the
run's boundary, in the same transaction as the memos that read them: the
manifest can never say "seen" for bytes the cache does not hold. A side file
(a JSON manifest next to the cache) was rejected for that reason: a crash
between the two writes would make the next scan skip a changed file.
"""

from __future__ import annotations

from sofrito import Input

__all__ = ["FILES", "MANIFEST", "Stat"]

Stat = tuple[int, int, str]
"""A manifest entry: size in bytes, mtime in ns, SHA-256 hex of the content."""

FILES = Input("sofrito.fs.file")
MANIFEST = Input("sofrito.fs.manifest")
