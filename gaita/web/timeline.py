"""The case page's view model: a case view (``engine.queries.case_view``) in words.

``case_summary`` gives the case's facts (owner, due date and days left, the answers
on its task, a pause, the risk level), ``timeline_event`` one event of its timeline
(when, who, what happened, its declared fields, its emails), and ``actor_names``
who did something, as pages name them (the cooperation group's pages too).  Times
are the municipality's local time (``rt.calendar.format_local``); nothing here reads
more than the view holds, except the users' display names (one query).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine.answers import TASK_EVENT_ACTIONS
from engine.definitions import RISK_LEVELS, FieldSpec, LadderAction, Report, Workflow
from engine.events import EventKind
from engine.group.reasons import reason_title
from engine.ikvd import step_fields
from engine.queries import DELIVERY_STATUSES, display_names
from engine.runtime import SYSTEM
from gaita.bootstrap import App
from gaita.web.badges import due_badge
from gaita.web.filings import declared_report
from gaita.web.forms import field_value
from i18n import translator, working_days
from notifications.catalogue import template_names


def institution_name(app: App, code: str | None, lang: str) -> str:
    if not code:
        return ""
    try:
        name = app.rt.municipality.institution(code).name
    except KeyError:   # in the database but no longer configured
        return code
    return name.en if lang == "en" else name.lv


def actor_names(app: App, actors: Iterable[str], lang: str) -> dict[str, str]:
    """Who did something, as a page names them: a user by their display name (all of
    them loaded in one query), an email link (``link:<institution>``) by its
    institution, Gaita itself by a catalogue text."""
    t, actors = translator(lang), set(actors)
    names = display_names(app.db, {a for a in actors
                                   if a != SYSTEM.username and not a.startswith("link:")})
    return {actor: actor_word(app, actor, names.get(actor), lang, t) for actor in actors}


def actor_word(app: App, actor: str, name: str | None, lang: str,
               t: Callable[..., str] | None = None) -> str:
    """One actor as a page names them: Gaita itself, an email link's institution, or the
    user's display ``name`` (None: a user since removed, by the user name)."""
    t = t or translator(lang)
    if actor == SYSTEM.username:
        return t("cases.actor.system")
    if actor.startswith("link:"):
        return t("cases.actor.link", institution=institution_name(app, actor[5:], lang))
    return name or actor


def case_summary(app: App, view: Mapping[str, Any], wf: Workflow, lang: str) -> dict[str, Any]:
    """The case's facts in words: due date and days left, answers, pause, risk."""
    rt, t = app.rt, translator(lang)
    due_text = badge = None
    if view["due_at"] is not None:
        left = view["working_days_left"]
        if view["overdue"]:
            when = (t("cases.due.overdue_days", days=working_days(lang, -left)) if left < 0
                    else t("cases.due.overdue"))
        elif left == 0:
            when = t("cases.due.today")
        else:
            when = t("cases.due.left", days=working_days(lang, left))
        due_text = f"{rt.calendar.format_local(view['due_at'], lang)} ({when})"
        badge = due_badge(view["overdue"], left, bool(view["paused"]))
    answers = []
    task = view["task"] or {}
    for key in ("acknowledged_at", "accepted_at", "declined_at", "reported_done_at",
                "unacknowledged_at"):
        if task.get(key) is not None:
            answers.append(t(f"cases.answer.{key}", at=rt.calendar.format_local(task[key], lang)))
    if task.get("extension_days") is not None:
        answers.append(t("cases.answer.extension", days=working_days(lang, task["extension_days"])))
    paused = view["paused"]
    pause_text = None
    if paused:
        pause_text = t("cases.pause.since", at=rt.calendar.format_local(paused["since"], lang),
                       reason=paused["reason_title"][lang],
                       days=working_days(lang, paused["working_days"]))
        if paused["over_limit"]:
            pause_text += " " + t("cases.pause.over_limit")
    return {
        "owner": institution_name(app, view["owner"], lang),
        "school": institution_name(app, view["school"], lang),
        "task": wf.state(view["state"]).title.get(lang) if view["task"] else None,
        "due": due_text, "overdue": view["overdue"], "answers": answers,
        "badge": badge, "badge_text": t(f"cases.badge.{badge}") if badge else None,
        "risk": t(f"cases.risk.{view['risk_level']}") if view["risk_level"] in RISK_LEVELS
        else view["risk_level"],
        "opened": rt.calendar.format_local(view["opened_at"], lang), "pause": pause_text,
        "incident": (rt.calendar.format_local(view["incident_at"], lang)
                     if view["incident_at"] is not None else None),
        "late": (t("cases.reported_late", days=view["late_days"])
                 if view["late_days"] is not None else None),
        "paused_days": view["paused_working_days"],
        "status": t("cases.status.open" if view["status"] == "open" else "cases.status.closed"),
        "chain_ok": view["chain_ok"],
    }


