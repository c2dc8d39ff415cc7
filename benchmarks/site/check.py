"""Is a rebuild correct? Judged on the output folder alone, the same way for every tool.

The tools differ in what their sites show (sofrito's pages have backlinks
and neighbours, Pelican's simple theme has tag and category pages, MkDocs
has a nav): a checker that listed, per tool, which pages should change
would encode each tool's features by hand and could be wrong about any of
them. Instead every rule reads the output itself:

- the edited page's output shows the edit;
- a title edit: **every file that showed the old title before the step
  shows the new one after, and none still shows the old one**. Whatever
  the tool's templates put a title into (an index, a tag page, a
  neighbour's link, a backlink, a nav on every page, a search index), the
  rule follows it, and a tool is judged on what it shows, not on features
  it does not have;
- a template edit: every HTML file shows the template's new text;
- a page added: it is built, and every *listing* (a file that showed every
  sampled title after the cold build: an index, a nav on every page, a
  search index) lists it;
- a page deleted: its output is gone and no file still shows its title.

A stale file is a failure. Files rewritten with the same bytes are not: the
table reports them beside the files written, as the cost they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from benchmarks.site.measure import Snapshot


@dataclass(frozen=True)
class Expect:
    """What a step must show in the output; the empty ``Expect`` asks nothing (cold, no-op)."""

    shows: Mapping[str, str] = field(default_factory=dict)
    """Output path -> a text it must hold (the edited or added page's new text)."""
    follows: tuple[str, str] | None = None
    """(old, new): every file that held ``old`` before holds ``new`` after, none holds ``old``."""
    everywhere: str | None = None
    """A text every HTML output must hold (the template edit)."""
    gone: tuple[str, ...] = ()
    """Outputs that must no longer exist (the deleted page's)."""
    vanishes: str | None = None
    """A text no output may hold after the step (the deleted page's title)."""
    listed: str | None = None
    """A text every listing must hold after the step (the added page's title)."""

    def before_probes(self) -> set[str]:
        """What the snapshot before the step must look for."""
        return {self.follows[0]} if self.follows else set()

    def after_probes(self) -> set[str]:
        """What the snapshot after the step must look for."""
        probes = set(self.shows.values())
        probes.update(self.follows or ())
        probes.update(p for p in (self.everywhere, self.vanishes, self.listed) if p)
        return probes


@dataclass(frozen=True)
class Verdict:
    correct: bool
    reasons: tuple[str, ...] = ()
    """Why not, when not correct."""
    covered: tuple[str, ...] = ()
    """What the check looked at (the files that showed the old title, the listings), since
    "correct" on a site that shows a title in two files says less than in two hundred."""

    def __str__(self) -> str:
        return "yes" if self.correct else "no: " + "; ".join(self.reasons)


@dataclass(frozen=True)
class Writes:
    """Files a step wrote (new or changed inode, mtime or bytes), of which same bytes, deleted."""

    written: int
    same_bytes: int
    deleted: int


def writes(before: Snapshot, after: Snapshot) -> Writes:
    written = same = 0
    for path, state in after.files.items():
        old = before.files.get(path)
        if old == state:
            continue
        written += 1
        if old is not None and old.digest == state.digest:
            same += 1
    return Writes(written, same, sum(1 for path in before.files if path not in after.files))


def listings(cold: Snapshot, sample: Iterable[str]) -> frozenset[str]:
    """The files that hold every sampled title: the site's full listings."""
    sets = [cold.holding[title] for title in sample]
    return frozenset.intersection(*sets) if sets else frozenset()


def check(before: Snapshot, after: Snapshot, expect: Expect, listed_in: frozenset[str]) -> Verdict:
    """The verdict on one step: ``listed_in`` are the listings found after the cold build."""
    reasons = [
        *_shown(after, expect),
        *_followed(before, after, expect),
        *_everywhere(after, expect),
        *_gone(after, expect),
        *_listed(after, expect, listed_in),
    ]
    return Verdict(not reasons, tuple(reasons), _covered(before, after, expect, listed_in))


def _covered(
    before: Snapshot, after: Snapshot, expect: Expect, listed_in: frozenset[str]
) -> tuple[str, ...]:
    covered = []
    if expect.follows is not None:
        covered.append(f"the old title was in {len(before.holding[expect.follows[0]]):,} files")
    if expect.everywhere is not None:
        covered.append(f"{sum(1 for path in after.files if path.endswith('.html')):,} HTML files")
    if expect.listed is not None:
        listed = len(listed_in.intersection(after.files))
        covered.append(f"{listed:,} listing{'s' if listed != 1 else ''}")
    return tuple(covered)


def _shown(after: Snapshot, expect: Expect) -> list[str]:
    reasons = []
    for output, text in expect.shows.items():
        if output not in after.files:
            reasons.append(f"{output} is missing")
        elif output not in after.holding[text]:
            reasons.append(f"{output} does not show {text!r} (stale)")
    return reasons


def _followed(before: Snapshot, after: Snapshot, expect: Expect) -> list[str]:
    if expect.follows is None:
        return []
    old, new = expect.follows
    showed = before.holding[old]
    stale = sorted((showed - after.holding[new]) | after.holding[old])
    if not stale:
        return []
    return [f"{_count(stale)} of {len(showed):,} files showing the old title are stale{_eg(stale)}"]


def _everywhere(after: Snapshot, expect: Expect) -> list[str]:
    if expect.everywhere is None:
        return []
    html = [path for path in after.files if path.endswith(".html")]
    missing = sorted(path for path in html if path not in after.holding[expect.everywhere])
    if not missing:
        return []
    where = f"{_count(missing)} of {len(html):,} HTML files{_eg(missing)}"
    return [f"the template edit is missing from {where}"]


def _gone(after: Snapshot, expect: Expect) -> list[str]:
    reasons = [
        f"the deleted page's {path} is still there" for path in expect.gone if path in after.files
    ]
    if expect.vanishes is not None and after.holding[expect.vanishes]:
        still = sorted(after.holding[expect.vanishes])
        reasons.append(f"{_count(still)} files still show the deleted page's title{_eg(still)}")
    return reasons


def _listed(after: Snapshot, expect: Expect, listed_in: frozenset[str]) -> list[str]:
    if expect.listed is None:
        return []
    lists = listed_in.intersection(after.files)
    missing = sorted(lists - after.holding[expect.listed])
    if not missing:
        return []
    return [
        f"{_count(missing)} of {len(lists):,} listings do not list the added page{_eg(missing)}"
    ]


def _count(paths: list[str]) -> str:
    return f"{len(paths):,}"


def _eg(paths: list[str]) -> str:
    return f" (e.g. {paths[0]})"
