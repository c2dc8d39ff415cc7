"""Writing outputs atomically, without creating a file per output.

``sofrito run`` writes an output through a temporary file in the output
folder and a rename, so that a reader (a browser, a web server, ``serve``)
sees the old bytes or the new ones, never half a file (docs/flows.md).

**The cost that shaped this module.** A template edit on a 10,000-page
site rewrites 10,000 files. With a new temporary file per output
(``tempfile.mkstemp`` then ``os.replace``), each write creates an inode and
frees the one it replaces: measured on ext4, 2.4-3 s of kernel time for the
10,000 (creating an empty file in a populated folder cost 75-370 us on this
shared machine; opening an existing one, truncating it, writing 4 KB and
closing it, 66 us), most of the 3 s the whole run may take.

**What is done instead: one spare file, swapped in.** ``OutputWriter``
keeps one spare file in the output folder. To write an output it fills the
spare and exchanges it with the output's file in one atomic step
(``renameat2(RENAME_EXCHANGE)``, Linux 3.15+): the output now holds the new
bytes, and the spare holds the old ones, to be truncated and filled for the
next output. A whole site rewritten creates one file and frees one, and
each write stays atomic: the exchange is one rename. ``close`` removes the
spare.

The spare is written over from its start and then cut after the new bytes,
not truncated to nothing first: ext4 takes a file truncated to zero and
written again for a replace-via-truncate and allocates its blocks when it is
closed, in the writing process (the 10,000 writes took 1.0-1.45 s of kernel
time that way, 0.37-0.46 s written over).

**Readers keep what they opened.** With a rename, a reader that opened the
old file (a web server sending it) reads the old bytes to the end, since
that file is never written again. The spare *is* such an old file, so it is
written over only under a write lease (``fcntl(F_SETLEASE, F_WRLCK)``): the
kernel grants one only when no other file descriptor or memory map holds
the file, and while it is held nobody can open it. A spare someone still
reads is left to them (unlinked, their bytes intact) and a new one made.

The swap is used only on a regular file with one link (``lstat``): a
symbolic link, a folder or a file with other hard links takes the rename
path, as it always did, so a file reached by another name never has its
bytes overwritten, and a link is replaced rather than followed. A new
output (nothing to exchange with) is the spare renamed into place, and the
next write makes a new spare. Where the exchange is not available (another
system, an older kernel, a file system that refuses it, another mount
below the output folder) each write falls back to ``mkstemp`` and
``os.replace`` in the output's own folder, as before.

Rejected: writing the output in place (``O_TRUNC``, 0.66 s for the 10,000):
not atomic, a reader could see a truncated page; a spare with a fixed name
(it would survive a crash for the next run to reuse): two runs writing to
one folder from two stores would fill each other's spare; a spare per
folder: sixty-three files created for the example site instead of one, for
nothing the exchange needs (both names are on one file system).

**File modes.** A temporary file is created private (``mkstemp``'s
0o600), and swapped or renamed into place it would make every output
unreadable to a web server running as another user. So the spare is
created as ``open`` creates a file (0o666 less the umask) and, before it
becomes an output, given that output's mode: the mode the old file had (a
mode someone set is kept), or a new file's.

**Spares a killed run left.** A run killed with SIGKILL (or a power cut)
cannot remove its spare: a hidden ``.sofrito-*.tmp`` in the output folder,
holding an old version of some output, that no run reads and that would be
deployed with the site. So a writer removes such leftovers when it starts,
and only when no other writer of this folder is alive: a spare is closed
between writes, so neither a write lease nor its age tells a live run's
spare from a dead one's (after an exchange the spare holds the old
output's inode and times). What tells is a lock on the folder itself: each
writer holds a shared ``flock`` on the output folder from before it makes
a spare until ``close``, and the kernel drops it when the process dies,
however it dies. A writer that gets the lock exclusive, without waiting,
is alone: every ``.sofrito-*.tmp`` at the folder's top is a dead run's,
and it removes them before taking its shared lock. A writer that does not
(two runs writing one folder at once, from two stores or two checkouts)
leaves them to a later run that is alone. Removing a file someone reads is
harmless (they read its bytes to the end), so nothing else is checked.
Where ``flock`` is refused (some network file systems) nothing is removed,
as before. Not covered: the temporary files of the fallback path
(``.NAME.*.tmp`` beside an output, removed unless the process is killed),
which would need a walk of the whole output tree; and a run of a sofrito
older than this one writing the folder at once, which holds no lock (its
spare could be removed under it, failing its next write, exit 7).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["OutputWriter"]

RENAME_EXCHANGE = 2
"""``renameat2``'s flag: exchange the two names atomically (linux/fs.h)."""
AT_FDCWD = -100
"""``renameat2``'s directory for relative names: the working directory."""

