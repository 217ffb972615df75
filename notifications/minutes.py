"""The cooperation group's minutes as a DOCX for signing (python-docx).

Built from ``engine.group.meetings.meeting_view``: references, case types, reasons,
decisions and the agreed actions per institution with their due dates.
Nothing about the child (no names, no personal codes).  The attendance and
signature lines are left blank to be filled in by hand; the seats come from
``cooperation_group.yaml`` (positions, never names).  The words are the
``minutes`` message catalogue's (``i18n/locale/<lang>/LC_MESSAGES/minutes.po``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from engine.runtime import Runtime
from engine.tables import MeetingKind
from i18n import format_day, pick_lang, translator

LINE = "_" * 32

#: The kinds of meeting the minutes name in words; any other kind is written as stored.
KINDS = {kind: f"minutes.kind.{kind.value}" for kind in MeetingKind}
INVITED_LINES = 3


def write_minutes(rt: Runtime, view: Mapping[str, Any], path: Path, *, locale: str = "lv") -> Path:
    """Write the minutes of the meeting ``view`` (``engine.group.meetings.meeting_view`` in the
    same ``locale``) to ``path`` as DOCX."""
    loc = pick_lang(locale)
    t = translator(loc)
    group = rt.municipality.cooperation_group
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Calibri"   # has every Latvian letter
    style.font.size = Pt(11)

    doc.add_paragraph(getattr(rt.municipality.municipality.name, loc)).alignment = (
        WD_ALIGN_PARAGRAPH.CENTER)
    doc.add_heading(getattr(group.name, loc), level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    heading = f"{t('minutes.title')} — {t('minutes.meeting', id=view['id'])}"
    title = doc.add_heading(heading, level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field(doc, t("minutes.date"), format_day(view["day"], loc))
    # the time of day the chair gave (a meeting planned before times were recorded: a line)
    _field(doc, t("minutes.time"), view.get("time") or LINE)
    _field(doc, t("minutes.place"), view["place"] or LINE)
    kind = view["kind"]
    _field(doc, t("minutes.kind"), t(KINDS[kind]) if kind in KINDS else kind)

    doc.add_heading(t("minutes.attendees"), level=2)
    for seat in (group.chair, *group.members):
        doc.add_paragraph(f"{getattr(seat.position, loc)}: {LINE} ({t('minutes.name')})")
    for _ in range(INVITED_LINES):
        doc.add_paragraph(f"{t('minutes.invited')}: {LINE} ({t('minutes.name')})")

    doc.add_heading(t("minutes.cases"), level=2)
    doc.add_paragraph(t("minutes.recommendation"))
    if not view["items"]:
        doc.add_paragraph(t("minutes.no_cases"))
    for n, item in enumerate(view["items"], 1):
        _case(doc, rt, t, n, item, loc)

    doc.add_paragraph()
    for role in ("minutes.chair", "minutes.secretary"):
        doc.add_paragraph(f"{t(role)}: {LINE} ({t('minutes.signature')})    "
                          f"{LINE} ({t('minutes.name')})")
    doc.save(str(path))
    return path


def _field(doc: Any, label: str, value: str) -> None:
    p = doc.add_paragraph()
    p.add_run(f"{label}: ").bold = True
    p.add_run(value)


def _case(doc: Any, rt: Runtime, t: Callable[..., str], n: int, item: Mapping[str, Any],
          loc: str) -> None:
    doc.add_heading(f"{n}. {item['reference']}", level=3)
    _field(doc, t("minutes.case_type"), item["type_title"])
    urgent = f" ({t('minutes.urgent')})" if item["urgent"] else ""
    reasons = "; ".join(item["reason_titles"]) + urgent
    _field(doc, t("minutes.reasons"), reasons)
    decision = item["decision"]
    if decision is None:
        _field(doc, t("minutes.decision"), t("minutes.no_decision"))
        return
    _field(doc, t("minutes.decision"), decision["summary"])
    if not decision["actions"]:
        doc.add_paragraph(t("minutes.no_actions"))
        return
    doc.add_paragraph().add_run(f"{t('minutes.actions')}:").bold = True
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    headings = (t("minutes.institution"), t("minutes.action"), t("minutes.due"))
    for cell, label in zip(table.rows[0].cells, headings, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(label).bold = True
    for action in decision["actions"]:
        cells = table.add_row().cells
        cells[0].text = action["institution_name"] or action["institution"]
        cells[1].text = action["title"]
        cells[2].text = format_day(rt.calendar.local_date(action["due_at"]), loc)
