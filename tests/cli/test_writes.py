"""``OutputWriter``: outputs written atomically through one spare file, on real files.

Each test writes real files under ``tmp_path`` and looks at what is on disk
(the outputs, the spare, a reader's open file) between writes.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sofrito.cli.writes import OutputWriter
from tests.cli.flows import make_site
from tests.cli.running import TIMEOUT

linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the exchange is Linux's renameat2"
)


def spares(top: Path) -> list[Path]:
    return sorted(top.glob(".sofrito-*.tmp"))


def outputs(top: Path, *names: str) -> list[Path]:
    paths = [top / name for name in names]
    for at, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"old {at}".encode())
    return paths


@linux
def test_rewritten_outputs_go_through_one_spare_that_holds_the_old_bytes(tmp_path: Path) -> None:
    a, b = outputs(tmp_path, "a.html", "sub/b.html")
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        [spare] = spares(tmp_path)
        assert spare.read_bytes() == b"old 0"  # a's old file, swapped out
        writer.write(b, b"new b")
        assert spares(tmp_path) == [spare]  # the same spare, now holding b's old bytes
        assert spare.read_bytes() == b"old 1"
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"new b")
    assert spares(tmp_path) == []


def test_what_write_returns_is_the_file_now(tmp_path: Path) -> None:
    [a] = outputs(tmp_path, "a.html")
    with OutputWriter(tmp_path) as writer:
        size, mtime_ns = writer.write(a, b"twelve bytes")
        made = writer.write(tmp_path / "new" / "c.html", b"c")
    assert (size, mtime_ns) == (a.stat().st_size, a.stat().st_mtime_ns) == (12, mtime_ns)
    assert made == (1, (tmp_path / "new" / "c.html").stat().st_mtime_ns)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.html", "c.html", "new"]


def test_what_write_returns_is_the_file_now_when_the_spare_was_cut(tmp_path: Path) -> None:
    """The size and mtime come from the spare as written, before the exchange:
    after it was cut to the new bytes' length, not before."""
    a, b = outputs(tmp_path, "a.html", "b.html")
    a.write_bytes(b"x" * 5000)  # the spare will hold these after the first swap
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"a, rewritten")
        size, mtime_ns = writer.write(b, b"short")
    assert b.read_bytes() == b"short"
    assert (size, mtime_ns) == (5, b.stat().st_mtime_ns)


def test_a_reader_of_an_old_output_reads_its_old_bytes_to_the_end(tmp_path: Path) -> None:
    """As with a rename: the file a reader opened is never written again, even
    when it has become the spare (its write lease is refused)."""
    a, b, c = outputs(tmp_path, "a.html", "b.html", "c.html")
    with a.open("rb") as reading, OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"new b")
        writer.write(c, b"new c")
        assert reading.read() == b"old 0"
    assert [p.read_bytes() for p in (a, b, c)] == [b"new a", b"new b", b"new c"]
    assert spares(tmp_path) == []


def test_a_hard_linked_output_is_replaced_and_its_other_name_keeps_its_bytes(
    tmp_path: Path,
) -> None:
    a, b = outputs(tmp_path, "a.html", "b.html")
    os.link(a, tmp_path / "elsewhere")
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"new b")
    assert (tmp_path / "elsewhere").read_bytes() == b"old 0"
    assert (a.read_bytes(), b.read_bytes()) == (b"new a", b"new b")


def test_a_symbolic_link_is_replaced_not_followed(tmp_path: Path) -> None:
    kept, b = outputs(tmp_path, "kept.txt", "b.html")
    a = tmp_path / "a.html"
    a.symlink_to(kept)
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"new b")
    assert not a.is_symlink()
    assert a.read_bytes() == b"new a"
    assert kept.read_bytes() == b"old 0"


def test_a_folder_where_an_output_goes_is_an_error_and_stays(tmp_path: Path) -> None:
    (tmp_path / "a.html").mkdir()
    with OutputWriter(tmp_path) as writer, pytest.raises(IsADirectoryError):
        writer.write(tmp_path / "a.html", b"new a")
    assert (tmp_path / "a.html").is_dir()
    assert spares(tmp_path) == []


