"""The coordinator's dashboard, the case list and its CSV/XLSX export.

``GET /dashboard``: the figures of ``engine.reports.dashboard`` (counters, each
opening the work queue behind it, ``/cases?queue=<name>`` (``engine.queues``), the
coordinator's own queues for the coordinating institution's users; open cases by
case type and by owning institution, two server-drawn charts with the same numbers
in tables).  ``GET /cases``: ``engine.reports.case_page`` behind a folding GET form
of filters, sortable column headers and pages of ``PAGE_SIZE``: one row per case with
a deadline badge in words.
``GET /cases/export.csv`` and ``/cases/export.xlsx``: every case the same
filters select (at most ``EXPORT_CAP``), each export written to the access log.

Every figure and row is limited by the access policy
(``engine.policy.visible_cases``): a user counts and lists only the cases they
reach.  The list names the child only to a reader who sees the child's identity,
and writes each case so named to the access log (``read``, detail ``list``); the
exports and the dashboard never show a child's name or personal code.  A filter value the
list does not know (a case type, state, sort key, page…) is answered with the
list page, status 400, and an error box naming the value.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Request
from openpyxl import Workbook
from starlette.responses import Response

from engine import reports
from engine.definitions import RISK_LEVELS
from engine.policy import IDENTITY, Action, visible_cases, visible_groups
from engine.queues import COORDINATOR_QUEUES, Queue
from engine.runtime import Runtime
from engine.store import ACCESS, CASE
from engine.tables import AccessAction
from gaita.bootstrap import App
from gaita.web.auth import Viewer, gaita_of, web_user
from gaita.web.badges import SOON_DAYS, due_badge
from gaita.web.charts import Number, bar_chart, line_chart
from gaita.web.render import page
from i18n import BABEL_LOCALES, format_day, plural, translator

router = APIRouter()

#: Cases on one page of the list.
PAGE_SIZE = 50
#: Most cases one export holds; a larger selection is cut, and the file says so.
EXPORT_CAP = 50_000
#: Highest page number asked for (beyond it: an error, not a huge SQL offset).
MAX_PAGE = 1_000_000
#: The list's columns: (id, catalogue key, sort key of ``engine.reports.SORT_KEYS`` or None);
#: ``child`` only for a reader who sees the child's identity.
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("reference", "dashboard.col.reference", "reference"),
    ("child", "dashboard.col.child", None),
    ("case_type", "dashboard.col.case_type", "type"),
    ("state", "dashboard.col.state", "state"),
    ("owner", "dashboard.col.owner", None),
    ("due", "dashboard.col.deadline", "due"),
    ("opened", "dashboard.col.opened", "opened"),
)
#: The deadline badge's kinds (``deadline_badge``), each a word and a class.
BADGES = ("overdue", "today", "soon", "paused", "waiting")
_TRUE, _FALSE = ("1", "on", "true"), ("", "0", "off", "false")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- titles in the page's language -----------------------------------------------------


class Labels:
    """Titles of case types, states, institutions and risk levels in one language, from
    the declarations and the municipality's config (no database query)."""

    def __init__(self, rt: Runtime, lang: str) -> None:
        self.rt, self.lang, self.t = rt, lang, translator(lang)
        self._institutions = {i.code: str(getattr(i.name, lang))
                              for i in rt.municipality.institutions}
        self._states: dict[tuple[str, str], str] = {}

    def case_type(self, code: str) -> str:
        wf = self.rt.registry.current.get(code)
        return wf.title.get(self.lang) if wf else code

    def state(self, case_type: str, state: str) -> str:
        """The state's title in the newest version of the case type that has it."""
        key = (case_type, state)
        if key not in self._states:
            versions = sorted((v for t, v in self.rt.registry.versions if t == case_type),
                              reverse=True)
            self._states[key] = next(
                (wf.states[state].title.get(self.lang) for wf in
                 (self.rt.registry.versions[case_type, v] for v in versions)
                 if state in wf.states), state)
        return self._states[key]

    def institution(self, code: str | None) -> str:
        return self._institutions.get(code, code) if code else ""

    def risk(self, level: str | None) -> str:
        return self.t(f"dashboard.risk.{level}") if level in RISK_LEVELS else (level or "")

    def status(self, status: str) -> str:
        return self.t(f"dashboard.status.{status}")

    def days(self, key: str, n: int) -> str:
        """``key.one`` / ``key.other`` with ``n``: "3 darba dienas", "21 darba diena"."""
        return self.t(f"{key}.{plural(self.lang, n)}", n=n)

    def due_note(self, row: Mapping[str, Any]) -> str:
        """Working days left, or how late: as ``case show`` counts them."""
        left = row["working_days_left"]
        if row["due_at"] is None or left is None:
            return self.t("dashboard.due.none")
        if left < 0:
            return self.days("dashboard.due.late", -left)
        if row["overdue"]:   # due earlier today, or on the last working day before today
            return self.t("dashboard.due.late")
        if left == 0:
            return self.t("dashboard.due.today")
        return self.days("dashboard.due.left", left)

    def deadline_badge(self, row: Mapping[str, Any]) -> str | None:
        """The list's deadline badge (``BADGES``): waiting for the coordinator (the
        institution reported its step done), paused, overdue, due today, due within
        ``SOON_DAYS`` working days; None otherwise."""
        if row["status"] != "open":
            return None
        left = row["working_days_left"] if row["due_at"] is not None else None
        return due_badge(row["overdue"], left, row["paused"],
                         waiting=bool(row.get("waiting_for_coordinator")))

    def day(self, value: datetime) -> str:
        """The local (Riga) day of an instant, as people write it."""
        return format_day(self.rt.calendar.local_date(value), self.lang)

    def severity(self, level: str) -> str:
        return self.t(f"dashboard.severity.{level}")

    def badge(self, kind: str) -> str:
        return self.t(f"dashboard.badge.{kind}", n=SOON_DAYS)

    def queue(self, name: str) -> str:
        return self.t(f"dashboard.card.{name}")

    def number(self) -> Number:
        locale = BABEL_LOCALES[self.lang]
        return lambda value: format_decimal(value, format="#,##0.#", locale=locale)


