"""An incremental build on the embedded SQLite store: word statistics over a folder.

``bash scripts/wordcount.sh`` runs it four times, each a new process:

1. ``--reset``: make 200 documents in ``build/wordcount/docs/`` and build
   cold: every query executes, and the result is committed to
   ``build/wordcount/cache.db``;
2. no edit: the new process opens the cache and executes nothing;
3. ``--edit ch03/doc07.md "..."`` with the same words in other case: only
   that document's ``words`` re-executes, then early cutoff stops the change;
4. ``--edit`` with new words: that document's chain and the totals above it.

Every run reads the folder, writes each file's text into an input (an equal
text is a no-op write), builds the report, writes it to
``build/wordcount/report.txt`` and commits, printing the receipt's sequence
number. Run it yourself with ``--root DIR`` to point it at other documents.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sofrito as sf
from sofrito.stores import SqliteStore

document = sf.Input("wordcount.document")
"""The text of one document, by its path relative to the docs folder."""
listing = sf.Input("wordcount.listing")
"""Every document's path, sorted: adding or removing a file changes it."""
settings = sf.Input("wordcount.settings", durability=sf.Durability.STABLE)

executions: Counter[str] = Counter()


@sf.query(name="wordcount.words")
def words(db: Any, name: str) -> tuple[str, ...]:
    executions["words"] += 1
    ignore = settings(db)["ignore"]
    return tuple(w for w in document(db, name).lower().split() if w not in ignore)


@sf.query(name="wordcount.word_count")
def word_count(db: Any, name: str) -> int:
    executions["word_count"] += 1
    return len(words(db, name))


@sf.query(name="wordcount.chapters")
def chapters(db: Any) -> dict[str, tuple[str, ...]]:
    """Documents grouped by their folder: one chapter per folder."""
    executions["chapters"] += 1
    grouped: dict[str, list[str]] = {}
    for name in listing(db):
        grouped.setdefault(name.rpartition("/")[0], []).append(name)
    return {chapter: tuple(names) for chapter, names in grouped.items()}


@sf.query(name="wordcount.chapter_total")
def chapter_total(db: Any, chapter: str) -> int:
    executions["chapter_total"] += 1
    return sum(word_count(db, name) for name in chapters(db)[chapter])


@sf.query(name="wordcount.report")
def report(db: Any) -> str:
    executions["report"] += 1
    totals = {chapter: chapter_total(db, chapter) for chapter in chapters(db)}
    largest = max(totals, key=totals.__getitem__, default="-")
    return f"{sum(totals.values())} words in {len(totals)} chapters (largest: {largest})"


def make_documents(docs: Path) -> None:
    """Ten chapters of twenty documents, of different lengths."""
    for chapter in range(10):
        for i in range(20):
            path = docs / f"ch{chapter:02}" / f"doc{i:02}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("the quick brown fox " * (i + chapter + 1))


def read_folder(rt: sf.Runtime, docs: Path) -> None:
    """Mirror the folder into inputs; unchanged files are no-op writes."""
    names = sorted(path.relative_to(docs).as_posix() for path in docs.rglob("*.md"))
    with rt.batch():
        rt.set(settings, {"ignore": frozenset({"the", "a"})})
        rt.set(listing, tuple(names))
        for name in names:
            rt.set(document[name], (docs / name).read_text())


def build(root: Path, label: str) -> None:
    docs, cache = root / "docs", root / "cache.db"
    opened = time.perf_counter()
    rt = sf.Runtime(store=SqliteStore(cache), runtime_id="wordcount")
    read_folder(rt, docs)
    executions.clear()
    started = time.perf_counter()
    result = report(rt)
    elapsed = (time.perf_counter() - started) * 1000
    (root / "report.txt").write_text(result + "\n")
    receipt = rt.commit(label)
    total = (time.perf_counter() - opened) * 1000
    ran = ", ".join(f"{name} x{count}" for name, count in sorted(executions.items()))
    print(f"{label:<24} {result:<44} build {elapsed:6.2f} ms  (process {total:6.1f} ms)")
    print(f"{'':<24} executed: {ran or 'nothing'}; commit #{receipt.sequence}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("build/wordcount"))
    parser.add_argument("--reset", action="store_true", help="new documents, empty cache")
    parser.add_argument("--edit", nargs=2, metavar=("DOC", "TEXT"), help="rewrite one document")
    parser.add_argument("--label", default=None, help="how this run is named in the output")
    args = parser.parse_args()
    root: Path = args.root
    if args.reset:
        shutil.rmtree(root, ignore_errors=True)
        make_documents(root / "docs")
    elif not (root / "docs").is_dir():
        make_documents(root / "docs")
    if args.edit:
        name, text = args.edit
        (root / "docs" / name).write_text(text)
    build(root, args.label or ("edit " + args.edit[0] if args.edit else "build"))


if __name__ == "__main__":
    main()
