"""A case's events: what can happen to a case (``EventKind``), and the hash chain.

Every change to a case is an appended ``case_event`` row, written in the same
transaction as the change, numbered ``seq`` 1, 2, … per case.  Each row
carries ``hash = sha256(prev_hash + canonical(event))``; the first event of a
case chains from the empty string, and the case row records the head (last
``seq`` and ``hash``).  Changing, removing or reordering any stored event,
or cutting the chain short, breaks ``verify_chain``.

``append_event`` records something that does not move the case (an answer, a
note, a pause, an email that failed); it bumps the case's version, so a
concurrent change is refused as stale rather than interleaved.  A transition's
event is written by the write path itself (``engine.cases``), from ``next_event``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from engine.errors import StaleCase
from engine.runtime import Actor
from engine.store import CASE, EVENT, Row, stored_version


class EventKind(StrEnum):
    """``case_event.kind`` (at most 16 characters)."""

    OPENED = "opened"                 # the case's first event
    TRANSITION = "transition"         # a declared transition fired
    MIGRATED = "migrated"             # moved to a newer workflow version
    TASK = "task"                     # an answer on a task, or a decision on a request
    NOTE = "note"                     # a note in a field group
    PAUSED = "paused"                 # the clock stopped
    RESUMED = "resumed"
    PAUSE_TOO_LONG = "pause_too_long"
    QUEUED = "queued"                 # in the cooperation group's queue
    SCHEDULED = "scheduled"           # on a meeting's agenda
    DECISION = "decision"             # the group's decision and its agreed actions
    REMINDED = "reminded"             # the scheduler's reminder before a deadline
    OVERDUE = "overdue"               # a deadline passed
    ESCALATED = "escalated"           # a step of the escalation ladder
    UNACKNOWLEDGED = "unacknowledged"   # receipt not confirmed in time
    MAIL_FAILED = "mail_failed"       # an email could not be delivered
    GROUP_WAITING = "group_waiting"   # an urgent referral waits with no meeting: alerted
    REPORT_FILED = "report_filed"     # a declared report made to another institution
    REPORT_WAIVED = "report_waived"   # a declared report not made, with the reason
    TRANSFER_REQUESTED = "transfer_request"   # a new school is asked to take the case over
    TRANSFERRED = "transferred"       # the new school accepted: it is the case's school
    TRANSFER_DECLINED = "transfer_decline"    # the new school declined, with a reason
    PARTY_ADDED = "party_added"       # another child recorded on the case (engine.parties)
    RESIDENCE_REPORT = "residence_rep"    # MK 474 p. 12 report to another municipality
    ADDRESS_GIVEN = "address_given"   # its receiving address, given by the coordinator


_INSERT_EVENT = sa.insert(EVENT).returning(EVENT.c.id)
_BUMP_CASE = sa.update(CASE).where(CASE.c.id == sa.bindparam("b_id"),
                                   CASE.c.version == sa.bindparam("b_version"))


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    body = {
        "case_id": event["case_id"], "seq": event["seq"], "at": _iso(event["at"]),
        "actor": event["actor"], "actor_role": event["actor_role"],
        "actor_institution": event["actor_institution"], "kind": event["kind"],
        "trigger": event["trigger"], "from_state": event["from_state"],
        "to_state": event["to_state"], "definition_version": event["definition_version"],
        "payload": event["payload"],
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")


def next_event(case: Mapping[str, Any], actor: Actor, now: datetime, *, kind: EventKind,
               trigger: str | None, from_state: str | None, to_state: str,
               definition_version: int, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The case's next ``case_event`` row, chained to its last one."""
    event = {"case_id": case["id"], "seq": case["event_seq"] + 1, "at": now,
             "actor": actor.username, "actor_role": actor.role,
             "actor_institution": actor.institution, "kind": kind.value, "trigger": trigger,
             "from_state": from_state, "to_state": to_state,
             "definition_version": definition_version, "payload": dict(payload),
             "prev_hash": case["last_event_hash"]}
    event["hash"] = event_hash(case["last_event_hash"], event)
    return event


def insert_event(conn: sa.Connection, event: Mapping[str, Any]) -> int:
    return int(conn.execute(_INSERT_EVENT, event).scalar_one())


def append_event(conn: sa.Connection, case: Mapping[str, Any], actor: Actor, now: datetime, *,
                 kind: EventKind, payload: Mapping[str, Any]) -> int:
    """Record something that happened on a case without changing its state.  Bumps
    the case's version (``StaleCase`` if it changed since ``case`` was read)."""
    event = next_event(case, actor, now, kind=kind, trigger=None, from_state=case["state"],
                       to_state=case["state"], definition_version=case["definition_version"],
                       payload=payload)
    updated = conn.execute(_BUMP_CASE, {
        "b_id": case["id"], "b_version": case["version"], "version": case["version"] + 1,
        "event_seq": event["seq"], "last_event_hash": event["hash"], "updated_at": now})
    if updated.rowcount != 1:
        raise StaleCase(case["reference"], case["version"], stored_version(conn, case["id"]))
    return insert_event(conn, event)


def verify_chain(conn: sa.Connection, case_id: int) -> list[str]:
    """Problems found in one case's chain; an empty list means it verifies."""
    head = conn.execute(sa.select(CASE.c.event_seq, CASE.c.last_event_hash)
                        .where(CASE.c.id == case_id)).one()
    rows = conn.execute(sa.select(EVENT).where(EVENT.c.case_id == case_id).order_by(EVENT.c.seq))
    return chain_problems(rows.mappings(), head.event_seq, head.last_event_hash)


def chain_problems(events: Iterable[Row], head_seq: int, head_hash: str) -> list[str]:
    """Check events (in ``seq`` order) against each other and against the head the
    case row records, so removing events from the end of the chain is found too."""
    problems: list[str] = []
    prev, expected_seq = "", 1
    for row in events:
        if row["seq"] != expected_seq:
            problems.append(f"event seq {row['seq']} where {expected_seq} was expected")
        if row["prev_hash"] != prev:
            problems.append(f"event {row['seq']}: prev_hash does not match the previous event")
        if event_hash(row["prev_hash"], row) != row["hash"]:
            problems.append(f"event {row['seq']}: hash does not match its content")
        prev, expected_seq = row["hash"], row["seq"] + 1
    if (expected_seq - 1, prev) != (head_seq, head_hash):
        problems.append(f"the case records {head_seq} events ending in "
                        f"{head_hash[:12]}…, the chain has {expected_seq - 1} "
                        f"ending in {prev[:12] or '(none)'}…")
    return problems