Exchange = Callable[[str, str], None]
"""Exchange two paths atomically; raises ``OSError``."""

_LINUX = sys.platform.startswith("linux")
"""Where ``renameat2`` may be: the only system with a spare, so with a claim."""


class OutputWriter:
    """Writes outputs under ``top`` atomically; one spare file for all of them
    (module docstring). Use it as a context manager, or call ``close``."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self.spare: str | None = None
        """The path of the spare file, or None when there is none yet (or it went
        into place as a new output)."""
        self.spare_size = 0
        """The size of the spare's bytes: it is cut only when the new ones are
        shorter (a ``ftruncate`` that changes nothing still costs one)."""
        self.spare_mode = 0
        """The spare's permission bits: changed only when the output's differ."""
        self.new_mode: int | None = None
        """A new file's permission bits here (0o666 less the umask), as found on
        the first file this writer created."""
        self._exchange: Exchange | None = None
        self._looked_up = False
        """Whether ``_exchange`` is known: looked up by the first write (``exchange``)."""
        self.folders: set[str] = set()
        """Folders made (or found) already in this run: one ``mkdir`` each."""
        self.claim: int | None = None
        """The output folder, open and under this writer's shared ``flock`` (module
        docstring, "Spares a killed run left"), or None."""
        self.claimed = False
        """Whether the folder was claimed (or cannot be): done once, before a spare."""

    @property
    def exchange(self) -> Exchange | None:
        """The exchange of two files, None where it is not available (``mkstemp``
        and ``os.replace``). Looked up by the first write, not when the writer is
        made: ``ctypes`` and the C library's symbol cost a run that writes
        nothing (a no-op) 7 M instructions, about 1.5 ms."""
        if not self._looked_up:
            self._exchange, self._looked_up = _exchange(), True
        return self._exchange

    @exchange.setter
    def exchange(self, value: Exchange | None) -> None:
        self._exchange, self._looked_up = value, True

    def __enter__(self) -> OutputWriter:
        self._claim()  # and remove dead runs' spares, also in a run that writes nothing
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, target: str | os.PathLike[str], content: bytes) -> tuple[int, int]:
        """Put ``content`` at ``target`` atomically; its size and mtime (ns) then.

        Paths are handled as text: a template edit writes 10,000 outputs, and
        ``pathlib``'s objects for each (its parent, its hash in ``folders``)
        cost about 5% of that run."""
        path = os.fspath(target)
        folder = os.path.dirname(path)
        if folder and folder not in self.folders:  # (a bare name: the working folder)
            os.makedirs(folder, exist_ok=True)
            self.folders.add(folder)
        done = self._swapped(path, content) if self.exchange is not None else None
        if done is None:
            _replace(Path(path), content)
            done = os.stat(path)
        return done.st_size, done.st_mtime_ns

    def close(self) -> None:
        """Remove the spare file, if there is one, and let go of the output folder."""
        self._drop_spare()
        claim, self.claim = self.claim, None
        if claim is not None:
            os.close(claim)  # which releases the flock

    def _drop_spare(self) -> None:
        spare, self.spare = self.spare, None
        if spare is not None:
            Path(spare).unlink(missing_ok=True)

    def _claim(self) -> None:
        """Hold the output folder's shared lock from now on, removing dead runs'
        spares first if no other writer holds it. A folder not made yet is
        claimed by the first spare (``_filled``), once ``write`` made it. Without
        the exchange (not Linux) there is no spare, and nothing to claim; where
        Linux has none (a C library older than 2.28) the claim is made, harmlessly:
        asking would cost a run that writes nothing the exchange's look-up."""
        if self.claimed or not _LINUX or not self.top.is_dir():
            return
        self.claimed = True
        self.claim = _claimed(self.top)

    def _swapped(self, target: str, content: bytes) -> os.stat_result | None:
        """Write through the spare: exchanged with a regular file, renamed into
        place where there is none; the file's status as written (a rename or an
        exchange moves a name, it changes neither the size nor the mtime). None:
        nothing done, the caller replaces."""
        try:
            found = os.lstat(target)
        except FileNotFoundError:
            found = None
        if found is not None and not (stat.S_ISREG(found.st_mode) and found.st_nlink == 1):
            return None  # a link, a folder, or bytes reached by another name: replaced
        spare, done = self._filled(content, None if found is None else stat.S_IMODE(found.st_mode))
        if found is None:
            os.replace(spare, target)  # the spare is the new output
            self.spare = None
            return done
        assert self.exchange is not None
        try:
            self.exchange(spare, target)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EPERM):
                raise
            self.exchange = None  # not here: every later write replaces
            self._drop_spare()
            return None
        # the spare holds the old output now
        self.spare_size, self.spare_mode = found.st_size, stat.S_IMODE(found.st_mode)
        return done

    def _filled(self, content: bytes, mode: int | None) -> tuple[str, os.stat_result]:
        """The spare holding exactly ``content`` with permission bits ``mode`` (None:
        a new file's), and its status once written: the old one written over if
        nobody else has it open (``_reusable``), else a new one."""
        spare = self.spare
        fd = None if spare is None else _reusable(spare)
        if spare is None or fd is None:
            self._drop_spare()  # (a reader holds the old spare: it keeps its bytes)
            self._claim()  # before the first spare exists
            fd, spare = _created(self.top, ".sofrito-")
            self.spare, self.spare_size = spare, 0
            self.spare_mode = stat.S_IMODE(os.fstat(fd).st_mode)
            if self.new_mode is None:
                self.new_mode = self.spare_mode
        wanted = self.new_mode if mode is None else mode
        try:
            if wanted is not None and wanted != self.spare_mode:
                os.fchmod(fd, wanted)
                self.spare_mode = wanted
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            if self.spare_size > len(content):  # cut after the new bytes, not to 0 first
                os.ftruncate(fd, len(content))
            done = os.fstat(fd)
        finally:
            os.close(fd)  # which gives a lease back
        return spare, done


