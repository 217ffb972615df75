"""``gaita demo generate``: many invented open cases, for the dashboard and for measuring.

Every case goes through the one write path: ``engine.cases.open_case``, then a
few declared transitions with ``fire`` and, for some, ``engine.pause.pause``,
each at its own moment on a fixed clock, so the dates spread over the past
months as if the cases had been worked on.  Cases are spread evenly over the
case types and at random (from ``seed``) over the schools (the institutions
with the per-case role), risk levels and states; a transition is fired by a
user role it permits (institution staff only as the institution holding the
task) and never into a terminal state, so every case stays open.  The children
are invented, with Latvian names and valid, unique legacy personal codes.
"""

from __future__ import annotations

import random
import time as timer
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa

from engine.cases import fire, open_case
from engine.children import code_lookup_hash
from engine.clock import FixedClock
from engine.definitions import RISK_LEVELS, FieldSpec, Workflow
from engine.errors import NotPermitted
from engine.pause import pause
from engine.personal_code import expected_check
from engine.runtime import Actor, Runtime
from engine.store import CHILD, USER
from gaita.demo import sample_fields

#: (boy's name, girl's name) and (masculine, feminine) surnames.
FIRST_NAMES = [("Jānis", "Anna"), ("Mārtiņš", "Līga"), ("Kārlis", "Elza"), ("Ēriks", "Sofija"),
               ("Ģirts", "Marta"), ("Dāvis", "Alise"), ("Emīls", "Emīlija"), ("Kristaps", "Paula"),
               ("Roberts", "Estere"), ("Artūrs", "Katrīna"), ("Ričards", "Žanete"),
               ("Oskars", "Dārta"), ("Markuss", "Māra"), ("Gustavs", "Ērika"), ("Rūdolfs", "Ieva"),
               ("Aleksandrs", "Ance"), ("Miķelis", "Laura"), ("Tomass", "Luīze")]
SURNAMES = [("Bērziņš", "Bērziņa"), ("Kalniņš", "Kalniņa"), ("Ozoliņš", "Ozoliņa"),
            ("Liepiņš", "Liepiņa"), ("Krūmiņš", "Krūmiņa"), ("Kļaviņš", "Kļaviņa"),
            ("Eglītis", "Eglīte"), ("Lācis", "Lāce"), ("Balodis", "Balode"), ("Vītols", "Vītola"),
            ("Jansons", "Jansone"), ("Pētersons", "Pētersone"), ("Šmits", "Šmite"),
            ("Čakste", "Čakste"), ("Zvaigzne", "Zvaigzne"), ("Ķēniņš", "Ķēniņa"),
            ("Grīnbergs", "Grīnberga"), ("Sproģis", "Sproģe")]
#: How many transitions a case gets (0: still in its first state), and how often.
STEPS, STEP_WEIGHTS = (0, 1, 2, 3, 4), (25, 30, 25, 12, 8)
RISK_WEIGHTS = {"low": 3, "medium": 5, "high": 2}
PAUSED_SHARE = 0.03   # of the cases ending in a pausable state
USERNAME = "demo-generator"   # the actor when no demo user has the role and institution


@dataclass
class Generated:
    cases: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_state: Counter[tuple[str, str]] = field(default_factory=Counter)
    transitions: int = 0
    paused: int = 0
    first_opened: datetime | None = None
    seconds: float = 0.0


def generate(db: sa.Engine, rt: Runtime, n: int, *, seed: int = 0, months: int = 6,
             progress: Callable[[int, int], None] | None = None) -> Generated:
    """Open ``n`` invented cases over the past ``months`` (see the module's docs);
    ``progress(done, n)`` is called every 500 cases and at the end."""
    started = timer.perf_counter()
    rng = random.Random(seed)   # noqa: S311 - invented demo data, reproducible by seed
    now = rt.clock.now()
    clock = FixedClock(now)
    at = replace(rt, clock=clock)   # the same runtime, its clock set per step
    cal = rt.calendar
    days = _working_days_back(rt, cal.local_date(now), months * 23)
    schools = [i.code for i in rt.municipality.institutions
               if rt.registry.roles.per_case & set(i.roles)]
    actors = _Actors(db, rt)
    children = _Children(db, rt, rng)
    types = rt.registry.case_types
    done = Generated()
    for i in range(n):
        wf = rt.registry.latest(types[i % len(types)])
        school = rng.choice(schools)
        steps = rng.choices(STEPS, STEP_WEIGHTS)[0]
        moments = _moments(rng, cal.timezone, days, steps + 1, now)
        clock.set(moments[0])
        name, code = children.next()
        opener = actors.pick(rng, wf.open.roles, owner=school)
        risk = rng.choices(RISK_LEVELS, [RISK_WEIGHTS[r] for r in RISK_LEVELS])[0]
        result = open_case(db, at, wf.case_type, opener, child_name=name, child_code=code,
                           school=school, fields=_fields(rng, wf.open.fields), risk_level=risk)
        state, owner = result.to_state, result.task.assignee if result.task else None
        for moment in moments[1:]:
            clock.set(moment)
            fired = _step(db, at, wf, result.reference, state, owner, rng, actors)
            if fired is None:
                break
            state, owner = fired
            done.transitions += 1
        if wf.state(state).pausable and rng.random() < PAUSED_SHARE:
            clock.set(min(moments[-1] + timedelta(hours=1), now))
            reason = rng.choice(list(rt.municipality.pauses.reasons))
            try:
                pause(db, at, result.reference, actors.pick(rng, actors.acting(wf, state), owner),
                      reason)
                done.paused += 1
            except NotPermitted:
                pass
        done.cases += 1
        done.by_type[wf.case_type] += 1
        done.by_state[wf.case_type, state] += 1
        done.first_opened = min(done.first_opened or moments[0], moments[0])
        if progress is not None and (done.cases % 500 == 0 or done.cases == n):
            progress(done.cases, n)
    done.seconds = timer.perf_counter() - started
    return done


