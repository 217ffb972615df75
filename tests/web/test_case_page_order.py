"""The case page leads with what to do: its blocks' order, the deadline badge, the folded
diagram, the timeline's order, what a notice says changed (lv/en), and a refused form's
error at its field, the form first and open, the field focused."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.testclient import TestClient

from engine.clock import FixedClock
from gaita.bootstrap import App
from gaita.web.badges import due_badge
from tests.web.test_case_page import (
    SCHOOL_ACTIONS,
    TO_BOARD,
    open_absences,
    submit,
    walk,
)

Client = Callable[[str | None], TestClient]
STATUS = re.compile(r'<p class="notice" role="status">([^<]+)</p>')


def test_blocks_come_in_the_coordinators_order(web: App, browser_client: Client) -> None:
    ref = open_absences(web)
    page = browser_client("koordinatore").get(f"/cases/{ref}").text
    marks = ['id="summary"', 'id="actions"', 'class="step', 'class="law"', 'id="timeline"',
             'id="notes"', 'id="diagram"']
    at = [page.index(m) for m in marks]
    assert at == sorted(at), dict(zip(marks, at, strict=True))
    # the diagram is folded: its SVG inside a closed <details>
    box = re.search(r'<details class="step" id="diagram-box">.*?</details>', page, re.S)
    assert box and "<svg" in box.group(0)
    # the summary: who, the state, the owner and the due date with a badge
    summary = page[page.index('id="summary"'):page.index('id="actions"')]
    assert "<dt>Atbildīgā iestāde</dt>" in summary and "<dt>Termiņš</dt>" in summary


def test_the_deadline_badge() -> None:
    assert due_badge(True, -3, False) == "overdue"
    assert due_badge(False, 0, False) == "today"
    assert due_badge(False, 2, False) == "soon"
    assert due_badge(False, 3, False) is None
    assert due_badge(True, -3, True) == "paused"   # a paused clock is not overdue


def test_the_badge_on_the_page_in_words(web: App, browser_client: Client) -> None:
    ref = open_absences(web)   # contact the parents: the same school day
    c = browser_client("koordinatore")
    assert '<span class="badge due-badge today">šodien</span>' in c.get(f"/cases/{ref}").text
    clock = web.rt.clock
    assert isinstance(clock, FixedClock)
    clock.advance(days=3)
    late = browser_client("koordinatore").get(f"/cases/{ref}").text   # a new session
    assert '<span class="badge due-badge overdue">nokavēts</span>' in late


def test_the_timeline_reads_newest_first_or_oldest_first(web: App,
                                                         browser_client: Client) -> None:
    ref = open_absences(web)
    walk(web, ref, TO_BOARD[0])
    c = browser_client("koordinatore")

    def seqs(html: str) -> list[int]:
        return [int(n) for n in re.findall(r'<li id="event-(\d+)">', html)]

    newest = c.get(f"/cases/{ref}").text
    assert seqs(newest) == sorted(seqs(newest), reverse=True) and len(seqs(newest)) == 2
    assert f'href="/cases/{ref}?order=oldest#timeline">rādīt vecākos augšā</a>' in newest
    oldest = c.get(f"/cases/{ref}?order=oldest").text
    assert seqs(oldest) == sorted(seqs(oldest))
    assert f'href="/cases/{ref}?order=newest#timeline">rādīt jaunākos augšā</a>' in oldest
    assert seqs(c.get(f"/cases/{ref}?order=sideways").text) == seqs(newest)   # ignored


def test_a_notice_says_what_changed_in_latvian_and_english(web: App,
                                                           browser_client: Client) -> None:
    ref = open_absences(web)
    c = browser_client("koordinatore")
    moved = submit(c, ref, "fire/record_unjustified",
                   **{"f.record_unjustified.parents_reached": "false"})
    location = moved.headers["location"]
    assert re.fullmatch(rf"/cases/{ref}\?notice=saved&event=\d+", location)
    said = STATUS.findall(c.get(location).text)
    assert len(said) == 1
    assert said[0].startswith("Saglabāts: lieta pārvietota uz posmu «Atbalsts izglītības "
                              "iestādē un kavējumu uzskaite»; atbildīgā: Jelgavas 4. "
                              "vidusskola; termiņš ")
    english = STATUS.findall(c.get(location + "&lang=en").text)
    assert english[0].startswith("Saved: the case moved to the stage “") and "due " in english[0]
    noted = submit(c, ref, "notes", note_text="Zvanīju mātei", note_group="notes")
    assert STATUS.findall(c.get(noted.headers["location"]).text) == [
        "Piezīme pievienota (grupa «Piezīmes»)."]
    paused = submit(c, ref, "pause", pause_reason="child_abroad")
    assert STATUS.findall(c.get(paused.headers["location"]).text) == [
        "Saglabāts: termiņš apturēts (iemesls: Bērns ārzemēs, gaida apstiprinājumu)."]
    # another user's view of the same address: only the code's own text
    other = browser_client("skola").get(paused.headers["location"]).text
    assert STATUS.findall(other) == ["Saglabāts."]
    # the URL carries nothing about the child
    for url in (location, noted.headers["location"], paused.headers["location"]):
        assert "Bērziņš" not in url and "120514" not in url


def test_a_refused_step_shows_its_error_at_the_field_first_and_open(
        web: App, browser_client: Client) -> None:
    ref = open_absences(web)
    walk(web, ref, TO_BOARD[0])
    c = browser_client("koordinatore")
    refused = submit(c, ref, "fire/report_to_board", **{
        "f.report_to_board.unjustified_lessons": "10",
        "f.report_to_board.school_actions": SCHOOL_ACTIONS})
    assert refused.status_code == 422
    page = refused.text
    field = "f-report_to_board-unjustified_lessons"
    # the message right above its input, which it describes; the input is focused
    message = re.search(rf'<p class="form-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert message and "Sistēma šo soli neatļāva." in message.group(1)
    assert "vairāk nekā 20" in message.group(1)
    assert re.search(rf'<input [^>]*id="{field}"[^>]*aria-invalid="true" '
                     rf'aria-describedby="{field}-error" autofocus>', page)
    assert page.count("autofocus") == 1
    # the refused step is the first form of the next steps, open
    actions = page[page.index('id="actions"'):]
    assert re.search(r'id="(step-[a-z_]+)"', actions).group(1) == "step-report_to_board"
    assert 'id="step-report_to_board" open' in actions
    assert 'class="errors"' not in page   # no summary far above it


def test_a_refused_note_and_pause_say_so_at_their_fields(web: App,
                                                         browser_client: Client) -> None:
    ref = open_absences(web)
    walk(web, ref, TO_BOARD[0])
    c = browser_client("koordinatore")
    note = submit(c, ref, "notes", note_text=" ", note_group="notes").text
    assert 'id="note" open' in note
    assert re.search(r'<textarea id="note_text"[^>]*aria-invalid="true" '
                     r'aria-describedby="note_text-error" autofocus>', note)
    actions = note[note.index('id="actions"'):]
    assert actions.index('id="note"') < actions.index('id="step-')   # the refused form first
    pause = submit(c, ref, "pause", pause_reason="holiday").text
    assert re.search(r'<select id="pause_reason"[^>]*aria-invalid="true" '
                     r'aria-describedby="pause_reason-error" autofocus>', pause)
    assert '<p class="form-error" id="pause_reason-error">Izvēlieties apturēšanas iemeslu.' \
        in pause
