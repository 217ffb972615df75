"""Work queues (engine.queues): each dashboard figure is the count of the case list's
queue; the coordinator's own queues; a step reported done waits for the coordinator
instead of counting as overdue; on SQLite and PostgreSQL.

The cases of ``tests.engine.test_reports`` (Tuesday 1 Dec 2026 10:00 Riga), plus: the
school reports one overdue step done, asks for more time on another, and a violence case
has a report to the State Police not answered yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from engine.answers import TaskAction, answer
from engine.cases import open_case
from engine.clock import FixedClock
from engine.errors import InvalidQuery
from engine.filings import file_report
from engine.queries import actor_for
from engine.queues import COORDINATOR_QUEUES, Queue
from engine.reports import case_page, dashboard
from engine.store import CASE, TASK
from engine.tables import TaskKind
from gaita.bootstrap import App
from gaita.demo import demo_code
from tests.engine.test_reports import SCHOOL, Cases, cases, school_view

__all__ = ["cases"]   # the fixture, used by name
BOARD, POLICE = "jip", "vp-jelgava"


@dataclass
class More:
    done: str        # the school reported its overdue parent contact done
    extension: str   # the school asked for 2 more working days on today's contact
    violence: str    # a report to the State Police, unanswered


def state_task(app: App, reference: str) -> int:
    with app.db.connect() as conn:
        return int(conn.execute(sa.select(TASK.c.id).join(CASE, CASE.c.id == TASK.c.case_id)
                                .where(CASE.c.reference == reference,
                                       TASK.c.closed_at.is_(None),
                                       TASK.c.kind == TaskKind.STATE)).scalar_one())


@pytest.fixture
def more(gaita: App, cases: Cases, clock: FixedClock) -> More:
    school = actor_for(gaita.db, "skola")
    answer(gaita.db, gaita.rt, state_task(gaita, cases.overdue), TaskAction.DONE, school,
           reason="Vecāki sazināti")
    answer(gaita.db, gaita.rt, state_task(gaita, cases.today), TaskAction.MORE_TIME, school,
           reason="Vecāki slimi", days=2)
    violence = open_case(gaita.db, gaita.rt, "violence", school, child_name="Anna Bērziņa",
                         child_code=demo_code(90), school=SCHOOL,
                         fields={"violence_kind": "at_home", "violence_form": "physical",
                                 "finding": "found"}).reference
    file_report(gaita.db, gaita.rt, violence, "state_police", school,
                {"description": "Zilumi uz rokas", "contact": "Direktore, 63000000"})
    return More(cases.overdue, cases.today, violence)


def refs(app: App, queue: Queue, *, mine: str | None = None,
         where: sa.ColumnElement[bool] | None = None) -> set[str]:
    rows, total = case_page(app.db, app.rt, queue=queue, mine=mine, where=where, limit=500)
    assert total == len(rows)
    return {r["reference"] for r in rows}


def test_every_figure_is_the_count_of_its_queue(gaita: App, cases: Cases, more: More) -> None:
    for institution in (BOARD, SCHOOL, POLICE, None):
        figures = dashboard(gaita.db, gaita.rt, institution=institution)
        for queue in Queue:
            assert figures[queue.value] == len(refs(gaita, queue, mine=institution)), (
                queue, institution)
    mine = dashboard(gaita.db, gaita.rt, school_view(gaita), institution=SCHOOL)
    for queue in Queue:   # and within the access policy's view
        assert mine[queue.value] == len(refs(gaita, queue, mine=SCHOOL,
                                             where=school_view(gaita))), queue


def test_the_deadline_queues(gaita: App, cases: Cases, more: More) -> None:
    # the overdue parent contact was reported done: it waits for the coordinator now
    assert refs(gaita, Queue.OVERDUE) == {cases.other}
    assert cases.today not in refs(gaita, Queue.OVERDUE)
    # a request for more time moves nothing until it is approved; violence: same-day steps
    assert refs(gaita, Queue.DUE_TODAY) == {cases.today, more.violence}
    assert refs(gaita, Queue.DUE_THIS_WEEK) == {cases.week}
    assert not {cases.paused, cases.long_pause} & (
        refs(gaita, Queue.OVERDUE) | refs(gaita, Queue.DUE_TODAY)
        | refs(gaita, Queue.DUE_THIS_WEEK))
    assert refs(gaita, Queue.PAUSED_TOO_LONG) == {cases.long_pause}
    assert refs(gaita, Queue.UNACKNOWLEDGED) == {cases.later}
    assert refs(gaita, Queue.FAILED_EMAILS) == {cases.later}   # the closed case's is not


def test_a_step_reported_done_waits_for_the_coordinator(gaita: App, cases: Cases,
                                                        more: More) -> None:
    assert refs(gaita, Queue.REPORTED_DONE) == {more.done}
    [row] = [r for r in case_page(gaita.db, gaita.rt, limit=100)[0]
             if r["reference"] == more.done]
    assert (row["waiting_for_coordinator"], row["overdue"]) == (True, False)
    assert row["working_days_left"] < 0   # the date itself is kept
    assert more.done not in refs(gaita, Queue.OVERDUE)
    figures = dashboard(gaita.db, gaita.rt)
    assert figures["by_type"]["absences"]["overdue"] == 1   # only the other school's
    # the overdue filter of the list is the overdue queue
    rows, _ = case_page(gaita.db, gaita.rt, overdue=True)
    assert {r["reference"] for r in rows} == {cases.other}


def test_the_coordinators_own_queues(gaita: App, cases: Cases, more: More) -> None:
    assert refs(gaita, Queue.EXTENSION_REQUESTS) == {more.extension}
    assert refs(gaita, Queue.INFORMATION_REQUESTS) == {more.violence}
    assert refs(gaita, Queue.MY_TASKS, mine=BOARD) == {cases.week}   # the board's assessment
    assert refs(gaita, Queue.MY_TASKS, mine=POLICE) == {more.violence}   # the report to answer
    # reported done (more.done): no longer the school's to do; another school's: not its own
    assert refs(gaita, Queue.MY_TASKS, mine=SCHOOL) == {
        cases.long_pause, cases.later, cases.paused, more.extension, more.violence}
    assert refs(gaita, Queue.MY_TASKS) == set()   # no institution: no task of its own
    assert set(COORDINATOR_QUEUES) == {Queue.MY_TASKS, Queue.REPORTED_DONE,
                                       Queue.EXTENSION_REQUESTS, Queue.INFORMATION_REQUESTS}


def test_a_queue_lists_open_cases_only(gaita: App, cases: Cases, more: More) -> None:
    closed_too = case_page(gaita.db, gaita.rt, queue=Queue.FAILED_EMAILS,
                           include_closed=True)[0]
    assert {r["reference"] for r in closed_too} == {cases.later}


def test_an_unknown_queue_is_refused_by_name(gaita: App) -> None:
    with pytest.raises(InvalidQuery) as refused:
        case_page(gaita.db, gaita.rt, queue="everything")  # type: ignore[arg-type] - not a Queue, on purpose
    assert refused.value.parameter == "queue"
    assert "everything" in str(refused.value)


@pytest.mark.parametrize("descending", [False, True])
def test_pages_by_deadline_cross_from_dated_to_undated_cases(gaita: App, cases: Cases,
                                                             more: More, descending: bool) -> None:
    """The list by deadline reads the cases with a deadline first, then those without one
    (here the closed case): every page size gives the same order, undated last."""
    def page(offset: int, limit: int) -> list[str]:
        rows, total = case_page(gaita.db, gaita.rt, include_closed=True, sort="due",
                                descending=descending, offset=offset, limit=limit)
        assert total == 9
        return [r["reference"] for r in rows]

    whole = page(0, 100)
    assert len(whole) == 9 and whole[-1] == cases.closed
    for size in (1, 2, 4):
        assert [ref for start in range(0, 12, size) for ref in page(start, size)] == whole
    assert page(9, 5) == [] and page(20, 5) == []
