"""The urgent report email says what its recipient must do: the report is made under BTAL
Art. 73(1) and the recipient (the police, the orphan's court, BAC) acts on it; the
institution that holds the same-day task is told the duty is its own.  No child data."""

from __future__ import annotations

import pytest

from notifications.render import Renderer
from tests.notifications.test_render import CASE, TASK, context

#: What no email may carry (tests.web.conftest.CHILD_MARKS, the demo child).
CHILD_MARKS = ("Jānis", "Bērziņš", "120514", "21234")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize(("locale", "law", "duty"), [
    ("lv", "saskaņā ar Bērnu tiesību aizsardzības likuma 73. panta pirmo daļu",
     "Ziņojums ir adresēts jūsu iestādei, un turpmākā rīcība ir jūsu iestādes pienākums: "
     "ŠODIEN izvērtējiet ziņojumu un rīkojieties savas kompetences ietvaros."),
    ("en", "under Article 73(1) of the Law on the Protection of the Children's Rights",
     "acting on it is your institution's duty: TODAY, assess the report and act within "
     "your competence."),
])
def test_the_recipient_of_a_report_is_told_acting_on_it_is_its_duty(
        renderer: Renderer, locale: str, law: str, duty: str) -> None:
    """The police get the school's report: no task of theirs, no action links."""
    out = renderer.render("urgent_report", locale, context("urgent_report", task=None,
                                                            actions=[]))
    for body in (out.text, " ".join(out.html.replace("<strong>", "").replace("</strong>", "")
                                    .split())):
        assert law in body and duty in body, body
        assert CASE["reference"] in body
        assert not any(mark in body for mark in CHILD_MARKS)


@pytest.mark.parametrize(("locale", "told"), [
    ("lv", f"Jūsu iestādei ŠODIEN jāizpilda šis pienākums: {TASK['title']}."),
    ("en", f"Your institution must do this TODAY: {TASK['title']}."),
])
def test_the_institution_holding_the_same_day_task_is_told_the_duty_is_its_own(
        renderer: Renderer, locale: str, told: str) -> None:
    out = renderer.render("urgent_report", locale, context("urgent_report"))
    assert told in out.text and told in out.html.replace("<strong>", "").replace("</strong>", "")
    assert "73" in out.text
