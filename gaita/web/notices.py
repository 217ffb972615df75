"""What a case page says after a successful form: what changed, in words.

A form on the case page redirects (PRG) to ``/cases/<reference>?notice=<code>&event=<seq>``:
the notice code (``gaita.web.cases.NOTICES``) and the number of the event the write
appended.  Neither carries anything about the child.  The page then describes that
event from the case view it shows anyway (``changed``): the step and the state the
case moved to, who owns it now and by when; a note and the group that reads it; a
pause and its reason; a referral to the cooperation group; a report made or waived; a
school move; a decision on more time.  An event the viewer did not write, or one this
module has no words for, leaves the notice code's own text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.answers import ExtensionDecision
from engine.definitions import Workflow
from engine.events import EventKind
from engine.group.reasons import reason_title
from gaita.bootstrap import App
from gaita.web.filings import declared_report
from gaita.web.timeline import institution_name
from i18n import translator, working_days


def event_seq(raw: str | None) -> int | None:
    """``?event=`` as a number (anything else: none)."""
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return None
    return int(raw)


def changed(app: App, wf: Workflow, view: Mapping[str, Any], summary: Mapping[str, Any],
            seq: int, actor: str, lang: str) -> str | None:
    """The event ``seq`` of the case (written by ``actor``) as a sentence of what changed,
    or None (no such event of theirs, or nothing more to say than the notice code)."""
    event = next((e for e in view["timeline"] if e["seq"] == seq), None)
    if event is None or event["actor"] != actor:
        return None
    t, rt = translator(lang), app.rt
    kind, fields = event["kind"], event["fields"]
    latest = event["seq"] == max(e["seq"] for e in view["timeline"])

    def title_of(state: str | None) -> str:
        return wf.states[state].title.get(lang) if state in wf.states else (state or "")

    def now_parts() -> list[str]:
        """Who owns the case now and by when (only while nothing happened since)."""
        if not latest or view["status"] != "open":
            return []
        parts = []
        if summary.get("owner"):
            parts.append(t("cases.changed.owner", owner=summary["owner"]))
        if summary.get("due"):
            parts.append(t("cases.changed.due", due=summary["due"]))
        return parts

    parts: list[str]
    if kind == EventKind.TRANSITION:
        dest = event["to"]
        if dest in wf.states and wf.states[dest].terminal:
            parts = [t("cases.changed.closed", state=title_of(dest))]
        else:
            parts = [t("cases.changed.moved", state=title_of(dest)), *now_parts()]
    elif kind == EventKind.NOTE:
        groups = rt.registry.roles.field_groups
        group = str(fields.get("group", ""))
        title = (groups[group].en if lang == "en" else groups[group].lv) if group in groups \
            else group
        parts = [t("cases.changed.note", group=title)]
    elif kind == EventKind.PAUSED:
        why = rt.municipality.pauses.reasons.get(str(fields.get("reason") or ""))
        reason = (why.title.en if lang == "en" else why.title.lv) if why else \
            str(fields.get("reason", ""))
        parts = [t("cases.changed.paused", reason=reason)]
    elif kind == EventKind.RESUMED:
        parts = [t("cases.changed.resumed"), *now_parts()]
    elif kind == EventKind.QUEUED:
        parts = [t("cases.changed.queued",
                   reason=reason_title(rt, str(fields.get("reason", "")), lang))]
        if fields.get("urgent"):
            parts.append(t("cases.changed.urgent"))
    elif kind in (EventKind.REPORT_FILED, EventKind.REPORT_WAIVED):
        code = str(fields.get("report", ""))
        report = declared_report(wf, event["to"], code)
        parts = [t(f"cases.changed.{kind}", report=report.title.get(lang) if report else code)]
    elif kind == EventKind.TRANSFER_REQUESTED:
        parts = [t("cases.changed.transfer_request",
                   school=institution_name(app, fields.get("to"), lang))]
    elif kind == EventKind.TRANSFERRED:
        parts = [t("cases.changed.transferred",
                   school=institution_name(app, fields.get("to"), lang))]
    elif kind == EventKind.TASK and fields.get("action") in frozenset(ExtensionDecision):
        days = working_days(lang, int(fields.get("days") or 0))
        if fields["action"] == ExtensionDecision.APPROVED:
            parts = [t("cases.changed.extension_approved", days=days)]
            due = fields.get("due_at")
            if isinstance(due, str):
                with contextlib.suppress(ValueError):
                    parts.append(t("cases.changed.due", due=rt.calendar.format_local(
                        datetime.fromisoformat(due), lang)))
        else:
            parts = [t("cases.changed.extension_refused", days=days)]
    else:
        return None
    return "; ".join(parts) + "."
