"""Demo data for ``gaita init --demo``, from ``config/<municipality>/demo.yaml``.

Idempotent: users are created once; demo cases are added only when the
database has no case yet.  The children are invented; their personal codes
are generated with a valid checksum.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from engine.cases import fire, open_case
from engine.definitions import FieldSpec, Workflow
from engine.errors import ConfigError, NotPermitted, Problem, msg
from engine.filings import file_report
from engine.personal_code import expected_check
from engine.queries import actor_for
from engine.runtime import Actor, Runtime
from engine.store import CASE, USER, load_case_row
from engine.yamlio import line_for, load_model
from gaita.accounts.passwords import hash_password

DEMO_FILE = "demo.yaml"
CHILDREN = ["Anna Bērziņa", "Jānis Kalniņš", "Līga Ozoliņa", "Ēriks Šņore", "Ģirts Čakste",
            "Žanete Ķēniņa", "Ņikita Ļaudāms", "Ūna Zvaigzne"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoUser(_Strict):
    username: str
    display_name: str
    role: str
    institution: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: Literal["lv", "en"] = "lv"
    digest: bool = False   # a copy of the institution's digest


class DemoCases(_Strict):
    opened_by: str
    school: str


class DemoData(_Strict):
    password: str = Field(min_length=12)   # every demo user's (the web app's login)
    users: list[DemoUser]
    cases: DemoCases


def load_demo_data(rt: Runtime) -> DemoData:
    path = Path(rt.municipality.directory) / DEMO_FILE
    data, raw = load_model(path, DemoData, ConfigError)
    problems = []
    codes = {i.code for i in rt.municipality.institutions}
    for i, user in enumerate(data.users):
        if user.role not in rt.registry.roles.user_roles:
            problems.append(Problem(str(path), line_for(raw, ("users", i)),
                                    msg("declaration.unknown_user_role", role=user.role),
                                    ("users", i, "role")))
        if user.institution is not None and user.institution not in codes:
            problems.append(Problem(str(path), line_for(raw, ("users", i)),
                                    msg("demo.unknown_institution", code=user.institution),
                                    ("users", i, "institution")))
    if problems:
        raise ConfigError(problems)
    return data


def load_users(db: sa.Engine, rt: Runtime) -> int:
    """Create the demo users that do not exist yet; returns how many were added."""
    users = USER
    data = load_demo_data(rt)
    with db.begin() as conn:
        known = set(conn.execute(sa.select(users.c.username)).scalars())
        fresh = [u for u in data.users if u.username not in known]
        password = _demo_hash(data.password) if fresh else None
        new = [{"username": u.username, "display_name": u.display_name, "role": u.role,
                "institution_code": u.institution, "email": u.email, "phone": u.phone,
                "locale": u.locale,
                "digest": u.digest, "active": True, "password_hash": password}
               for u in fresh]
        if new:
            conn.execute(sa.insert(users), new)
    return len(new)


@cache
def _demo_hash(password: str) -> str:
    """One Argon2 hash for all demo users (hashing is slow on purpose)."""
    return hash_password(password)


def load_demo(db: sa.Engine, rt: Runtime) -> tuple[int, int]:
    """Add the demo users, and demo cases if there are none; returns (users, cases) added."""
    added = load_users(db, rt)
    with db.connect() as conn:
        has_cases = conn.execute(sa.select(sa.func.count()).select_from(CASE)).scalar()
    return added, 0 if has_cases else _demo_cases(db, rt, load_demo_data(rt).cases)


def _demo_cases(db: sa.Engine, rt: Runtime, spec: DemoCases) -> int:
    actor = actor_for(db, spec.opened_by)
    count = 0
    for case_type in rt.registry.case_types:
        wf = rt.registry.latest(case_type)
        for steps in (0, 1, 3):
            result = open_case(db, rt, case_type, actor, child_name=CHILDREN[count % len(CHILDREN)],
                               child_code=demo_code(count), school=spec.school,
                               fields=sample_fields(wf.open.fields), risk_level="medium")
            count += 1
            _walk(db, rt, wf, result.reference, steps, actor)
    return count


def _walk(db: sa.Engine, rt: Runtime, wf: Workflow, reference: str, steps: int,
          actor: Actor) -> None:
    """Fire up to ``steps`` triggers the actor may fire that lead to non-terminal states,
    filing first the reports a step may wait for: those required for the case, else the
    state's first."""
    state = wf.initial
    for _ in range(steps):
        with db.connect() as conn:
            data = load_case_row(conn, reference)["data"]
        reports = [r for r in wf.state(state).reports if actor.role in r.roles]
        for report in [r for r in reports if r.required_for(data)] or reports[:1]:
            file_report(db, rt, reference, report.code, actor, sample_fields(report.fields))
        for t in wf.transitions_from(state):
            if actor.role not in t.roles or wf.state(t.dest).terminal:
                continue
            try:
                state = fire(db, rt, reference, t.trigger, actor, sample_fields(t.fields)).to_state
                break
            except NotPermitted:
                continue
        else:
            return


def sample_fields(specs: dict[str, FieldSpec]) -> dict[str, object]:
    """Valid values for declared fields (numbers high enough to pass threshold guards)."""
    values: dict[str, object] = {}
    for name, spec in specs.items():
        if spec.type == "int":
            values[name] = 25
        elif spec.type == "bool":
            values[name] = True
        elif spec.type == "date":
            values[name] = "2026-09-01"
        elif spec.type == "choice":
            values[name] = (spec.choices or [""])[0]
        else:
            values[name] = "Demonstrācijas piezīme: ā č ē ģ ī ķ ļ ņ š ū ž"
    return values


def demo_code(n: int) -> str:
    """A valid legacy-format personal code for an invented child born 2012-2015."""
    for serial in range(n, n + 11):   # one of any 11 serials has a usable check digit
        first10 = f"{(n % 27) + 1:02d}{(n % 12) + 1:02d}{12 + n % 4:02d}2{serial % 1000:03d}"
        check = expected_check(first10)
        if check < 10:
            return f"{first10[:6]}-{first10[6:]}{check}"
    raise AssertionError("unreachable")
