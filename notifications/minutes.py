"""The cooperation group's minutes as a DOCX for signing (python-docx).

Built from ``engine.group.meeting_view``: references, case types, reasons,
decisions and the agreed actions per institution with their due dates.
Nothing about the child (no names, no personal codes).  The attendance and
signature lines are left blank to be filled in by hand; the seats come from
``cooperation_group.yaml`` (positions, never names).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from engine.runtime import Runtime
from notifications.compose import format_local

LINE = "_" * 32

LABELS: dict[str, dict[str, str]] = {
    "lv": {
        "minutes": "Sēdes protokols", "meeting": "Sēde Nr. {id}", "date": "Datums",
        "place": "Vieta", "kind": "Sēdes veids", "ordinary": "kārtējā",
        "extraordinary": "ārkārtas", "attendees": "Sēdē piedalās",
        "invited": "Uzaicinātā persona", "name": "vārds, uzvārds",
        "cases": "Izskatītās lietas", "no_cases": "Darba kārtībā nebija nevienas lietas.",
        "case_type": "Lietas veids", "reasons": "Iemesls", "urgent": "steidzama",
        "decision": "Lēmums", "no_decision": "Lēmums nav pieņemts.",
        "actions": "Uzdevumi", "no_actions": "Jauni uzdevumi nav noteikti.",
        "institution": "Iestāde", "action": "Uzdevums", "due": "Izpildes termiņš",
        "chair": "Sēdes vadītājs", "secretary": "Protokolētājs", "signature": "paraksts",
    },
    "en": {
        "minutes": "Minutes of the meeting", "meeting": "Meeting No. {id}", "date": "Date",
        "place": "Place", "kind": "Kind of meeting", "ordinary": "ordinary",
        "extraordinary": "extraordinary", "attendees": "Present",
        "invited": "Invited person", "name": "name",
        "cases": "Cases examined", "no_cases": "There were no cases on the agenda.",
        "case_type": "Case type", "reasons": "Reason", "urgent": "urgent",
        "decision": "Decision", "no_decision": "No decision was taken.",
        "actions": "Tasks", "no_actions": "No new tasks were set.",
        "institution": "Institution", "action": "Task", "due": "Due",
        "chair": "Chair of the meeting", "secretary": "Minutes taken by", "signature": "signature",
    },
}
INVITED_LINES = 3


def write_minutes(rt: Runtime, view: Mapping[str, Any], path: Path, *, locale: str = "lv") -> Path:
    """Write the minutes of the meeting ``view`` (``engine.group.meeting_view`` in the
    same ``locale``) to ``path`` as DOCX."""
    loc = locale if locale in LABELS else "lv"
    t = LABELS[loc]
    group = rt.municipality.cooperation_group
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Calibri"   # has every Latvian letter
    style.font.size = Pt(11)

    doc.add_paragraph(getattr(rt.municipality.municipality.name, loc)).alignment = (
        WD_ALIGN_PARAGRAPH.CENTER)
    doc.add_heading(getattr(group.name, loc), level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    title = doc.add_heading(f"{t['minutes']} — {t['meeting'].format(id=view['id'])}", level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _field(doc, t["date"], view["day"].strftime("%d.%m.%Y"))
    _field(doc, t["place"], view["place"] or LINE)
    _field(doc, t["kind"], t[view["kind"]] if view["kind"] in t else view["kind"])

    doc.add_heading(t["attendees"], level=2)
    for seat in (group.chair, *group.members):
        doc.add_paragraph(f"{getattr(seat.position, loc)}: {LINE} ({t['name']})")
    for _ in range(INVITED_LINES):
        doc.add_paragraph(f"{t['invited']}: {LINE} ({t['name']})")

    doc.add_heading(t["cases"], level=2)
    if not view["items"]:
        doc.add_paragraph(t["no_cases"])
    for n, item in enumerate(view["items"], 1):
        _case(doc, rt, t, n, item)

    doc.add_paragraph()
    for role in ("chair", "secretary"):
        doc.add_paragraph(f"{t[role]}: {LINE} ({t['signature']})    {LINE} ({t['name']})")
    doc.save(str(path))
    return path


def _field(doc: Any, label: str, value: str) -> None:
    p = doc.add_paragraph()
    p.add_run(f"{label}: ").bold = True
    p.add_run(value)


def _case(doc: Any, rt: Runtime, t: Mapping[str, str], n: int, item: Mapping[str, Any]) -> None:
    doc.add_heading(f"{n}. {item['reference']}", level=3)
    _field(doc, t["case_type"], item["type_title"])
    reasons = "; ".join(item["reason_titles"]) + (f" ({t['urgent']})" if item["urgent"] else "")
    _field(doc, t["reasons"], reasons)
    decision = item["decision"]
    if decision is None:
        _field(doc, t["decision"], t["no_decision"])
        return
    _field(doc, t["decision"], decision["summary"])
    if not decision["actions"]:
        doc.add_paragraph(t["no_actions"])
        return
    doc.add_paragraph().add_run(f"{t['actions']}:").bold = True
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    for cell, label in zip(table.rows[0].cells, (t["institution"], t["action"], t["due"]),
                           strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(label).bold = True
    for action in decision["actions"]:
        cells = table.add_row().cells
        cells[0].text = action["institution_name"] or action["institution"]
        cells[1].text = action["title"]
        cells[2].text = format_local(rt, action["due_at"]).split(" ")[0]
