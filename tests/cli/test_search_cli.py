"""``gaita case search`` and the duplicate refusal of ``gaita case open`` (exit 5 unless
``--anyway``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import SCHOOL, Gaita

CODE = "030915-21235"
OPEN = ("case", "open", "absences", "--as", "skola", "--school", SCHOOL, "--child-code", CODE,
        "--child-name", "Jānis Bērziņš", "--field", "age_group=basic")


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Gaita:
    tmp: Path = tmp_path_factory.mktemp("search")
    g = Gaita(f"sqlite:///{tmp / 'gaita.db'}", tmp)
    g("init", "--demo")
    return g


def test_open_duplicate_refused_then_confirmed_and_searched(cli: Gaita) -> None:
    first = cli.json(*OPEN)["reference"]
    refused = cli(*OPEN, ok=False)
    assert refused.returncode == 5
    assert first in refused.stderr and "--anyway" not in refused.stdout
    assert "already has an open case" in refused.stderr
    assert "queued for the cooperation group" in refused.stderr
    second = cli(*OPEN, "--anyway")
    assert "queued for the cooperation group as a repeated case" in second.stderr
    found = cli.json("case", "search", "berzins janis", "--as", "koordinatore")
    assert len(found["items"]) == 2 and found["names_searched"]
    assert {r["child_name"] for r in found["items"]} == {"Jānis Bērziņš"}
    by_code = cli("case", "search", CODE.replace("-", ""), "--as", "koordinatore").stdout
    assert first in by_code and "Jānis Bērziņš" in by_code
    # the operator (no --as) does not see the child's identity: references only
    assert "nothing found" in cli("case", "search", "berzins").stdout
    assert first in cli("case", "search", first.lower()).stdout


def test_an_empty_search_is_an_error(cli: Gaita) -> None:
    proc = cli("case", "search", "  ", "--as", "koordinatore", ok=False)
    assert proc.returncode == 1 and "type what to search for" in proc.stderr
