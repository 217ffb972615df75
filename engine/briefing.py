"""What an institution is told about its task: what is asked and why, and whom to ask.

The inbox task page and the email-link page (``gaita.web``) show an institution,
beside the task and its deadline:

* the **referral**: the step that gave it the task (the event that opened it: who,
  when, the fields written with the step and its note), and the notes written on
  the case since then;
* the **case fields** it may read;
* the **contact**: the person who assigned the step (their name, institution,
  email and phone, when the account has them), the coordinator who last worked
  on the case when that is someone else, and the coordinating institution's
  mailbox;
* the **pause**: since when the case's clock stands still, if it does.

Fields and notes are only those of the field groups the reader sees
(``policy.visible_groups``: its user role's ∩ its institution's roles'); the
child's identity is no case field and never part of a brief.  The caller has
read the task under the access policy and logged the read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.events import EventKind
from engine.runtime import Runtime
from engine.store import EVENT, USER
from engine.tables import TaskKind

#: The contact details a brief gives of a person.
CONTACT_COLUMNS = ("username", "display_name", "institution_code", "email", "phone")
#: How many notes written since the task opened a brief shows (the newest).
MAX_NOTES = 10


def task_brief(conn: sa.Connection, rt: Runtime, task: Mapping[str, Any],
               case: Mapping[str, Any], subject: policy.Subject) -> dict[str, Any]:
    """The brief of ``task`` (a task row) on ``case`` (its ``data``, ``case_type``,
    ``definition_version`` and ``paused_at``) for ``subject``.

    ``referral``: ``at``, ``by`` (a contact or None), ``trigger``, ``fields``,
    ``note``; ``notes``: ``[{at, by, group, text}]``; ``case``: the case's fields;
    ``contacts``: the assigning person, then the coordinator if someone else;
    ``coordinating``: the coordinating institution's code; ``paused_since``."""
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    groups = policy.visible_groups(rt.registry.roles, subject)
    declared = policy.field_groups_of(wf)

    def seen(fields: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in fields.items()
                if declared.get(k, policy.CASE_DATA) in groups}

    opened = conn.execute(sa.select(EVENT).where(
        EVENT.c.id == task["opened_by_event"])).mappings().first()
    notes = conn.execute(sa.select(EVENT.c.at, EVENT.c.actor, EVENT.c.payload).where(
        EVENT.c.case_id == task["case_id"], EVENT.c.kind == EventKind.NOTE.value,
        EVENT.c.at >= task["opened_at"]).order_by(EVENT.c.seq.desc())
        .limit(MAX_NOTES)).mappings().all()
    coordinating = rt.registry.roles.coordinating
    coordinator_codes = [i.code for i in rt.municipality.institutions_with_role(coordinating)]
    last_coordinator = conn.execute(sa.select(EVENT.c.actor).where(
        EVENT.c.case_id == task["case_id"],
        EVENT.c.actor_institution.in_(coordinator_codes),
        EVENT.c.actor.in_(sa.select(USER.c.username))).order_by(EVENT.c.seq.desc())
        .limit(1)).scalar() if coordinator_codes else None
    names = {opened["actor"] if opened is not None else None, last_coordinator,
             *(n["actor"] for n in notes)} - {None}
    people = {r["username"]: dict(r) for r in conn.execute(sa.select(
        *(USER.c[c] for c in CONTACT_COLUMNS)).where(
            USER.c.username.in_(sorted(names)))).mappings()} if names else {}

    # a report's recipient reads what the report declares (engine.filings), no more
    read_case = task["kind"] in (TaskKind.STATE, TaskKind.DECISION)
    referral = None
    if opened is not None and read_case:
        payload = dict(opened["payload"] or {})
        shown = seen(payload) if opened["kind"] in (EventKind.OPENED, EventKind.TRANSITION) \
            else {}
        note = shown.pop("note", None)
        referral = {"at": opened["at"], "by": people.get(opened["actor"]),
                    "trigger": opened["trigger"], "from_state": opened["from_state"],
                    "kind": opened["kind"], "fields": shown, "note": note}
    contacts = [c for c in (people.get(opened["actor"]) if opened is not None else None,
                            people.get(last_coordinator or "")) if c is not None]
    if len(contacts) == 2 and contacts[0]["username"] == contacts[1]["username"]:
        contacts.pop()
    return {
        "referral": referral,
        "notes": [{"at": n["at"], "by": people.get(n["actor"]), "text": n["payload"].get("text"),
                   "group": n["payload"].get("group")}
                  for n in notes if read_case and n["payload"].get("group") in groups],
        "case": seen(case["data"] or {}) if read_case else {},
        "contacts": contacts,
        "coordinating": coordinator_codes[0] if coordinator_codes else None,
        "paused_since": case["paused_at"],
    }
