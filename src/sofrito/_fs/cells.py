"""The two input families behind ``sofrito.fs``: file contents and the scan's manifest.

- ``FILES``: relpath -> the file's bytes. What a flow reads (``sf.fs.file``)
  and lists (``sf.fs.glob`` reads ``FILES.keys``, which changes only when a
  file is added or removed).
- ``MANIFEST``: folder relpath (``""`` for the flow's own folder) -> ``{file
  name: (size, mtime_ns, sha256 hex)}`` of the bytes in ``FILES`` for the
  files directly in that folder: what the scan compares the disk with. No
  query reads it, so updating it (a touched file) invalidates nothing.

Both are inputs of the flow's own runtime, so they are committed with the
run's boundary, in the same transaction as the memos that read them: the
manifest can never say "seen" for bytes the cache does not hold. A side file
(a JSON manifest next to the cache) was rejected for that reason: a crash
between the two writes would make the next scan skip a changed file.

**One manifest cell per folder, one content cell per file.** Every run
reads the whole manifest, so its layout is what a no-op pays for: a cell
per file was 10,000 stored rows to load, check and decode on a 10,000-page
site (a third of the no-op), where a cell per folder is one per folder (60
on the generated corpus). A single cell for the whole manifest was
rejected: an edit to one page would rewrite all of it; a folder's cell is
what one edit rewrites. The contents stay one cell per file, since a
content cell is what a query reads: one edit invalidates one page.
"""

from __future__ import annotations

from sofrito import Input

__all__ = ["FILES", "MANIFEST", "Stat", "split"]

Stat = tuple[int, int, str]
"""A manifest entry: size in bytes, mtime in ns, SHA-256 hex of the content."""

FILES = Input("sofrito.fs.file")
MANIFEST = Input("sofrito.fs.folder")


def split(relpath: str) -> tuple[str, str]:
    """``relpath``'s folder (``""`` at the top) and its name, as ``MANIFEST`` keys them."""
    folder, _, name = relpath.rpartition("/")
    return folder, name