# --- filters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The case list's filters, sort and page, as the query string gives them."""

    case_type: str | None = None
    state: str | None = None
    institution: str | None = None
    school: str | None = None
    overdue: bool = False
    risk: str | None = None
    include_closed: bool = False
    queue: str | None = None
    sort: str = "due"
    descending: bool = False
    page: int = 1

    def query(self, **changes: Any) -> str:
        """The query string of these filters (with ``changes``): only what differs from
        the defaults, so links stay short."""
        f = replace(self, **changes)
        pairs = [("queue", f.queue), ("type", f.case_type), ("state", f.state),
                 ("institution", f.institution),
                 ("school", f.school), ("overdue", "1" if f.overdue else None),
                 ("risk", f.risk), ("closed", "1" if f.include_closed else None),
                 ("sort", f.sort if f.sort != "due" else None),
                 ("order", "desc" if f.descending else None),
                 ("page", str(f.page) if f.page != 1 else None)]
        return urlencode([(k, v) for k, v in pairs if v is not None])

    def narrowed(self) -> bool:
        """A filter (not the sort or page) is set: the filter form opens."""
        return any((self.case_type, self.state, self.institution, self.school, self.overdue,
                    self.risk, self.include_closed, self.queue))

    def toggle(self, sort: str) -> str:
        """The query string sorting by ``sort``: the other way round if it already is."""
        return self.query(sort=sort, descending=self.sort == sort and not self.descending,
                          page=1)

    def engine_args(self) -> dict[str, Any]:
        return {"case_type": self.case_type, "state": self.state,
                "institution": self.institution, "school": self.school,
                "overdue": self.overdue, "risk": self.risk,
                "include_closed": self.include_closed,
                "queue": Queue(self.queue) if self.queue else None, "sort": self.sort,
                "descending": self.descending}


