"""The status a municipality reports to IKVD for an unregistered child (MK 871 p. 6).

The statuses are configuration (``config/<m>/ikvd_statuses.yaml``, versioned,
loaded by ``engine.municipality``); a transition that names ``ikvd_status:``
(the codes it may close a case with) takes the field ``ikvd_status``, which must
be one of them.  ``step_fields`` gives such a step's fields with the status as a
choice (what the pages and the API offer); ``coerce_step`` checks what a step was
given (the write path, ``engine.cases.fire_in``), refusing a missing, unknown or
unfitting status with the codes the step allows.  The case's data keeps the
code and the version of the list it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.definitions import FieldSpec, Text, Transition
from engine.errors import FieldError, Named, msg
from engine.fields import coerce_fields
from engine.municipality import IkvdStatuses, MunicipalityConfig

#: The field a closing step takes, and the data key of the list's version.
STATUS_FIELD = "ikvd_status"
LIST_VERSION = "ikvd_status_list"
#: The status field's title when no list is configured (it is then its code).
UNTITLED = Text(lv=STATUS_FIELD, en=STATUS_FIELD)


def _title(statuses: IkvdStatuses | None) -> Text:
    """The status field's title, as the configured list names it."""
    return UNTITLED if statuses is None else Text(lv=statuses.title.lv, en=statuses.title.en)


def step_fields(municipality: MunicipalityConfig, transition: Transition
                ) -> dict[str, FieldSpec]:
    """The fields ``transition`` takes: its declared ones, and the IKVD status (a choice
    of the codes it allows, titled from the configured list) if it names any."""
    fields = dict(transition.fields)
    if transition.ikvd_status:
        statuses = municipality.ikvd_statuses
        known = statuses.statuses if statuses else {}
        codes = [c for c in transition.ikvd_status if c in known] or list(transition.ikvd_status)
        fields[STATUS_FIELD] = FieldSpec(
            type="choice", title=_title(statuses), choices=codes,
            choice_titles={c: Text(lv=known[c].title.lv, en=known[c].title.en)
                           for c in codes if c in known})
    return fields


def coerce_step(municipality: MunicipalityConfig, transition: Transition,
                given: Mapping[str, Any]) -> dict[str, Any]:
    """The step's fields as stored (``engine.fields.coerce_fields``); for a step that
    names IKVD statuses also the chosen status and the list's version.  Refuses, as a
    ``FieldError`` on ``ikvd_status``, a status that is missing, not in the list, or
    not one this step closes with, naming the codes it allows."""
    if not transition.ikvd_status:
        return coerce_fields(transition.fields, given)
    rest = {k: v for k, v in given.items() if k != STATUS_FIELD}
    code = given.get(STATUS_FIELD)
    code = code.strip() if isinstance(code, str) else code
    statuses = municipality.ikvd_statuses
    if statuses is None:
        raise FieldError(STATUS_FIELD, msg("ikvd.no_list"), title=_title(statuses))
    allowed = tuple(Named(c, statuses.statuses[c].title) for c in transition.ikvd_status
                    if c in statuses.statuses)
    trigger = Named(transition.trigger, transition.title)
    if code is None or code == "":
        raise FieldError(STATUS_FIELD, msg("ikvd.status_missing", trigger=trigger,
                                           allowed=allowed), title=_title(statuses))
    if not isinstance(code, str) or code not in statuses.statuses:
        raise FieldError(STATUS_FIELD, msg("ikvd.status_unknown", value=repr(code),
                                           version=statuses.version, allowed=allowed),
                         title=_title(statuses))
    if code not in transition.ikvd_status:
        raise FieldError(STATUS_FIELD, msg(
            "ikvd.status_not_for_step", status=Named(code, statuses.statuses[code].title),
            trigger=trigger, allowed=allowed), title=_title(statuses))
    out = coerce_fields(transition.fields, rest)
    out[STATUS_FIELD] = code
    out[LIST_VERSION] = statuses.version
    return out


def reported(statuses: IkvdStatuses | None, data: Mapping[str, Any], locale: str
             ) -> dict[str, Any] | None:
    """The IKVD status a case's data records, in words: its code, title and what was
    reported, and the list's version (a code no longer in the list: the code as is)."""
    code = data.get(STATUS_FIELD)
    if not code:
        return None
    status = statuses.statuses.get(str(code)) if statuses else None
    return {"code": code, "version": data.get(LIST_VERSION),
            "title": status.title.get(locale) if status else str(code),
            "report": status.report.get(locale) if status else str(code)}
