"""A small incremental build: word statistics over a folder of documents.

Run it with ``bash scripts/example.sh``. It builds a report over 200 generated
documents, then edits them in three ways and shows, each time, how many query
executions the rebuild needed:

1. nothing changed          -> nothing re-executes
2. one document, same words -> only that document's count (early cutoff)
3. one document, new words  -> that document, and the totals it feeds
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import sofrito as sf

document = sf.Input("example.document")
settings = sf.Input("example.settings", durability=sf.Durability.STABLE)
executions: Counter[str] = Counter()


@sf.query
def words(db: Any, name: str) -> tuple[str, ...]:
    executions["words"] += 1
    ignore = settings(db)["ignore"]
    return tuple(w for w in document(db, name).lower().split() if w not in ignore)


@sf.query
def word_count(db: Any, name: str) -> int:
    executions["word_count"] += 1
    return len(words(db, name))


@sf.query
def chapter_total(db: Any, chapter: int) -> int:
    executions["chapter_total"] += 1
    return sum(word_count(db, name) for name in chapter_documents(chapter))


@sf.query
def report(db: Any) -> str:
    executions["report"] += 1
    totals = [chapter_total(db, chapter) for chapter in range(CHAPTERS)]
    return f"{sum(totals)} words in {CHAPTERS} chapters (largest: {max(totals)})"


CHAPTERS = 10
PER_CHAPTER = 20


def chapter_documents(chapter: int) -> list[str]:
    return [f"ch{chapter:02}/doc{i:02}.md" for i in range(PER_CHAPTER)]


def build(rt: sf.Runtime, label: str) -> None:
    executions.clear()
    started = time.perf_counter()
    result = report(rt)
    elapsed = (time.perf_counter() - started) * 1000
    ran = ", ".join(f"{name} x{count}" for name, count in sorted(executions.items()))
    print(f"{label:<32} {result:<42} {elapsed:7.2f} ms   executed: {ran or 'nothing'}")


def main() -> None:
    rt = sf.Runtime()
    with rt.batch():
        rt.set(settings, {"ignore": frozenset({"the", "a"})})
        for chapter in range(CHAPTERS):
            for i, name in enumerate(chapter_documents(chapter)):
                rt.set(document[name], "the quick brown fox " * (i + chapter + 1))
    build(rt, "cold build")
    build(rt, "nothing changed")
    rt.set(document["ch03/doc07.md"], "THE quick BROWN fox " * 11)
    build(rt, "same words, other case")
    rt.set(document["ch03/doc07.md"], "a brand new text")
    build(rt, "one document rewritten")
    print(f"revision {rt.revision}: every rebuild re-executed only what the edit could change")


if __name__ == "__main__":
    main()
