"""Where a new case starts: its declaration's ``initial`` state, or one of the later
``open.start_states`` (e.g. a school reporting absences already over the threshold).

``start_of`` names the start (refusing a state the declaration does not offer, with
those it does); ``Start.coerce`` checks what the opening gives: the opening's fields,
plus the start state's own, whose guards must pass as the transition into that state
would require (``engine.guards``).  The write path (``engine.cases.open_case``) stores
the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.definitions import FieldSpec, Notification, Workflow
from engine.errors import FieldError, Named, msg
from engine.fields import coerce_fields
from engine.guards import GuardContext, first_failure
from engine.runtime import Runtime


@dataclass(frozen=True)
class Start:
    state: str
    fields: Mapping[str, FieldSpec]        # the opening's and the start state's
    guards: tuple[str, ...]
    notify: tuple[Notification, ...]

    def coerce(self, rt: Runtime, given: Mapping[str, Any]) -> dict[str, Any]:
        """The opening's data as stored; a guard of the start state that refuses raises
        ``GuardFailed`` naming it and why."""
        data = coerce_fields(self.fields, given)
        failed = first_failure(self.guards, GuardContext(data=data, fields=data, param=rt.param))
        if failed is not None:
            raise failed
        return data


def start_of(wf: Workflow, state: str | None) -> Start:
    """The start ``state`` names (None: the declaration's ``initial``)."""
    if state is None or state == wf.initial:
        return Start(wf.initial, wf.open.fields, (), tuple(wf.open.notify))
    start = wf.open.start(state)
    if start is None:
        offered = (wf.initial, *(s.state for s in wf.open.start_states))
        raise FieldError("start_state", msg(
            "open.start_state_not_offered", state=state, case_type=Named(wf.case_type, wf.title),
            offered=tuple(Named(s, wf.states[s].title) if s in wf.states else Named(s)
                          for s in offered)))
    notify = tuple(dict.fromkeys((*wf.open.notify, *start.notify)))
    return Start(start.state, {**wf.open.fields, **start.fields}, tuple(start.guards), notify)
