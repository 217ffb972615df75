"""Notes on a case: text a user adds, in a field group (``notes`` or ``support_plan``)
that the access policy shows only to the roles that see it.

A note is a ``note`` event on the case's hash chain, so it is audited, ordered
and tamper-evident like every other change; it does not change the state.
The policy decides who may add one, and nobody writes into a group they
cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from engine import policy
from engine.errors import FieldError, Named, PermissionDenied, msg
from engine.events import EventKind, append_event
from engine.runtime import Actor, Runtime
from engine.store import load_case_row, require_version

#: The field groups a note may be written in (``workflows/roles.yaml``).
NOTE_GROUPS = ("notes", "support_plan")
MAX_NOTE = 8000


@dataclass(frozen=True)
class NoteAdded:
    reference: str
    event_id: int
    version: int


def add_note(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, text: str, *,
             group: str = "notes", expected_version: int | None = None) -> NoteAdded:
    """Add a note; ``expected_version`` refuses it (``StaleCase``) if the case changed."""
    text = text.strip()
    if not text:
        raise FieldError("text", msg("note.empty"))
    if len(text) > MAX_NOTE:
        raise FieldError("text", msg("note.too_long", limit=MAX_NOTE, length=len(text)))
    if group not in NOTE_GROUPS or group not in rt.registry.roles.field_groups:
        raise FieldError("group", msg("field.not_choice", value=repr(group), choices=NOTE_GROUPS))
    now = rt.clock.now()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        subject = policy.require_on_case(conn, rt, actor, policy.Action.ADD_NOTE, case)
        if group not in policy.visible_groups(rt.registry.roles, subject):
            roles = rt.registry.roles
            raise PermissionDenied("note.group_not_seen", role=policy.user_role(roles, actor.role),
                                   group=Named(group, roles.field_groups[group]))
        require_version(case, expected_version)
        event_id = append_event(conn, case, actor, now, kind=EventKind.NOTE,
                                payload={"group": group, "text": text})
    return NoteAdded(reference, event_id, case["version"] + 1)