def _claimed(top: Path) -> int | None:
    """``top`` open, under a shared ``flock``; its dead runs' spares removed first
    if no other writer holds the lock (module docstring). None where the folder
    cannot be opened or locked: nothing removed, nothing held."""
    import fcntl  # noqa: PLC0415 (Unix only, as the exchange is)

    try:
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        alone = True
    except BlockingIOError:
        alone = False  # another writer is alive: its spare may be there
    except OSError:
        os.close(fd)  # no flock on this file system
        return None
    if alone:
        _remove_leftovers(top)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while another writer removes leftovers
    except OSError:
        os.close(fd)
        return None
    return fd


def _remove_leftovers(top: Path) -> None:
    """Remove the spares of dead runs: every ``.sofrito-*.tmp`` file at ``top``."""
    with contextlib.suppress(OSError), os.scandir(top) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".sofrito-") and name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False):
                        os.unlink(entry.path)


def _reusable(spare: str) -> int | None:
    """The spare opened for writing under a write lease, or None if it cannot be
    written over: a write lease is granted only when no other file descriptor
    has the file open (a reader that opened the output before it became the
    spare, a memory map of it), and while it is held nobody else can open
    the file, so no reader ever sees bytes change under it, as with a rename.
    Leases not supported (another file system): None, a new spare each time."""
    import fcntl  # noqa: PLC0415 (Unix only, as the exchange is: imported where it is used)

    try:
        fd = os.open(spare, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError:
        os.close(fd)
        return None
    return fd


def _replace(target: Path, content: bytes) -> None:
    """A temporary file beside ``target``, then a rename over it; the file keeps
    the mode ``target`` had, if it was a file (module docstring, "File modes")."""
    fd, temp = _created(target.parent, f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                old = os.stat(target)
                if stat.S_ISREG(old.st_mode):
                    os.fchmod(file.fileno(), stat.S_IMODE(old.st_mode))
            file.write(content)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _created(folder: Path, prefix: str) -> tuple[int, str]:
    """A new hidden file in ``folder``, open for writing, made as ``open`` makes
    a file (0o666 less the umask), unlike ``mkstemp``'s 0o600."""
    while True:
        path = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue


def _exchange() -> Exchange | None:
    """``renameat2(..., RENAME_EXCHANGE)`` from the C library, or None where there
    is none (not Linux, an older C library). ``ctypes`` is imported here, by the
    first write of a run (``OutputWriter.exchange``): a run that writes nothing
    never pays it."""
    if not _LINUX:
        return None
    import ctypes  # noqa: PLC0415 (only a run that writes imports it)

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int

    def exchange(first: str, second: str) -> None:
        old, new = os.fsencode(first), os.fsencode(second)
        if renameat2(AT_FDCWD, old, AT_FDCWD, new, RENAME_EXCHANGE) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), second)

    return exchange
