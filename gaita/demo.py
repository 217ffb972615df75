"""Demo data for ``gaita init --demo``: a user for every role and a few cases.

Idempotent: users are created once; demo cases are added only when the
database has no case yet.  Children are invented; their personal codes are
generated with a valid checksum.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.cases import fire, open_case
from engine.definitions import FieldSpec, Workflow
from engine.errors import NotPermitted
from engine.runtime import Actor, Runtime
from engine.tables import Case, User

CHILDREN = ["Anna Bērziņa", "Jānis Kalniņš", "Līga Ozoliņa", "Ēriks Šņore", "Ģirts Čakste",
            "Žanete Ķēniņa", "Ņikita Ļaudāms", "Ūna Zvaigzne"]


def demo_users(rt: Runtime) -> list[dict[str, str | None]]:
    m = rt.municipality
    school = m.institutions_with_role("school")[0].code
    board = m.institution_for_role("education_board").code
    def staff(username: str, name: str, role: str) -> dict[str, str | None]:
        return {"username": username, "display_name": name, "role": "institution_staff",
                "institution_code": m.institution_for_role(role).code}
    return [
        {"username": "koordinatore", "display_name": "Inese Koordinatore", "role": "coordinator",
         "institution_code": board},
        {"username": "skola", "display_name": "Skolas sociālā pedagoģe", "role": "institution_staff",
         "institution_code": school},
        staff("socdienests", "Sociālā darbiniece", "social_service"),
        staff("policija", "Pašvaldības policijas inspektors", "municipal_police"),
        staff("barintiesa", "Bāriņtiesas speciāliste", "orphans_court"),
        {"username": "grupa", "display_name": "Sadarbības grupas locekle", "role": "group_member",
         "institution_code": m.institution_for_role("social_service").code},
        {"username": "vaditajs", "display_name": "Sadarbības grupas vadītājs", "role": "group_chair",
         "institution_code": None},
        {"username": "admin", "display_name": "Administrators", "role": "admin",
         "institution_code": None},
        {"username": "auditors", "display_name": "Auditors", "role": "auditor",
         "institution_code": None},
    ]


def load_demo(db: sa.Engine, rt: Runtime) -> tuple[int, int]:
    """Add the demo users, and demo cases if there are none; returns (users, cases) added."""
    added = load_users(db, rt)
    with db.connect() as conn:
        has_cases = conn.execute(sa.select(sa.func.count()).select_from(Case.__table__)).scalar()
    return added, 0 if has_cases else _demo_cases(db, rt)


def load_users(db: sa.Engine, rt: Runtime) -> int:
    users = User.__table__
    with db.begin() as conn:
        known = set(conn.execute(sa.select(users.c.username)).scalars())
        new = [u for u in demo_users(rt) if u["username"] not in known]
        if new:
            conn.execute(sa.insert(users), [{**u, "email": None, "locale": "lv", "active": True}
                                            for u in new])
    return len(new)


def _demo_cases(db: sa.Engine, rt: Runtime) -> int:
    coordinator = Actor("koordinatore", "coordinator", rt.municipality.institution_for_role(
        "education_board").code)
    school = rt.municipality.institutions_with_role("school")[0].code
    count = 0
    for i, case_type in enumerate(rt.registry.case_types):
        wf = rt.registry.latest(case_type)
        for steps in (0, 1, 3):
            child = CHILDREN[count % len(CHILDREN)]
            result = open_case(db, rt, case_type, coordinator, child_name=child,
                               child_code=demo_code(count), school=school,
                               fields=sample_fields(wf.open.fields), risk_level="medium")
            count += 1
            _walk(db, rt, wf, result.reference, steps, coordinator)
    return count


def _walk(db: sa.Engine, rt: Runtime, wf: Workflow, reference: str, steps: int,
          actor: Actor) -> None:
    """Fire up to ``steps`` coordinator triggers that lead to non-terminal states."""
    state = wf.initial
    for _ in range(steps):
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
    weights = (1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for serial in range(n, n + 11):   # one of any 11 serials has a usable check digit
        first10 = f"{(n % 27) + 1:02d}{(n % 12) + 1:02d}{12 + n % 4:02d}2{serial % 1000:03d}"
        check = (1101 - sum(int(d) * w for d, w in zip(first10, weights))) % 11
        if check < 10:
            return f"{first10[:6]}-{first10[6:]}{check}"
    raise AssertionError("unreachable")