@dataclass(frozen=True)
class FilterError:
    """A query parameter the list does not take: the field and the message to show."""

    field: str
    message: str


@dataclass
class Choices:
    """The options of the filter form's selects: (value, title), sorted by title."""

    types: list[tuple[str, str]] = field(default_factory=list)
    states: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    institutions: list[tuple[str, str]] = field(default_factory=list)
    schools: list[tuple[str, str]] = field(default_factory=list)
    risks: list[tuple[str, str]] = field(default_factory=list)
    queues: list[tuple[str, str]] = field(default_factory=list)


def _schools(rt: Runtime) -> set[str]:
    per_case = rt.registry.roles.per_case
    return {i.code for i in rt.municipality.institutions if per_case & set(i.roles)}


def choices(rt: Runtime, labels: Labels, case_type: str | None) -> Choices:
    """The options: every case type; the states of ``case_type`` (else of every type,
    grouped); institutions holding a role some state is owned by; schools; risk levels."""
    reg = rt.registry
    types = sorted(((t, labels.case_type(t)) for t in reg.case_types), key=lambda p: p[1])
    states = [(title, [(name, s.title.get(labels.lang))
                       for name, s in reg.current[t].states.items()])
              for t, title in types if case_type in (None, t)]
    owners = {s.owner for wf in reg.current.values() for s in wf.states.values() if s.owner}
    schools = _schools(rt)
    institutions = [(i.code, labels.institution(i.code)) for i in rt.municipality.institutions
                    if owners & set(i.roles)]
    return Choices(types, states, sorted(institutions, key=lambda p: p[1]),
                   sorted(((c, labels.institution(c)) for c in schools), key=lambda p: p[1]),
                   [(r, labels.risk(r)) for r in RISK_LEVELS],
                   [(q.value, labels.queue(q.value)) for q in Queue])


def parse_filters(rt: Runtime, params: Mapping[str, str],
                  labels: Labels) -> tuple[Filters, list[FilterError]]:
    """The filters in ``params``; each value the list does not know is an error naming it
    (and is left out of the filters)."""
    t = labels.t
    errors: list[FilterError] = []

    def text(name: str) -> str | None:
        return params.get(name, "").strip() or None

    def flag(name: str, key: str) -> bool:
        value = params.get(name, "").strip().lower()
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        errors.append(FilterError(name, t("dashboard.error.flag", field=t(key), value=value)))
        return False

    reg = rt.registry
    case_type, state = text("type"), text("state")
    if case_type is not None and case_type not in reg.current:
        errors.append(FilterError("type", t("dashboard.error.type", value=case_type)))
        case_type = None
    if state is not None:
        known = {s for (ct, _), wf in reg.versions.items() if case_type in (None, ct)
                 for s in wf.states}
        if state not in known:
            errors.append(FilterError("state", t("dashboard.error.state_of_type", value=state,
                                                 type=labels.case_type(case_type))
                                      if case_type else t("dashboard.error.state", value=state)))
            state = None
    institution, school = text("institution"), text("school")
    if institution is not None and \
            institution not in {i.code for i in rt.municipality.institutions}:
        errors.append(FilterError("institution",
                                  t("dashboard.error.institution", value=institution)))
        institution = None
    if school is not None and school not in _schools(rt):
        errors.append(FilterError("school", t("dashboard.error.school", value=school)))
        school = None
    risk = text("risk")
    if risk is not None and risk not in RISK_LEVELS:
        errors.append(FilterError("risk", t("dashboard.error.risk", value=risk,
                                           allowed=", ".join(RISK_LEVELS))))
        risk = None
    queue = text("queue")
    if queue is not None and queue not in {q.value for q in Queue}:
        errors.append(FilterError("queue", t("dashboard.error.queue", value=queue,
                                             allowed=", ".join(q.value for q in Queue))))
        queue = None
    sort = text("sort") or "due"
    if sort not in reports.SORT_KEYS:
        errors.append(FilterError("sort", t("dashboard.error.sort", value=sort,
                                           allowed=", ".join(reports.SORT_KEYS))))
        sort = "due"
    order = (text("order") or "asc").lower()
    if order not in ("asc", "desc"):
        errors.append(FilterError("order", t("dashboard.error.order", value=order)))
    number = text("page") or "1"
    page_no = int(number) if number.isdigit() and len(number) <= 7 else 0
    if not 1 <= page_no <= MAX_PAGE:
        errors.append(FilterError("page", t("dashboard.error.page", value=number, max=MAX_PAGE)))
        page_no = 1
    overdue = flag("overdue", "dashboard.filter.overdue")
    closed = flag("closed", "dashboard.filter.closed")
    return Filters(case_type, state, institution, school, overdue, risk, closed, queue, sort,
                   order == "desc", page_no), errors