def timeline_event(app: App, wf: Workflow, e: Mapping[str, Any], lang: str,
                   group_title: Mapping[str, str], who: Mapping[str, str],
                   report_tasks: Mapping[int, Report] | None = None) -> dict[str, Any]:
    """One timeline row in words: when, who (``who``: ``actor_names``), what happened,
    its fields and emails.  ``report_tasks``: the case's report tasks by id
    (``gaita.web.filings.report_tasks``), so a recipient's answer shows its declared
    answer fields by title."""
    rt, t = app.rt, translator(lang)
    kind, fields = e["kind"], dict(e["fields"])

    def title_of(state: str | None) -> str:
        return wf.states[state].title.get(lang) if state in wf.states else (state or "")

    specs: Mapping[str, FieldSpec] = {}
    shown: list[tuple[str, str]] = []
    if kind == EventKind.OPENED:
        what = t("cases.event.opened", state=title_of(e["to"]))
        specs = wf.open.fields
    elif kind == EventKind.TRANSITION:
        tr = wf.transition(e["from"], e["trigger"]) if e["from"] else None
        specs = step_fields(rt.municipality, tr) if tr else {}
        what = t("cases.event.transition", step=tr.title.get(lang) if tr else e["trigger"],
                 src=title_of(e["from"]), dest=title_of(e["to"]))
    elif kind == EventKind.TASK:
        action = fields.get("action")
        what = (t(f"cases.event.task.{action}") if action in TASK_EVENT_ACTIONS
                else t("cases.event.other", kind=f"{kind}:{action}"))
        if fields.get("days") is not None:
            shown.append((t("cases.event.days"), working_days(lang, int(fields["days"]))))
        if fields.get("reason"):
            shown.append((t("cases.event.reason"), str(fields["reason"])))
        if fields.get("note"):
            shown.append((t("note"), str(fields["note"])))
        task_id = fields.get("task")
        report = (report_tasks or {}).get(task_id) if isinstance(task_id, int) else None
        if report is not None:   # an answer on a report task: which report, what it says
            what = t("cases.event.report_task", report=report.title.get(lang), answer=what)
            answered = fields.get("answer")
            for name, value in (answered.items() if isinstance(answered, dict) else ()):
                spec = report.answer.get(name)
                shown.append((spec.title.get(lang), field_value(spec, value, lang)) if spec
                             else (name, str(value)))
    elif kind in (EventKind.REPORT_FILED, EventKind.REPORT_WAIVED):
        code = str(fields.get("report", ""))
        report = declared_report(wf, e["to"], code)
        what = t(f"cases.event.{kind}", report=report.title.get(lang) if report else code)
        if kind == EventKind.REPORT_FILED and report is not None:
            specs = report.fields
        if fields.get("reason"):
            shown.append((t("cases.event.reason"), str(fields["reason"])))
    elif kind == EventKind.NOTE:
        group = fields.get("group", "")
        what = t("cases.event.note", group=group_title.get(group, group))
    elif kind in (EventKind.PAUSED, EventKind.RESUMED, EventKind.PAUSE_TOO_LONG):
        why = rt.municipality.pauses.reasons.get(fields.get("reason") or "")
        reason = (why.title.en if lang == "en" else why.title.lv) if why else \
            str(fields.get("reason", ""))
        what = t(f"cases.event.{kind}", reason=reason,
                 days=working_days(lang, int(fields.get("working_days") or 0)))
    elif kind == EventKind.QUEUED:
        what = t("cases.event.queued", reason=reason_title(rt, str(fields.get("reason", "")), lang))
        if fields.get("urgent"):
            shown.append((t("cases.event.urgent"), t("yes")))
    elif kind == EventKind.DECISION:
        what = t("cases.event.decision")
        if fields.get("summary"):
            shown.append((t("cases.event.summary"), str(fields["summary"])))
    elif kind == EventKind.ESCALATED:
        action = fields.get("action")
        what = t("cases.event.escalated", step=t(f"cases.ladder.{action}")
                 if action in frozenset(LadderAction) else str(action))
    elif kind in (EventKind.TRANSFER_REQUESTED, EventKind.TRANSFERRED,
                  EventKind.TRANSFER_DECLINED):   # a school move (engine.transfer)
        what = t(f"cases.event.{kind}", src=institution_name(app, fields.get("from"), lang),
                 dest=institution_name(app, fields.get("to"), lang))
        if fields.get("reason"):
            shown.append((t("cases.event.reason"), str(fields["reason"])))
        if fields.get("note"):
            shown.append((t("note"), str(fields["note"])))
    elif kind in frozenset(EventKind):
        what = t(f"cases.event.{kind}")
    else:
        what = t("cases.event.other", kind=kind)
    for name, spec in specs.items():
        if name in fields:
            shown.append((spec.title.get(lang), field_value(spec, fields[name], lang)))
    return {
        "seq": e["seq"], "at": rt.calendar.format_local(e["at"], lang), "who": who[e["actor"]],
        "kind": kind,
        "what": what, "fields": shown,
        "note": fields.get("text") if kind == EventKind.NOTE else None,
        "group": group_title.get(fields.get("group", ""), "") if kind == EventKind.NOTE else None,
        "mails": [{
            "template": (t(f"cases.mail.{m['template']}") if m["template"] in template_names()
                         else m["template"]),
            "to": institution_name(app, m["recipient_institution"], lang) or
            (m["recipient_role"] or ""),
            "status": m["status"], "status_title": t(f"cases.mail.status.{m['status']}")
            if m["status"] in DELIVERY_STATUSES
            else m["status"], "attempts": m["attempts"],
        } for m in e["notifications"]],
    }
