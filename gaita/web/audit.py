"""The audit log: who read which case, when (``engine.access_log``).

- ``GET /audit``: the access log across cases, newest first, repeated reads folded
  (one person's reads of one case on one day: one line, "×N", first and last time),
  filtered by person, case and a range of days, a page at a time;
- ``GET /audit.csv``: the same lines as CSV (UTF-8 with a byte-order mark, ``;``
  between fields, as the case list's export).

The policy decides (``Action.AUDIT``: a role that reaches every case and sees the
access log, the auditor).  Reading the log is logged: each case shown gets an
``audit`` line.  ``reads_words`` puts folded lines in words, here and on the case
page's own access-log section.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from engine.access_log import PAGE_SIZE, AuditFilter, Reads, audit_log, auditable_users
from engine.dates import InvalidDate, dmy, parse_day
from engine.errors import NotFound, NotPermitted
from engine.policy import Action
from engine.tables import AccessAction, Channel
from gaita.bootstrap import App
from gaita.web.auth import Viewer, gaita_of, web_user
from gaita.web.forms import FormError
from gaita.web.render import page
from gaita.web.timeline import actor_word, institution_name
from i18n import translator
from i18n.messages import render as said

router = APIRouter()

#: The words of the log's actions and channels (catalogue keys).
ACTIONS = {a.value: f"cases.access.{a.value}" for a in AccessAction}
CHANNELS = {c.value: f"cases.access.via.{c.value}" for c in Channel}


def reads_words(app: App, lines: Sequence[Reads], lang: str) -> list[dict[str, Any]]:
    """Folded reads in words: when (one time, or the day's first and last), who (the
    person's name and institution, an email link's institution, Gaita itself), what
    and how, how many times."""
    t, cal = translator(lang), app.rt.calendar
    out = []
    for line in lines:
        when = cal.format_local(line.first, lang)
        if line.count > 1:   # the same day: the last read's time of day
            when = f"{when}–{cal.format_local(line.last, lang)[-5:]}"
        out.append({
            "reference": line.reference, "when": when, "first": cal.format_local(line.first),
            "last": cal.format_local(line.last), "count": line.count,
            "times": t("audit.times", count=line.count) if line.count > 1 else "",
            "who": actor_word(app, line.actor, line.name, lang), "username": line.actor,
            "institution": institution_name(app, line.institution, lang)
            if line.institution else "",
            "action": t(ACTIONS[line.action]) if line.action in ACTIONS else line.action,
            "channel": t(CHANNELS[line.channel]) if line.channel in CHANNELS else line.channel,
        })
    return out


# --- the page ---------------------------------------------------------------------------


@dataclass
class Asked:
    """The filter as typed (``values``), as the engine takes it, the page, what to correct."""

    values: dict[str, str]
    where: AuditFilter
    page: int
    errors: list[FormError]


def _asked(app: App, lang: str, query: Mapping[str, str],
           users: Sequence[Mapping[str, Any]]) -> Asked:
    t = translator(lang)
    values = {k: query.get(k, "").strip() for k in ("user", "case", "from", "to", "page")}
    errors: list[FormError] = []
    user = values["user"] or None
    if user is not None and user not in {u["username"] for u in users}:
        errors.append(FormError(t("audit.user_unknown"), "user"))
    days: dict[str, date | None] = {"from": None, "to": None}
    for key in days:
        if values[key]:
            try:
                days[key] = parse_day(values[key])
            except InvalidDate as exc:
                errors.append(FormError(t(f"audit.{key}_invalid"), key, said(lang, exc)))
    since, until = days["from"], days["to"]
    if since and until and since > until:
        errors.append(FormError(t("audit.range_reversed"), "to"))
    number = 1
    if values["page"]:
        if values["page"].isdigit() and 1 <= int(values["page"]) <= 100_000:
            number = int(values["page"])
        else:
            errors.append(FormError(t("audit.page_invalid"), None))
    return Asked(values, AuditFilter(user, values["case"] or None, since, until), number, errors)


def _link(values: Mapping[str, str], **changes: Any) -> str:
    merged = {**{k: v for k, v in values.items() if v and k != "page"}, **changes}
    return urlencode({k: v for k, v in merged.items() if v})


@router.get("/audit")
def audit_page(request: Request, viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.AUDIT)
    lang, t = viewer.lang, translator(viewer.lang)
    users = auditable_users(app.db)
    asked = _asked(app, lang, request.query_params, users)
    lines: list[dict[str, Any]] = []
    more = False
    if not asked.errors:
        try:
            found = audit_log(app.db, app.rt, viewer.actor, asked.where,
                              offset=(asked.page - 1) * PAGE_SIZE, channel=Channel.WEB)
        except NotFound as exc:   # no such case
            asked.errors.append(FormError(t("audit.case_unknown"), "case", said(lang, exc)))
        except NotPermitted as exc:
            asked.errors.append(FormError(t("engine_refused"), None, said(lang, exc)))
        else:
            lines, more = reads_words(app, found.lines, lang), found.more
    today = app.rt.calendar.local_date(app.rt.clock.now())
    first_this = today.replace(day=1)
    last_month = (first_this - timedelta(days=1)).replace(day=1)
    start = (asked.page - 1) * PAGE_SIZE
    return page(request, app, viewer, "audit/log.html", title=t("audit.title"),
                status=400 if asked.errors else 200, values=asked.values,
                errors=asked.errors, invalid={e.target for e in asked.errors if e.target},
                users=[{"username": u["username"], "label": _user_label(app, u, lang)}
                       for u in users],
                lines=lines, first=start + 1, last=start + len(lines),
                newer=_link(asked.values, page=asked.page - 1) if asked.page > 1 else None,
                older=_link(asked.values, page=asked.page + 1) if more else None,
                csv=_link(asked.values),
                last_month=_link(asked.values, **{"from": dmy(last_month),
                                                   "to": dmy(first_this - timedelta(days=1))}),
                this_month=_link(asked.values, **{"from": dmy(first_this), "to": dmy(today)}),
                filtered=any(asked.values[k] for k in ("user", "case", "from", "to")))


def _user_label(app: App, user: Mapping[str, Any], lang: str) -> str:
    name = user["display_name"] or user["username"]
    inst = institution_name(app, user["institution_code"], lang)
    return f"{name} ({inst})" if inst else name


# --- the export ---------------------------------------------------------------------------

#: The export's columns (catalogue keys), in order.
EXPORT_COLUMNS = ("audit.col.first", "audit.col.last", "audit.col.count", "audit.col.person",
                  "audit.col.institution", "audit.col.username", "audit.col.case",
                  "audit.col.action", "audit.col.channel")


@router.get("/audit.csv")
def audit_csv(request: Request, viewer: Viewer = Depends(web_user)) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.AUDIT)
    lang, t = viewer.lang, translator(viewer.lang)
    asked = _asked(app, lang, request.query_params, auditable_users(app.db))
    if asked.errors:
        return audit_page(request, viewer)
    try:
        found = audit_log(app.db, app.rt, viewer.actor, asked.where, limit=None,
                          channel=Channel.WEB, export=True)
    except (NotFound, NotPermitted):
        return audit_page(request, viewer)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([t(key) for key in EXPORT_COLUMNS])
    for w in reads_words(app, found.lines, lang):
        writer.writerow([w["first"], w["last"], w["count"], w["who"], w["institution"],
                         w["username"], w["reference"], w["action"], w["channel"]])
    today = app.rt.calendar.local_date(app.rt.clock.now()).isoformat()
    body = ("\ufeff" + out.getvalue()).encode("utf-8")
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=gaita-audit-{today}.csv"})
