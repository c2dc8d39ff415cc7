"""Random edit sequences on the example site, each run a fresh ``sofrito run``
process, against a cold build of the same sources.

The engine's property tests compare with an oracle on random graphs; this
compares the whole command on the real flow: after every edit, the folder
built incrementally (its cache warm, loaded on demand by a new process)
must hold exactly the files that a first build of the same sources writes.
Two stale values were found this way before it was a test (a glob that
matched nothing at first, a listing's record dropped by a commit):
docs/persistence.md, "Loading on demand".

Small by design (a few pages, a few examples, derandomized): each step
starts two processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.example_site import generator

pytest.importorskip("markdown_it")
pytest.importorskip("jinja2")
pytest.importorskip("pygments")
pytest.importorskip("yaml")

generate = generator()


def _run(folder: Path, *options: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sofrito", "run", str(folder / "flow.py"), *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _built(folder: Path) -> dict[str, bytes]:
    out = folder / "_site"
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def _pages(folder: Path) -> list[Path]:
    return sorted((folder / "content").rglob("*.md"))


def _replace_line(page: Path, field: str, value: str) -> None:
    lines = page.read_text().split("\n")
    for index, line in enumerate(lines):
        if line.startswith(f"{field}:"):
            lines[index] = f"{field}: {value}"
            break
    page.write_text("\n".join(lines))


Edit = Callable[[Path, int, int], None]
"""An edit of the site folder: (folder, a number to pick a page, a number for text)."""


def _body(folder: Path, pick: int, n: int) -> None:
    page = _pages(folder)[pick % len(_pages(folder))]
    page.write_text(page.read_text() + f"\nAn edited paragraph {n}.\n")


def _title(folder: Path, pick: int, n: int) -> None:
    _replace_line(_pages(folder)[pick % len(_pages(folder))], "title", f"Retitled {n}")


def _date(folder: Path, pick: int, n: int) -> None:
    _replace_line(
        _pages(folder)[pick % len(_pages(folder))], "date", f"20{10 + n % 15}-0{1 + n % 9}-1{n % 9}"
    )


def _tag(folder: Path, pick: int, n: int) -> None:
    page = _pages(folder)[pick % len(_pages(folder))]
    page.write_text(page.read_text().replace("tags: [", f"tags: [t{n % 3}, ", 1))


def _link(folder: Path, pick: int, n: int) -> None:
    pages = _pages(folder)
    source, target = pages[pick % len(pages)], pages[n % len(pages)]
    href = os.path.relpath(target, source.parent)
    source.write_text(source.read_text() + f"\nSee [that page]({href}).\n")


def _add(folder: Path, pick: int, n: int) -> None:
    page = folder / "content" / "notes" / "2020" / f"page-9{n:04d}.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    other = _pages(folder)[pick % len(_pages(folder))]
    href = os.path.relpath(other, page.parent)
    page.write_text(
        f"---\ntitle: Added {n}\ndate: 2021-03-1{n % 9}\ntags: [python, added{n % 2}]\n---\n\n"
        f"# A heading\n\nThe body of {n}, with [a link]({href}).\n"
    )


def _delete(folder: Path, pick: int, n: int) -> None:
    pages = _pages(folder)
    if len(pages) > 1:
        pages[pick % len(pages)].unlink()


def _template(folder: Path, pick: int, n: int) -> None:
    base = folder / "templates" / "base.html"
    base.write_text(base.read_text().replace("<footer>", f"<footer>mark {n} ", 1))


def _config(folder: Path, pick: int, n: int) -> None:
    config = folder / "site.toml"
    config.write_text(config.read_text().replace('title = "', f'title = "v{n} ', 1))


EDITS: tuple[Edit, ...] = (_body, _title, _date, _tag, _link, _add, _delete, _template, _config)

edit_sequences = st.lists(
    st.lists(
        st.tuples(st.sampled_from(EDITS), st.integers(0, 50), st.integers(0, 999)),
        min_size=1,
        max_size=2,
    ),  # the edits of one run
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(runs=edit_sequences)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_every_incremental_run_writes_what_a_cold_build_writes(
    tmp_path: Path, jobs: str, runs: list[list[tuple[Edit, int, int]]]
) -> None:
    """``jobs``: the incremental runs' ``--jobs`` (2: the run and a worker process,
    which computes its share of the summaries and renders), against cold builds
    with none."""
    site = tmp_path / "incremental"
    shutil.rmtree(site, ignore_errors=True)
    generate.generate(site, 4, seed=len(runs))
    _run(site, "--jobs", jobs)
    for step, edits in enumerate(runs):
        for edit, pick, n in edits:
            edit(site, pick, n)
        _run(site, "--jobs", jobs)
        cold = tmp_path / f"cold{step}"
        shutil.rmtree(cold, ignore_errors=True)
        shutil.copytree(site, cold, ignore=shutil.ignore_patterns(".sofrito", "_site"))
        _run(cold)
        incremental, expected = _built(site), _built(cold)
        wrong = sorted(
            k for k in incremental.keys() | expected.keys() if incremental.get(k) != expected.get(k)
        )
        assert not wrong, f"after {[e.__name__ for e, _, _ in edits]} (run {step}): {wrong}"
