"""Generate a site of N pages for the example flow (examples/site/flow.py).

``python examples/site/generate.py --pages 1000 --out DIR``:

``DIR`` becomes a complete site folder: this folder's ``flow.py``,
``site.toml``, ``templates/``, ``static/`` and its hand-written pages
(``content/guide/``), plus N generated pages under ``content/<section>/<year>/``,
each with front matter (title, date, tags, description), a few paragraphs,
headings, a code block in one of several languages, and links to other
pages (relative ``.md`` links, which the flow rewrites and turns into
backlinks). Build it with ``sofrito run DIR/flow.py``.

The same ``--seed`` gives the same bytes: tests and benchmarks compare
runs on one corpus. Files whose bytes are already right are not rewritten,
so generating again into a built folder leaves the next run a no-op.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
from pathlib import Path

HERE = Path(__file__).parent
SKELETON = ("flow.py", "site.toml", "templates", "static", "content/guide")

SECTIONS = ("notes", "recipes", "essays", "reference", "journal")
TAGS = (
    "python", "rust", "sql", "caching", "build", "incremental", "web", "testing",
    "design", "history", "tools", "performance", "databases", "markdown", "cooking",
)  # fmt: skip
WORDS = (
    "query revision memo input cell cache edit page site build graph value key store commit",
    "sofrito onion garlic tomato pepper olive slowly stir heat pan minutes until soft sweet",
    "the a of and to in is that it with as for on was by this be are from or an at which",
    "dependency early cutoff durable snapshot boundary receipt listing fingerprint template",
)
WORDS = tuple(word for line in WORDS for word in line.split())
CODE = {
    "python": (
        "def {name}(db, path):\n"
        "    text = sf.fs.file(db, path).decode()\n"
        "    return len(text.split())  # {n} words\n"
    ),
    "rust": 'fn {name}(input: &str) -> usize {{\n    input.split_whitespace().count() + {n}\n}}\n',
    "sql": "SELECT path, count(*) AS {name}\nFROM pages\nWHERE size > {n}\nGROUP BY path;\n",
    "javascript": (
        "export function {name}(pages) {{\n  return pages.filter((p) => p.size > {n});\n}}\n"
    ),
    "bash": 'for f in content/*.md; do\n  wc -w "$f"  # {name} {n}\ndone\n',
    "toml": '[{name}]\nentries = {n}\nenabled = true\n',
}  # fmt: skip


def page_path(number: int, rng: random.Random) -> str:
    section = SECTIONS[number % len(SECTIONS)]
    year = 2015 + rng.randrange(11)
    return f"content/{section}/{year}/page-{number:05d}.md"


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randrange(6, 16)) for _ in range(rng.randrange(2, 6)))


def relative_link(source: str, target: str) -> str:
    """The relative ``.md`` link from the page ``source`` to the page ``target``."""
    here = Path(source).parent.parts
    there = Path(target).parts
    common = 0
    while common < min(len(here), len(there) - 1) and here[common] == there[common]:
        common += 1
    return "/".join([".."] * (len(here) - common) + list(there[common:]))


def page(number: int, path: str, paths: list[str], rng: random.Random) -> str:
    """One page's Markdown, front matter included."""
    date = dt.date(int(path.split("/")[2]), 1, 1) + dt.timedelta(days=rng.randrange(365))
    tags = sorted(rng.sample(TAGS, rng.randrange(1, 4)))
    title = f"{sentence(rng, rng.randrange(2, 6))[:-1]} ({number})"
    parts = [
        "---",
        f"title: {title!r}",
        f"date: {date.isoformat()}",
        f"tags: [{', '.join(tags)}]",
        f"description: {sentence(rng, 8)!r}",
        "---",
        "",
        paragraph(rng),
        "",
    ]
    for section in range(rng.randrange(1, 4)):
        parts += [f"## {sentence(rng, 3)[:-1]} {section + 1}", "", paragraph(rng), ""]
        if rng.random() < 0.4:
            parts += [f"### {sentence(rng, 2)[:-1]}", "", paragraph(rng), ""]
    language = rng.choice(list(CODE))
    code = CODE[language].format(name=f"f{number}", n=rng.randrange(100))
    parts += [f"```{language}", code.rstrip("\n"), "```", ""]
    links = rng.sample(paths, min(len(paths), rng.randrange(0, 4)))
    if links:
        shown = [
            f"[{Path(link).stem}]({relative_link(path, link)})" for link in links if link != path
        ]
        if shown:
            parts += ["See also " + ", ".join(shown) + ".", ""]
    if rng.random() < 0.2:
        parts += [f"A note.[^1] {sentence(rng, 6)}", "", f"[^1]: {sentence(rng, 7)}", ""]
    return "\n".join(parts)


def corpus(pages: int, seed: int) -> dict[str, str]:
    """``{relpath: text}`` of ``pages`` generated pages."""
    rng = random.Random(seed)
    paths = [page_path(number, rng) for number in range(pages)]
    return {path: page(number, path, paths, rng) for number, path in enumerate(paths)}


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless the file already holds it (its mtime then stays)."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def generate(out: Path, pages: int, seed: int = 0) -> int:
    """Fill ``out`` with the flow, its templates and ``pages`` pages; return the files written."""
    written = 0
    for name in SKELETON:
        source = HERE / name
        files = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
        for file in files:
            written += write_if_changed(out / file.relative_to(HERE), file.read_bytes())
    for relpath, text in corpus(pages, seed).items():
        written += write_if_changed(out / relpath, text.encode())
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200, help="generated pages (default 200)")
    parser.add_argument("--out", type=Path, required=True, help="the site folder to fill")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same bytes")
    parser.add_argument("--clean", action="store_true", help="delete the folder's content/ first")
    args = parser.parse_args()
    if args.clean:
        shutil.rmtree(args.out / "content", ignore_errors=True)
    written = generate(args.out, args.pages, args.seed)
    print(f"{args.pages} pages in {args.out}/content ({written} files written)")
    print(f"build it: sofrito run {args.out}/flow.py")


if __name__ == "__main__":
    main()