def _step(db: sa.Engine, rt: Runtime, wf: Workflow, reference: str, state: str,
          owner: str | None, rng: random.Random, actors: _Actors) -> tuple[str, str | None] | None:
    """Fire one declared transition into a non-terminal state; its new (state, owner),
    or ``None`` when none can be fired (a guard or a role stops every one)."""
    candidates = [t for t in wf.transitions_from(state) if not wf.state(t.dest).terminal]
    rng.shuffle(candidates)
    for t in candidates:
        try:
            actor = actors.pick(rng, t.roles, owner)
            result = fire(db, rt, reference, t.trigger, actor, _fields(rng, t.fields))
        except NotPermitted:
            continue
        return result.to_state, result.task.assignee if result.task else None
    return None


class _Actors:
    """Who acts: a demo user with the role (and institution) if there is one, else
    ``demo-generator`` in that role."""

    def __init__(self, db: sa.Engine, rt: Runtime) -> None:
        roles = rt.registry.roles
        self.roles = roles
        self.coordinating = rt.municipality.institution_for_role(roles.coordinating).code
        users = USER
        with db.connect() as conn:
            self.users = {(r.role, r.institution_code): r.username for r in conn.execute(
                sa.select(users.c.username, users.c.role, users.c.institution_code)
                .where(users.c.active.is_(True)).order_by(users.c.id))}

    def acting(self, wf: Workflow, state: str) -> list[str]:
        """The user roles that may act on a case in ``state`` (and so pause it)."""
        return sorted({r for t in wf.transitions_from(state) for r in t.roles})

    def pick(self, rng: random.Random, permitted: Sequence[str], owner: str | None) -> Actor:
        # roles that reach every case, or their own tasks' (not the group's: escalated only)
        eligible = [r for r in permitted if r not in self.roles.read_only
                    and not self.roles.administers(r)
                    and self.roles.user_roles[r].scope in ("all", "own_tasks")
                    and (owner is not None or not self.roles.own_tasks_only(r))]
        if not eligible:
            raise NotPermitted("demo.no_actor")
        role = rng.choice(eligible)
        institution = owner if self.roles.own_tasks_only(role) else self.coordinating
        username = self.users.get((role, institution)) or self.users.get((role, None), USERNAME)
        return Actor(username, role, institution)


class _Children:
    """Invented children: a Latvian name and a valid legacy personal code (born
    2009-2020, school age in the 2020s), unique here and against the database."""

    def __init__(self, db: sa.Engine, rt: Runtime, rng: random.Random) -> None:
        self.rng, self.key = rng, rt.code_key
        with db.connect() as conn:
            self.taken = set(conn.execute(sa.select(CHILD.c.code_hash)).scalars())

    def next(self) -> tuple[str, str]:
        rng = self.rng
        boy = rng.random() < 0.5
        name = f"{rng.choice(FIRST_NAMES)[0 if boy else 1]} {rng.choice(SURNAMES)[0 if boy else 1]}"
        while True:
            born = date(2009, 1, 1) + timedelta(days=rng.randrange(12 * 365))
            first10 = f"{born:%d%m%y}2{rng.randrange(1000):03d}"
            check = expected_check(first10)
            digits = f"{first10}{check}"
            if check < 10 and (key := code_lookup_hash(self.key, digits)) not in self.taken:
                self.taken.add(key)
                return name, f"{digits[:6]}-{digits[6:]}"


def _fields(rng: random.Random, specs: dict[str, FieldSpec]) -> dict[str, object]:
    """Valid values (``gaita.demo.sample_fields``), with a random choice for choice fields."""
    values = sample_fields(specs)
    for name, spec in specs.items():
        if spec.choices:
            values[name] = rng.choice(spec.choices)
    return values


def _working_days_back(rt: Runtime, today: date, count: int) -> list[date]:
    """Today (if a working day) and the ``count`` working days before it, newest first."""
    cal = rt.calendar
    days: list[date] = []
    day = today
    while len(days) <= count:
        if cal.is_working_day(day):
            days.append(day)
        day -= timedelta(days=1)
    return days


def _moments(rng: random.Random, tz: tzinfo, days: list[date], count: int,
             now: datetime) -> list[datetime]:
    """``count`` increasing instants in working hours: the opening at any working day in
    ``days``, the last step most often in the last two or three weeks."""
    opened = rng.randrange(len(days))
    last = min(opened, int(rng.expovariate(1 / 10)))
    ages = [opened, *sorted((rng.randint(last, opened) for _ in range(count - 2)), reverse=True)]
    ages += [last] if count > 1 else []
    moments: list[datetime] = []
    for age in ages:
        moment = datetime.combine(days[age], time(8 + rng.randrange(9), rng.randrange(60)),
                                  tzinfo=tz)
        if moments and moment <= moments[-1]:
            moment = moments[-1] + timedelta(minutes=rng.randint(5, 90))
        moments.append(min(moment, now))
    return moments
