"""Named guards that workflow transitions may list under ``guards:``.

A guard is a pure function of a ``GuardContext`` returning ``None`` when the
transition may proceed, or a message (by code, with the values it compared)
saying why not.  The shared machine (``engine.machine``) evaluates the guards
as its transitions' conditions; the write path asks ``first_failure`` which
one refused.  The registry is the
set of names the workflow validator accepts, so a misspelt guard fails at
load time, not when a coordinator presses the button.
Thresholds come from municipality parameters, never from literals here
("repeated" means more than once by definition, not by configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import GuardFailed, Message, msg


@dataclass(frozen=True)
class GuardContext:
    data: Mapping[str, Any]          # the case's data with this transition's fields applied
    fields: Mapping[str, Any]        # the fields given with this transition
    param: Callable[[str], Any]      # municipality parameter lookup


Guard = Callable[[GuardContext], Message | None]
GUARDS: dict[str, Guard] = {}
GUARD_FIELDS: dict[str, tuple[str, ...]] = {}   # the case fields each guard reads


def first_failure(names: Iterable[str], ctx: GuardContext) -> GuardFailed | None:
    """The first of these guards that refuses ``ctx``, as the error naming it and why.
    (The shared machine evaluates the same guards as its transitions' conditions.)"""
    for name in names:
        reason = GUARDS[name](ctx)
        if reason is not None:
            return GuardFailed(name, reason)
    return None


def guard(*fields: str) -> Callable[[Guard], Guard]:
    """Register a guard and the case fields it reads; the validator checks that a
    workflow using the guard declares them."""
    def register(fn: Guard) -> Guard:
        GUARDS[fn.__name__] = fn
        GUARD_FIELDS[fn.__name__] = fields
        return fn
    return register


def _over(ctx: GuardContext, lessons_param: str, days_param: str) -> Message | None:
    """The count given with this step is GREATER THAN the parameter (thresholds.yaml's
    convention): lessons, or days for ages 5-6 (``age_group: preschool``).  The counts
    are the ones given with this step, never a count stored by an earlier one: the
    thresholds are per semester."""
    if ctx.data.get("age_group") == "preschool":
        limit = int(ctx.param(days_param))
        days = ctx.fields.get("unjustified_days")
        if days is not None and int(days) > limit:
            return None
        if days is None:
            return msg("guard.preschool_days_missing", limit=limit)
        return msg("guard.preschool_days", limit=limit, given=days)
    limit = int(ctx.param(lessons_param))
    lessons = ctx.fields.get("unjustified_lessons")
    if lessons is not None and int(lessons) > limit:
        return None
    if lessons is None:
        return msg("guard.lessons_missing", limit=limit)
    return msg("guard.lessons", limit=limit, given=lessons)


@guard("age_group", "unjustified_lessons", "unjustified_days", "social_problem_reason")
def absence_threshold_reached(ctx: GuardContext) -> Message | None:
    """MK 89: more than N unjustified lessons in a semester (ages 5-6: more than M
    days); below it, only with a social problem that explains the earlier report
    (Jelgava: JSLP takes absences that come with a social problem)."""
    refused = _over(ctx, "absences.unjustified_lessons_per_semester",
                    "absences.preschool_unjustified_days")
    if refused is None or str(ctx.fields.get("social_problem_reason") or "").strip():
        return None
    return msg("guard.below_threshold", reason=refused)


@guard("age_group", "unjustified_lessons", "unjustified_days")
def intervention_threshold_reached(ctx: GuardContext) -> Message | None:
    """DOMAIN.md §2.4 B3: the school's own intervention starts once the counter passes
    the configured number of lessons (ages 5-6: of days)."""
    return _over(ctx, "absences.in_school_intervention_from_lessons",
                 "absences.in_school_intervention_from_days")


def _required_flag(ctx: GuardContext, rule: str, field: str, reason: Message) -> Message | None:
    """Passes unless the municipality's ``rule`` is on and the case's ``field`` is not true."""
    if not ctx.param(rule) or ctx.data.get(field) is True:
        return None
    return reason


@guard("social_problem")
def social_problem_present(ctx: GuardContext) -> Message | None:
    """Jelgava: JSLP takes an absence case only when it comes with a social problem."""
    return _required_flag(ctx, "jslp.absences_require_social_problem", "social_problem",
                          msg("guard.social_problem"))


@guard("abroad_ruled_out")
def other_reasons_ruled_out(ctx: GuardContext) -> Message | None:
    """Jelgava: JSLP takes an unregistered child only once being abroad etc. is ruled out."""
    return _required_flag(ctx, "jslp.unregistered_requires_abroad_ruled_out", "abroad_ruled_out",
                          msg("guard.abroad_ruled_out"))


@guard("incident_count")
def substance_use_meets_jslp_threshold(ctx: GuardContext) -> Message | None:
    """Jelgava: JSLP takes a substance case when use reaches a set frequency."""
    minimum = int(ctx.param("jslp.substances_min_incidents"))
    count = int(ctx.data.get("incident_count") or 0)
    if count >= minimum:
        return None
    return msg("guard.substance_incidents", minimum=minimum, given=count)


@guard("incident_count")
def repeated_substance_use(ctx: GuardContext) -> Message | None:
    """Jelgava: narcologist consultations only for repeated use (a second incident or more)."""
    count = int(ctx.data.get("incident_count") or 0)
    if count > 1:
        return None
    return msg("guard.repeated_use", given=count)


@guard("no_improvement", "parents_not_cooperating")
def parents_not_cooperating(ctx: GuardContext) -> Message | None:
    """MK 474 p. 12: no improvement and the parents do not cooperate."""
    if ctx.data.get("no_improvement") is True and ctx.data.get("parents_not_cooperating") is True:
        return None
    return msg("guard.parents_not_cooperating")