#: The dashboard's counters: (figure, the case list's query string showing those cases).
#: Every counter but ``open`` is a work queue (``engine.queues``).
CARDS: tuple[tuple[str, str], ...] = (("open", ""), *(
    (q.value, Filters(queue=q.value).query()) for q in (
        Queue.OVERDUE, Queue.DUE_TODAY, Queue.DUE_THIS_WEEK, Queue.UNACKNOWLEDGED,
        Queue.FAILED_EMAILS, Queue.PAUSED_TOO_LONG)))
#: The coordinator's own queues, shown to users who coordinate (``engine.queues``).
COORDINATOR_CARDS: tuple[tuple[str, str], ...] = tuple(
    (q.value, Filters(queue=q.value).query()) for q in COORDINATOR_QUEUES)
#: A counter's severity when it is not zero (zero is ``zero``): shown in words and a mark,
#: not by colour alone.
SEVERITY = {Queue.OVERDUE.value: "late", Queue.DUE_TODAY.value: "today"}


def severity(key: str, n: int) -> str | None:
    """``zero`` (grey), ``late`` (red), ``today`` (amber) or None (plain)."""
    return "zero" if n == 0 else SEVERITY.get(key)


# --- pages -----------------------------------------------------------------------------


def _where(app: App, viewer: Viewer) -> sa.ColumnElement[bool]:
    return visible_cases(app.rt.registry.roles, viewer.subject)


@router.get("/dashboard")
def dashboard_page(request: Request, viewer: Annotated[Viewer, Depends(web_user)]) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_CASES)
    labels = Labels(app.rt, viewer.lang)
    t, number = labels.t, labels.number()
    figures = reports.dashboard(app.db, app.rt, _where(app, viewer),
                                institution=viewer.subject.institution)
    day_format = t("dashboard.chart.day_format")
    locale = BABEL_LOCALES[viewer.lang]
    weeks = [(format_date(d, day_format, locale=locale), n) for d, n in figures["open_over_time"]]
    over_time = line_chart(
        weeks, ident="chart-open", title=t("dashboard.over_time.heading", weeks=len(weeks)),
        desc=t("dashboard.over_time.desc", first=weeks[0][0], last=weeks[-1][0],
               low=min(n for _, n in weeks), high=max(n for _, n in weeks), now=weeks[-1][1]),
        x_label=t("dashboard.over_time.x"), y_label=t("dashboard.over_time.y"), number=number)
    in_state = [{**row, "type_title": labels.case_type(row["case_type"]),
                 "state_title": labels.state(row["case_type"], row["state"])}
                for row in figures["time_in_state"]]
    bars = [(f"{_prefix(app.rt, r['case_type'])} · {r['state_title']}", r["avg_working_days"])
            for r in in_state]
    in_state_chart = bar_chart(
        bars, ident="chart-in-state", title=t("dashboard.in_state.heading"),
        desc=t("dashboard.in_state.desc"), x_label=t("dashboard.in_state.x"),
        y_label=t("dashboard.in_state.y"), number=number) if bars else None
    fallbacks = [{**r, "sent_at": app.rt.calendar.format_local(r["sent_at"], viewer.lang)}
                 for r in reports.fallback_deliveries(app.db, app.rt, _where(app, viewer))]
    return page(request, app, viewer, "dashboard/dashboard.html", title=t("dashboard.title"),
                figures=figures, labels=labels, number=number, fallbacks=fallbacks,
                cards=_cards(figures, CARDS),
                own_cards=(_cards(figures, COORDINATOR_CARDS) if coordinates(app, viewer)
                           else []),
                as_of=app.rt.calendar.format_local(figures["as_of"], viewer.lang), weeks=weeks,
                over_time=over_time, in_state=in_state, in_state_chart=in_state_chart)


