"""The case event hash chain and the access log.

Each ``case_event`` row carries ``hash = sha256(prev_hash + canonical(event))``;
the first event of a case chains from the empty string.  Changing, removing
or reordering any stored event breaks ``verify_chain``.  Writes to a case are
audited by its events; reads are written to ``access_log``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.tables import AccessLog, Case, CaseEvent

CASE = Case.__table__
EVENT = CaseEvent.__table__
ACCESS = AccessLog.__table__


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


def verify_chain(conn: sa.Connection, case_id: int) -> list[str]:
    """Problems found in one case's chain; an empty list means it verifies."""
    head = conn.execute(sa.select(CASE.c.event_seq, CASE.c.last_event_hash)
                        .where(CASE.c.id == case_id)).one()
    rows = conn.execute(sa.select(EVENT).where(EVENT.c.case_id == case_id).order_by(EVENT.c.seq))
    return chain_problems(rows.mappings(), head.event_seq, head.last_event_hash)


def chain_problems(events: Iterable[Mapping[str, Any]], head_seq: int, head_hash: str) -> list[str]:
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


def log_access(conn: sa.Connection, case_id: int, actor: str, action: str, channel: str,
               at: datetime, detail: str | None = None) -> None:
    conn.execute(sa.insert(ACCESS).values(case_id=case_id, actor=actor, action=action,
                                          channel=channel, at=at, detail=detail))
