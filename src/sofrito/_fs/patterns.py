"""Glob patterns over ``/``-separated relative paths, one rule for the scan and ``sf.fs.glob``.

A pattern is split on ``/`` into segments. ``**`` as a whole segment
matches any number of folders (none included); any other segment is an
``fnmatch`` pattern for one path component (``*``, ``?``, ``[...]``),
matched case-sensitively on every platform, so a flow builds the same site
on macOS and Linux. As in the shell, a wildcard does not match a name that
starts with ``.`` unless the pattern segment itself starts with ``.``: a
``**/*.md`` does not walk into ``.git`` or ``.sofrito``.

Why one matcher written here rather than ``pathlib.Path.glob`` for the walk
and ``fnmatch`` for ``glob``: the two would disagree on ``**`` and on hidden
names (``fnmatch``'s ``*`` crosses ``/``; ``pathlib`` matches dot files),
and a file the scan set but ``sf.fs.glob`` did not list (or the reverse) is
a page that silently never builds. ``glob.translate`` would do it, but only
from Python 3.13.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["Pattern", "compile_pattern", "is_normal", "normalize"]

_MAGIC = re.compile(r"[*?\[]")
_DRIVE = re.compile(r"[A-Za-z]:")
"""A Windows drive: an absolute path (compiled once: ``main`` names 10,000 outputs)."""
_NORMAL = re.compile(r"(?![A-Za-z]:)[^./\\][^/\\]*(?:/[^./\\][^/\\]*)*")
"""A path ``normalize`` returns as it is: parts not empty, none starting with ``.``
(so no ``.`` or ``..``; other dotted names take the long way), no ``\\``, no drive."""
is_normal = _NORMAL.fullmatch
"""Whether a str is a path ``normalize`` returns as it is (not None): for a caller
that checks 10,000 paths a run (``sofrito run``'s outputs), without a call of
``normalize`` each."""


class Pattern(NamedTuple):
    """A compiled glob: ``matches(relpath)`` and the literal folder a walk starts from."""

    text: str
    segments: tuple[str, ...]
    regexes: tuple[re.Pattern[str] | None, ...]  # None for a "**" segment
    prefix: tuple[str, ...]
    """The leading segments without wildcards: the folder the walk starts in."""
    whole: re.Pattern[str]
    """The segments as one regex over ``"/" + relpath`` (``_whole``): a scan matches
    10,000 paths, and one C call each beats the backtracking walk of ``_match``."""
    folder: re.Pattern[str] | None
    """All segments but the last, over ``"/" + folder relpath`` (``""`` for the top),
    and ``name``, the last one, over a file name: ``whole`` cut in two where it
    can be (not after a final ``**``), so a walk matches a folder once and each
    file by its name (``name_matcher``)."""
    name: re.Pattern[str] | None

    @property
    def hidden(self) -> bool:
        """Whether a segment names hidden files (starts with ``.``), so a walk enters them."""
        return any(segment.startswith(".") for segment in self.segments)

    @property
    def recursive(self) -> bool:
        """Whether the pattern can match at any depth (it has a ``**``)."""
        return "**" in self.segments

    def matches(self, relpath: str) -> bool:
        """Whether the normalized ``relpath`` matches the whole pattern."""
        return self.whole.match("/" + relpath) is not None

    def name_matcher(self, relfolder: str) -> Callable[[str], object] | None:
        """For the files directly in ``relfolder``: a test of a file's name, true
        (not None) when ``relfolder/name`` matches; None when no file there can.
        ``whole`` backtracks over every folder of a path for each file (2 us for
        a long name, four folders down); ``name`` is one segment (0.2 us)."""
        slashed = f"/{relfolder}" if relfolder else ""
        if self.folder is None or self.name is None:
            whole, prefix = self.whole.match, slashed + "/"
            return lambda name: whole(prefix + name)
        if self.folder.match(slashed) is None:
            return None
        return self.name.match


@functools.lru_cache(maxsize=256)
def compile_pattern(text: str) -> Pattern:
    """Compile ``text``; a ``ValueError`` names a pattern that leaves the folder."""
    segments = tuple(normalize(text, what="pattern").split("/"))
    regexes = tuple(
        None if segment == "**" else re.compile(fnmatch.translate(segment)) for segment in segments
    )
    prefix: list[str] = []
    for segment in segments[:-1]:
        if _MAGIC.search(segment):
            break
        prefix.append(segment)
    parts = _parts(segments)
    whole = re.compile("".join(parts) + r"\Z", re.DOTALL)
    if segments[-1] == "**":  # its name may be folders deep: no cut
        return Pattern(text, segments, regexes, tuple(prefix), whole, None, None)
    folder = re.compile("".join(parts[:-1]) + r"\Z", re.DOTALL)
    name = re.compile(parts[-1].removeprefix("/") + r"\Z", re.DOTALL)
    return Pattern(text, segments, regexes, tuple(prefix), whole, folder, name)


def _parts(segments: tuple[str, ...]) -> list[str]:
    """The regex of ``_match``'s rule, a part per segment, each name preceded by
    ``/``: a ``**`` is any number of visible names (at least one when it ends the
    pattern after another ``**``, as ``_match`` has it), any other segment one
    name, hidden only if the segment starts with ``.``. tests/test_fs.py holds the
    two to the same answers. No part but a ``**`` matches a ``/`` other than its
    first character, so the last part, when it is no ``**``, matches exactly the
    last name of a path: the cut of ``Pattern.folder`` and ``Pattern.name``."""
    parts: list[str] = []
    for at, segment in enumerate(segments):
        if segment == "**":
            last = at == len(segments) - 1
            repeat = "+" if last and at > 0 and segments[at - 1] == "**" else "*"
            parts.append(f"(?:/(?!\\.)[^/]*){repeat}")
        else:
            hidden = "" if segment.startswith(".") else "(?!\\.)"
            parts.append("/" + hidden + _segment(segment))
    return parts


def _segment(segment: str) -> str:
    """One segment's ``fnmatch`` rule within one name: ``*`` and ``?`` and a class
    never match ``/``. A class is translated by ``fnmatch`` itself (its ranges and
    negation), found as ``fnmatch`` finds it."""
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        i += 1
        if c == "*":
            if not out or out[-1] != "[^/]*":
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i
            if j < n and segment[j] == "!":
                j += 1
            if j < n and segment[j] == "]":
                j += 1
            while j < n and segment[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
            else:
                translated = fnmatch.translate(segment[i - 1 : j + 1])  # (?s:[...])\Z
                out.append("(?!/)" + translated.removeprefix("(?s:").removesuffix(")\\Z"))
                i = j + 1
        else:
            out.append(re.escape(c))
    return "".join(out)


def normalize(relpath: str, *, what: str = "path") -> str:
    """``relpath`` as a flow names files: relative, ``/``-separated, no ``.`` or ``..``.

    ``ValueError`` for an absolute path or one that climbs out of the flow's
    folder: a flow reads and writes inside its own folder only.
    """
    if not isinstance(relpath, str):
        raise TypeError(f"a {what} is a str, not {type(relpath).__name__}: {relpath!r}")
    if _NORMAL.fullmatch(relpath):  # already so (``main`` names 10,000 outputs a run)
        return relpath
    return _normalized(relpath, what)


def _normalized(relpath: str, what: str) -> str:
    """``normalize``'s rule, part by part."""
    text = relpath.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise ValueError(f"{what} {relpath!r} is absolute; name it relative to the flow's folder")
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ValueError(f"{what} {relpath!r} leaves the flow's folder")
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise ValueError(f"{what} {relpath!r} names no file")
    return "/".join(parts)


def _segment_matches(regex: re.Pattern[str], segment: str, name: str) -> bool:
    if name.startswith(".") and not segment.startswith("."):
        return False  # wildcards skip hidden names, as in the shell
    return regex.match(name) is not None


def _match(
    segments: tuple[str, ...],
    regexes: tuple[re.Pattern[str] | None, ...],
    names: tuple[str, ...],
    i: int,
    j: int,
) -> bool:
    """Whether ``names[j:]`` matches ``segments[i:]`` (backtracking over ``**``)."""
    while i < len(segments):
        regex = regexes[i]
        if regex is None:  # "**": zero or more visible folders, then the rest
            if i == len(segments) - 1:
                return all(not name.startswith(".") for name in names[j:])
            for k in range(j, len(names)):
                if _match(segments, regexes, names, i + 1, k):
                    return True
                if names[k].startswith("."):
                    return False
            return False
        if j >= len(names) or not _segment_matches(regex, segments[i], names[j]):
            return False
        i += 1
        j += 1
    return j == len(names)