def _cards(figures: Mapping[str, Any], cards: tuple[tuple[str, str], ...]
           ) -> list[tuple[str, int, str, str, str | None]]:
    """(key, count, query string, title key, severity) of each counter."""
    return [(key, figures[key], link, f"dashboard.card.{key}", severity(key, figures[key]))
            for key, link in cards]


def coordinates(app: App, viewer: Viewer) -> bool:
    """The viewer works for the coordinating institution (decides its requests for
    more time): the dashboard shows them the coordinator's own queues."""
    return viewer.may(app, Action.DECIDE_EXTENSION)


def _prefix(rt: Runtime, case_type: str) -> str:
    wf = rt.registry.current.get(case_type)
    return wf.reference_prefix if wf else case_type


@router.get("/cases")
def case_list(request: Request, viewer: Annotated[Viewer, Depends(web_user)]) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.READ_CASES)
    labels = Labels(app.rt, viewer.lang)
    filters, errors = parse_filters(app.rt, request.query_params, labels)
    return _list_page(request, app, viewer, labels, filters, errors)


def _list_page(request: Request, app: App, viewer: Viewer, labels: Labels, filters: Filters,
               errors: list[FilterError]) -> Response:
    rows: list[dict[str, Any]] = []
    total = 0
    child = IDENTITY in visible_groups(app.rt.registry.roles, viewer.subject)
    if not errors:
        rows, total = reports.case_page(app.db, app.rt, where=_where(app, viewer),
                                        **filters.engine_args(), mine=viewer.subject.institution,
                                        child=child, offset=(filters.page - 1) * PAGE_SIZE,
                                        limit=PAGE_SIZE)
        if child and rows:   # the child's name was read: the access log says so
            log_list_read(app, viewer, [r["reference"] for r in rows])
    pages = max(1, -(-total // PAGE_SIZE))
    return page(request, app, viewer, "dashboard/cases.html",
                title=labels.t("dashboard.cases.title"), status=400 if errors else 200,
                filters=filters, errors=errors, invalid={e.field for e in errors},
                rows=rows, total=total, pages=pages, labels=labels,
                columns=[c for c in COLUMNS if child or c[0] != "child"],
                choices=choices(app.rt, labels, filters.case_type),
                may_export=viewer.may(app, Action.EXPORT),
                may_open=viewer.may(app, Action.OPEN_CASE))


# --- export ----------------------------------------------------------------------------


@router.get("/cases/export.csv")
def export_csv(request: Request, viewer: Annotated[Viewer, Depends(web_user)]) -> Response:
    return _export(request, viewer, "csv")


@router.get("/cases/export.xlsx")
def export_xlsx(request: Request, viewer: Annotated[Viewer, Depends(web_user)]) -> Response:
    return _export(request, viewer, "xlsx")


#: The export's columns (catalogue keys), in order.
EXPORT_COLUMNS = ("dashboard.col.reference", "dashboard.col.case_type", "dashboard.col.state",
                  "dashboard.col.status", "dashboard.col.owner", "dashboard.col.school",
                  "dashboard.col.risk", "dashboard.col.opened", "dashboard.col.due",
                  "dashboard.col.days_left", "dashboard.col.is_overdue",
                  "dashboard.col.late_days", "dashboard.col.is_paused")


def _export(request: Request, viewer: Viewer, kind: str) -> Response:
    app = gaita_of(request)
    viewer.require(app, Action.EXPORT)
    labels = Labels(app.rt, viewer.lang)
    filters, errors = parse_filters(app.rt, request.query_params, labels)
    if errors:
        return _list_page(request, app, viewer, labels, filters, errors)
    rows, total = reports.case_page(app.db, app.rt, where=_where(app, viewer),
                                    **filters.engine_args(), mine=viewer.subject.institution,
                                    offset=0, limit=EXPORT_CAP)
    log_export(app, viewer, [r["reference"] for r in rows])
    t = labels.t
    note = (t("dashboard.export.capped", shown=len(rows), total=total)
            if total > len(rows) else None)
    table = [[t(key) for key in EXPORT_COLUMNS], *(_export_row(app.rt, labels, r) for r in rows)]
    today = app.rt.calendar.local_date(app.rt.clock.now()).isoformat()
    name = f"gaita-cases-{today}.{kind}"
    body, media = (_csv(table, note), "text/csv; charset=utf-8") if kind == "csv" \
        else (_xlsx(table, note, t("dashboard.export.sheet")), XLSX)
    headers = {"Content-Disposition": f"attachment; filename={name}"}
    if note:
        headers["X-Gaita-Export-Capped"] = f"{len(rows)}/{total}"
    return Response(body, media_type=media, headers=headers)


def log_list_read(app: App, viewer: Viewer, references: list[str]) -> None:
    """One access-log row (``read``, detail ``list``) per case whose child the list
    page named, in one transaction."""
    _log_cases(app, viewer, references, AccessAction.READ, "list")


def log_export(app: App, viewer: Viewer, references: list[str]) -> None:
    """One access-log row (``export``, ``web``) per exported case, in one transaction."""
    _log_cases(app, viewer, references, AccessAction.EXPORT, None)


def _log_cases(app: App, viewer: Viewer, references: list[str], action: AccessAction,
               detail: str | None) -> None:
    now, who = app.rt.clock.now(), viewer.actor.username
    columns = sa.select(CASE.c.id, sa.literal(who, ACCESS.c.actor.type),
                        sa.literal(action.value, ACCESS.c.action.type),
                        sa.literal(viewer.channel, ACCESS.c.channel.type),
                        sa.literal(now, ACCESS.c.at.type),
                        sa.literal(detail, ACCESS.c.detail.type))
    with app.db.begin() as conn:
        for start in range(0, len(references), 500):
            chunk = references[start:start + 500]
            conn.execute(sa.insert(ACCESS).from_select(
                ["case_id", "actor", "action", "channel", "at", "detail"],
                columns.where(CASE.c.reference.in_(chunk))))


def _export_row(rt: Runtime, labels: Labels, r: Mapping[str, Any]) -> list[Any]:
    t, cal = labels.t, rt.calendar
    due: date | None = cal.local_date(r["due_at"]) if r["due_at"] else None
    return [r["reference"], labels.case_type(r["case_type"]),
            labels.state(r["case_type"], r["state"]), labels.status(r["status"]),
            labels.institution(r["owner_institution"]), labels.institution(r["school_institution"]),
            labels.risk(r["risk_level"]), cal.local_date(r["opened_at"]), due,
            r["working_days_left"], t("dashboard.yes" if r["overdue"] else "dashboard.no"),
            r["late_days"], t("dashboard.yes" if r["paused"] else "dashboard.no")]


def _csv(table: list[list[Any]], note: str | None) -> bytes:
    """UTF-8 with a byte-order mark and ``;`` between fields: what Excel opens as is
    with Latvian regional settings (ā, č, ē… intact; the decimal comma's list separator)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    if note:
        writer.writerow([note])
    writer.writerows([["" if v is None else v.isoformat() if isinstance(v, date) else v
                       for v in row] for row in table])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(table: list[list[Any]], note: str | None, sheet: str) -> bytes:
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    if note:
        ws.append([note])
    for row in table:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
