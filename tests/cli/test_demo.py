"""Demo data and role declarations: bad files are named, with line and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import ConfigError, InvalidWorkflowDefinition
from engine.registry import load_roles
from gaita.demo import demo_code, load_demo_data
from gaita.settings import ROOT
from tests.conftest import make_test_app


def test_demo_codes_are_valid_personal_codes() -> None:
    from engine.personal_code import parse_personal_code

    assert all(parse_personal_code(demo_code(n)).format == "legacy" for n in range(300))


def test_demo_file_with_unknown_role_or_institution_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "jelgava"
    shutil.copytree(ROOT / "config" / "jelgava", config)
    demo = config / "demo.yaml"
    text = demo.read_text(encoding="utf-8")
    demo.write_text(text.replace("role: auditor}", "role: inspector}")
                    .replace("institution: jip}", "institution: nowhere}"), encoding="utf-8")
    app = make_test_app(f"sqlite:///{tmp_path / 'ok.db'}")   # the real config still loads
    app.rt.municipality = app.rt.municipality.model_copy(update={"directory": str(config)})
    with pytest.raises(ConfigError) as exc:
        load_demo_data(app.rt)
    message = str(exc.value)
    assert "demo.yaml:" in message and "unknown user role 'inspector'" in message
    assert "unknown institution 'nowhere'" in message


def test_roles_file_allows_one_per_case_role(tmp_path: Path) -> None:
    wf = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", wf)
    roles = wf / "roles.yaml"
    roles.write_text(roles.read_text(encoding="utf-8").replace(
        "en: Social service}", "en: Social service, per_case: true}"), encoding="utf-8")
    with pytest.raises(InvalidWorkflowDefinition, match="only one role may be per_case"):
        load_roles(wf)


def test_roles_file_rejects_unknown_role_attributes(tmp_path: Path) -> None:
    wf = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", wf)
    roles = wf / "roles.yaml"
    roles.write_text(roles.read_text(encoding="utf-8").replace(
        "scope: own_tasks}", "scope: everything}"), encoding="utf-8")
    with pytest.raises(InvalidWorkflowDefinition, match=r"roles.yaml:\d+: user_roles.institution_staff.scope"):
        load_roles(wf)
