"""``sofrito run`` with shared traces, in real processes: two checkouts of one site.

Each checkout keeps its own cache (``<flow dir>/.sofrito/cache.db``); the
team's traces live in one store named by ``SOFRITO_TRACE_STORE`` (a SQLite
file, or a PostgreSQL schema), sealed under ``SOFRITO_TRACE_SECRET``. The flow
logs every execution of its bodies (``tests/cli/flows.py``), here to a file
named by an environment variable read at run time, so that both checkouts run
the same code (a path in a module constant is part of the fingerprint, which
is right: it is code).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.cli.flows import FLOW, Result, Site, make_site
from tests.postgres import DSN as POSTGRES
from tests.postgres import need_postgres

SHARED_FLOW = FLOW.replace(
    'LOG = os.path.join(os.path.dirname(__file__), "executions.log")', ""
).replace('with open(LOG, "a")', 'with open(os.environ["FLOW_LOG"], "a")')
SECRET = "the team's trace secret, 32 bytes"


@pytest.fixture(params=["sqlite", "postgres"])
def team(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """``SOFRITO_TRACE_STORE``: a SQLite file, or a fresh PostgreSQL schema (the
    issue's target store; skipped without ``SOFRITO_TEST_POSTGRES``, as in
    tests/stores/test_postgres.py)."""
    if request.param == "sqlite":
        yield f"sqlite:{tmp_path / 'team.db'}"
        return
    need_postgres()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES else "?"
    yield f"{POSTGRES}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(site: Site, team: str, *, secret: str = SECRET, mode: str | None = None) -> Result:
    env = {
        **os.environ,
        "PYTHONWARNINGS": "error",
        "FLOW_LOG": str(site.root / "executions.log"),
        "SOFRITO_TRACE_SECRET": secret,
        "SOFRITO_TRACE_STORE": team,
    }
    if mode is not None:
        env["SOFRITO_TRACES"] = mode
    done = subprocess.run(
        [sys.executable, "-m", "sofrito", "run", str(site.flow)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def checkouts(tmp_path: Path) -> tuple[Site, Site]:
    sites = []
    for name in ("ci", "laptop"):
        (tmp_path / name).mkdir()
        sites.append(make_site(tmp_path / name, SHARED_FLOW))
    return sites[0], sites[1]


def outputs(site: Site) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(site.out.iterdir())}


def test_a_second_checkout_builds_from_the_first_ones_traces(tmp_path: Path, team: str) -> None:
    ci, laptop = checkouts(tmp_path)
    first = run(ci, team, mode="publish")
    assert first.code == 0, first.err
    assert "render content/a.md" in ci.executions()
    second = run(laptop, team, mode="read")
    assert second.code == 0, second.err
    # main and index read the listing and titles; every body's trace matches: none runs
    assert laptop.executions() == []
    assert second.out.startswith("0 executed, 0 reused, 3 written"), second.out
    assert outputs(laptop) == outputs(ci)


def test_an_edited_page_in_the_second_checkout_executes_only_its_cone(
    tmp_path: Path, team: str
) -> None:
    ci, laptop = checkouts(tmp_path)
    assert run(ci, team).code == 0
    ci.executions()
    laptop.page("b.md", "Beta\nsecond page, edited\n")
    result = run(laptop, team)
    assert result.code == 0, result.err
    assert laptop.executions() == ["render content/b.md", "title content/b.md"]
    assert result.out.startswith("2 executed"), result.out
    assert (laptop.out / "b.html").read_text() == "<h1>Beta</h1>\nBeta\nsecond page, edited\n"
    assert (laptop.out / "a.html").read_bytes() == (ci.out / "a.html").read_bytes()


def test_a_checkout_with_another_secret_computes_everything(tmp_path: Path, team: str) -> None:
    ci, laptop = checkouts(tmp_path)
    assert run(ci, team).code == 0
    result = run(laptop, team, secret="not the team's secret, 32 bytes")
    # PYTHONWARNINGS=error: the refusal is a warning, never the query's own error
    assert result.code == 0, result.err
    assert "was refused" in result.err
    assert "does not verify" in result.err
    assert "render content/a.md" in laptop.executions()
    assert outputs(laptop) == outputs(ci)


def test_a_bad_traces_mode_is_one_usage_line(tmp_path: Path) -> None:
    ci, _ = checkouts(tmp_path)
    result = run(ci, f"sqlite:{tmp_path / 'team.db'}", mode="wirte")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "sofrito: error: SOFRITO_TRACES='wirte': expected 'read', 'publish' or "
        "'read,publish', not wirte"
    ]