def test_an_output_shorter_than_the_spare_holds_only_its_own_bytes(tmp_path: Path) -> None:
    a, b, c = outputs(tmp_path, "a.html", "b.html", "c.html")
    a.write_bytes(b"a long old page " * 100)
    with OutputWriter(tmp_path) as writer:
        writer.write(a, b"new a")
        writer.write(b, b"b")  # written over the spare that held a's 1,600 bytes
        writer.write(c, b"a new page, longer than the old one")
    assert [p.read_bytes() for p in (a, b, c)] == [
        b"new a",
        b"b",
        b"a new page, longer than the old one",
    ]


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("exchange", [True, False], ids=["exchanged", "replaced"])
def test_outputs_are_readable_by_others_as_any_new_file_and_keep_a_mode_given_them(
    tmp_path: Path, exchange: bool
) -> None:
    """A web server running as another user must read the site: a new output
    has the mode ``open`` would give it (0o666 less the umask), not a temporary
    file's 0o600; an output whose mode someone set keeps it when rewritten."""
    kept, plain = outputs(tmp_path, "kept.html", "plain.html")
    kept.chmod(0o640)
    with OutputWriter(tmp_path) as writer:
        if not exchange:
            writer.exchange = None  # the path taken where renameat2 is not available
        writer.write(tmp_path / "new.html", b"new")
        writer.write(kept, b"kept, rewritten")
        writer.write(plain, b"plain, rewritten")
        writer.write(tmp_path / "sub" / "other.html", b"another new one")
    modes = {
        path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in tmp_path.rglob("*.html")
    }
    assert modes == {
        "new.html": 0o644, "kept.html": 0o640, "plain.html": 0o644, "sub/other.html": 0o644,
    }  # fmt: skip


WRITER = """
import sys
from pathlib import Path

from sofrito.cli.writes import OutputWriter

top = Path(sys.argv[1])
writer = OutputWriter(top)
writer.__enter__()
for line in sys.stdin:  # each line: an output to rewrite; its spare stays until the end
    writer.write(top / line.strip(), b"written by the child")
    print("wrote", flush=True)
"""


class Child:
    """A writer in another process, rewriting an output per line it is sent."""

    def __init__(self, top: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(top)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def write(self, name: str) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline() == "wrote\n"

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no handler, no finally runs
        self.process.wait(timeout=TIMEOUT)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@linux
def test_a_run_removes_the_spare_a_killed_run_left_in_the_output_folder(tmp_path: Path) -> None:
    """A run killed with SIGKILL leaves its spare: a hidden file holding an old
    page, that would be deployed with the site. The next run removed nothing
    (even a run that writes nothing): it stayed for good."""
    site = make_site(tmp_path)
    assert site.run().code == 0
    child = Child(site.out)
    child.write("a.html")
    child.kill()
    [left] = spares(site.out)
    assert left.read_bytes() == b"<h1>Alpha</h1>\nAlpha\nfirst page\n"  # a's old page
    result = site.run()  # a writes a.html back; a no-op would do the same
    assert result.code == 0, result.err
    assert spares(site.out) == []
    assert (site.out / "a.html").read_bytes() == b"<h1>Alpha</h1>\nAlpha\nfirst page\n"


@linux
def test_a_live_writers_spare_is_left_to_it_and_a_dead_ones_to_a_later_writer(
    tmp_path: Path,
) -> None:
    """Two writers of one folder at once (two runs from two stores): neither
    removes a spare while the other is alive, since a spare is closed between
    writes and nothing else tells a live run's from a dead one's. A leftover is
    removed by the next writer that is alone."""
    outputs(tmp_path, "a.html", "b.html")
    child = Child(tmp_path)
    try:
        child.write("a.html")  # the child's spare now exists, closed
        (tmp_path / ".sofrito-0123456789ab.tmp").write_bytes(b"a dead run's")
        assert len(spares(tmp_path)) == 2
        with OutputWriter(tmp_path) as writer:  # not alone: removes nothing
            assert len(spares(tmp_path)) == 2
            writer.write(tmp_path / "b.html", b"written here")
            assert len(spares(tmp_path)) == 3
        child.write("a.html")  # its spare is still there to fill and swap
        child.write("b.html")
        assert (tmp_path / "a.html").read_bytes() == b"written by the child"
    finally:
        child.kill()
    assert len(spares(tmp_path)) == 2  # the hand-made one, and the killed child's
    with OutputWriter(tmp_path):  # alone
        assert spares(tmp_path) == []


def test_a_writer_that_writes_nothing_loads_no_exchange(tmp_path: Path) -> None:
    """A run that writes nothing (a no-op) does not pay for the exchange's
    look-up: ``ctypes`` and ``renameat2`` are loaded by the first write. The
    writer still claims the folder (a dead run's spare is removed by a no-op)."""
    (tmp_path / ".sofrito-dead.tmp").write_bytes(b"a dead run's spare")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sofrito.cli.writes import OutputWriter\n"
        "with OutputWriter(Path(sys.argv[1])):\n"
        "    pass\n"
        "print('ctypes' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    assert done.stdout.strip() == "False"
    if sys.platform.startswith("linux"):
        assert spares(tmp_path) == []


def test_a_bare_name_is_written_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with OutputWriter(tmp_path) as writer:
        size, _ = writer.write("page.html", b"a page")
    assert (tmp_path / "page.html").read_bytes() == b"a page"
    assert size == 6
