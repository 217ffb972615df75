"""Notes on a case: text a user adds, in a field group (``notes`` or ``support_plan``)
that the access policy shows only to the roles that see it.

A note is a ``note`` event on the case's hash chain, so it is audited, ordered
and tamper-evident like every other change; it does not change the state.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from engine.cases import append_event, load_case_row
from engine.errors import FieldError, PermissionDenied, StaleCase
from engine.runtime import Actor, Runtime

NOTE = "note"
#: The field groups a note may be written in (``workflows/roles.yaml``).
NOTE_GROUPS = ("notes", "support_plan")
MAX_NOTE = 8000


@dataclass(frozen=True)
class NoteAdded:
    reference: str
    event_id: int
    version: int


def add_note(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, text: str, *,
             group: str = "notes", expected_version: int | None = None,
             visible: Collection[str] | None = None) -> NoteAdded:
    """Add a note; ``expected_version`` refuses it (``StaleCase``) if the case changed.
    ``visible``: the field groups the writer sees (``engine.policy.visible_groups``);
    nobody writes into a group they cannot read."""
    text = text.strip()
    if not text:
        raise FieldError("text", "a note cannot be empty")
    if len(text) > MAX_NOTE:
        raise FieldError("text", f"a note has at most {MAX_NOTE} characters, got {len(text)}")
    if group not in NOTE_GROUPS or group not in rt.registry.roles.field_groups:
        raise FieldError("group", f"expected one of {', '.join(NOTE_GROUPS)}, got {group!r}")
    if visible is not None and group not in visible:
        raise PermissionDenied(f"role {actor.role!r} does not see the {group!r} field group")
    if actor.role in rt.registry.roles.read_only:
        raise PermissionDenied(f"role {actor.role!r} is read-only")
    now = rt.clock.now()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        if expected_version is not None and case["version"] != expected_version:
            raise StaleCase(reference, expected_version, case["version"])
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        event_id = append_event(conn, wf, case, actor, now, kind=NOTE,
                                payload={"group": group, "text": text})
    return NoteAdded(reference, event_id, case["version"] + 1)
