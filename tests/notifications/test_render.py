"""Email templates and the renderer: every template, both locales, real files, no mocks."""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from engine.errors import NotFound
from notifications.catalogue import TEMPLATES_DIR, template_names
from notifications.render import LOCALES, Renderer, TemplateError, TemplateMissing

TEMPLATES = (
    "task_assigned", "case_update", "urgent_report", "task_reminder", "task_overdue", "escalation_head",
    "group_queued", "meeting_agenda", "decision_task", "digest", "delivery_failed", "group_waiting",
    "transfer_request", "residence_report", "notices",
)
NO_CASE = {"meeting_agenda", "digest", "residence_report"}   # case and task are None

INSTITUTION = "Jelgavas Spīdolas Valsts ģimnāzija"
CASE = {
    "reference": "KAV-2026-00001",
    "type_title": "Neattaisnoti mācību stundu kavējumi",
    "state_title": "Sazināties ar vecākiem",
    "url": "https://gaita.jelgava.lv/lietas/KAV-2026-00001",
}
TASK = {
    "title": "Sazināties ar vecākiem",
    "institution": INSTITUTION,
    "due": "03.12.2026 23:59",
    "days_left": 3,
    "overdue_days": None,
    "report": False,
}
PURPOSES = ("acknowledge", "accept", "decline", "done", "more_time")
ACTIONS = [{"purpose": p, "url": f"https://gaita.jelgava.lv/darbiba/{p}?zime=ab12&v=1"} for p in PURPOSES]
LABELS = {
    "lv": ("Apstiprināt saņemšanu", "Pieņemt uzdevumu", "Atteikties (norādot iemeslu)",
           "Atzīmēt kā izpildītu", "Lūgt termiņa pagarinājumu"),
    "en": ("Confirm receipt", "Accept the task", "Decline (with a reason)", "Mark as done", "Ask for more time"),
}
DAYS_LEFT = {"lv": "3 darba dienas atlikušas", "en": "3 working days left"}
SENT_BY = {"lv": "Nosūtīts automātiski no sistēmas Gaita", "en": "Sent automatically by Gaita"}


def row(reference: str, days_left: int) -> dict[str, Any]:
    return {"reference": reference, "title": "Sazināties ar vecākiem", "due": "01.12.2026 23:59",
            "days_left": days_left, "url": f"https://gaita.jelgava.lv/lietas/{reference}"}


EXTRA: dict[str, dict[str, Any]] = {
    "escalation_head": {"level": 2},
    "group_queued": {"reason": "Ģimene nesadarbojas ar skolu", "risk": "high"},
    "meeting_agenda": {
        "meeting": {"when": "10.12.2026 14:00", "place": "Lielā iela 11, 201. kabinets"},
        "items": [{"reference": "VARD-2026-00003", "type_title": "Vardarbība pret bērnu",
                   "reason": "Atkārtots ziņojums", "url": "https://gaita.jelgava.lv/lietas/VARD-2026-00003"}],
        "members": [{"position": "Jelgavas izglītības pārvaldes pārstāvis",
                     "institution": "Jelgavas izglītības pārvalde"}],
    },
    "decision_task": {"decision": "Sagatavot ģimenes atbalsta plānu un iesniegt to grupai"},
    "group_waiting": {"reason": "Ģimene nesadarbojas ar skolu", "risk": "high", "waited": 2,
                      "queued": "30.11.2026"},
    "transfer_request": {"from": "jelgavas-4-vsk"},
    "residence_report": {"report": {"reference": "VARD-2026-00003",
                                    "school": "Jelgavas 4. vidusskola",
                                    "office": "Jelgavas izglītības pārvalde",
                                    "office_email": "jip@example.lv",
                                    "sender": "Inese Koordinatore",
                                    "sender_email": "koordinatore@example.lv"}},
    "digest": {"open": [row("ATK-2026-00007", 8)], "due_soon": [row("NEREG-2026-00005", 1)],
               "overdue": [row("KAV-2026-00002", -2)]},
    # several notices about one case in one email (notifications.timing): each its own links
    "notices": {"notices": [
        {"text": "Jauns uzdevums: Sazināties ar vecākiem, lieta KAV-2026-00001", "case": CASE,
         "task": TASK, "actions": ACTIONS},
        {"text": "Lietā KAV-2026-00001 saņemta atbilde", "case": CASE, "task": None,
         "actions": []}], "cases": 1},
    "delivery_failed": {"failed_template": "task_assigned", "failed_recipient": "Jelgavas 4. vidusskola",
                        "error": "550 5.1.1 <skola@example.lv>: Recipient address rejected"},
}
# Template-specific values the body must show (text and HTML).
EXTRA_SHOWN: dict[str, tuple[str, ...]] = {
    "escalation_head": ("2",),
    "group_queued": ("Ģimene nesadarbojas ar skolu",),
    "meeting_agenda": ("10.12.2026 14:00", "Lielā iela 11, 201. kabinets", "VARD-2026-00003",
                       "Atkārtots ziņojums", "https://gaita.jelgava.lv/lietas/VARD-2026-00003",
                       "Jelgavas izglītības pārvaldes pārstāvis"),
    "decision_task": ("Sagatavot ģimenes atbalsta plānu un iesniegt to grupai",),
    "residence_report": ("VARD-2026-00003", "Jelgavas 4. vidusskola", "jip@example.lv"),
    "group_waiting": ("Ģimene nesadarbojas ar skolu", "30.11.2026"),
    "digest": ("ATK-2026-00007", "NEREG-2026-00005", "KAV-2026-00002", "https://gaita.jelgava.lv/lietas/KAV-2026-00002"),
    "delivery_failed": ("Jelgavas 4. vidusskola", "task_assigned", "550 5.1.1"),
    "notices": ("Jauns uzdevums: Sazināties ar vecākiem, lieta KAV-2026-00001",
                "Lietā KAV-2026-00001 saņemta atbilde"),
}


def context(template: str, **changes: Any) -> dict[str, Any]:
    bare = template in NO_CASE
    values: dict[str, Any] = {
        "locale": "lv",
        "municipality": "Jelgavas valstspilsētas pašvaldība",
        "recipient": {"name": INSTITUTION},
        "case": None if bare else deepcopy(CASE),
        "task": None if bare else deepcopy(TASK),
        "actions": [] if bare else deepcopy(ACTIONS),
        "extra": deepcopy(EXTRA.get(template, {})),
    }
    values.update(changes)
    return values


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def test_the_catalogue_is_the_full_template_set_as_text_and_html_for_both_locales() -> None:
    assert template_names() == frozenset(TEMPLATES)
    assert LOCALES == ("lv", "en")
    for name in TEMPLATES:
        for suffix in (".txt", ".html"):
            assert (TEMPLATES_DIR / f"{name}{suffix}").is_file(), f"{name}{suffix}"
    assert [p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir()] == []   # no copy per language


def test_the_catalogue_leaves_out_partials(tmp_path: Path) -> None:
    for name in ("notice.txt", "notice.html", "_common.txt", "_layout.html", "only_html.html"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")
    assert template_names(tmp_path) == frozenset({"notice"})
    assert not any(name.startswith("_") for name in template_names())


def test_every_text_template_is_a_subject_line_an_empty_line_and_a_body() -> None:
    for name in TEMPLATES:
        lines = (TEMPLATES_DIR / f"{name}.txt").read_text(encoding="utf-8").split("\n")
        assert lines[0].strip() and lines[1] == "", f"{name}.txt"


def test_no_template_refers_to_personal_data() -> None:
    tag = re.compile(r"\{[{%].*?[}%]\}", re.S)
    for path in TEMPLATES_DIR.rglob("*.*"):
        for expression in tag.findall(path.read_text(encoding="utf-8")):
            names = re.sub(r"\"[^\"]*\"|'[^']*'", "", expression)       # identifiers, not wording
            assert not re.search(r"child|person|birth|address|code", names), (path, expression)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_the_facts_of_the_case_and_task(renderer: Renderer, name: str, locale: str) -> None:
    ctx = context(name, locale=locale)
    out = renderer.render(name, locale, ctx)

    assert out.subject and out.subject == out.subject.strip() and "\n" not in out.subject
    assert out.html.lstrip().startswith("<!DOCTYPE html>") and f'<html lang="{locale}">' in out.html
    assert SENT_BY[locale] in out.text and SENT_BY[locale] in out.html
    assert INSTITUTION in out.text and INSTITUTION in out.html          # diacritics survive, unescaped
    for body in (out.subject, out.text, out.html):
        assert "{{" not in body and "{%" not in body and "None" not in body
    for tag in ("<script", "src=", "<link", "@import"):
        assert tag not in out.html

    if ctx["case"]:
        assert CASE["reference"] in out.subject
        for value in (CASE["reference"], CASE["type_title"], CASE["url"]):
            assert value in out.text and value in out.html, value
    if ctx["task"]:
        for value in (TASK["title"], TASK["due"], TASK["institution"], DAYS_LEFT[locale]):
            assert value in out.text and value in out.html, value
    if ctx["actions"]:
        for label, action in zip(LABELS[locale], ACTIONS, strict=True):
            assert f"{label}: {action['url']}" in out.text
            assert f'<a href="{escape(action["url"])}">{label}</a>' in out.html
    for value in EXTRA_SHOWN.get(name, ()):
        assert value in out.text and escape(value) in out.html, value


@pytest.mark.parametrize(("days_left", "overdue_days", "lv", "en"), [
    (3, None, "3 darba dienas atlikušas", "3 working days left"),
    (1, None, "1 darba diena atlikusi", "1 working day left"),
    (21, None, "21 darba diena atlikusi", "21 working days left"),
    (11, None, "11 darba dienas atlikušas", "11 working days left"),
    (0, None, "termiņš beidzas šodien", "due today"),
    (-1, None, "termiņš nokavēts par 1 darba dienu", "overdue by 1 working day"),
    (-4, 4, "termiņš nokavēts par 4 darba dienām", "overdue by 4 working days"),
    (None, 2, "termiņš nokavēts par 2 darba dienām", "overdue by 2 working days"),
    (0, 0, "termiņš nokavēts", "overdue"),
])
def test_working_days_left_are_worded_in_singular_plural_and_overdue(
        renderer: Renderer, days_left: int | None, overdue_days: int | None, lv: str, en: str) -> None:
    task = dict(TASK, days_left=days_left, overdue_days=overdue_days)
    for locale, phrase in (("lv", lv), ("en", en)):
        out = renderer.render("task_overdue", locale, context("task_overdue", task=task))
        assert f"{TASK['due']} ({phrase})" in out.text
        assert f"{TASK['due']}</strong> ({phrase})" in out.html


def test_html_is_escaped_and_text_is_not(renderer: Renderer) -> None:
    name = '<script>alert("x")</script> & Co'
    task = dict(TASK, institution="Skola <b>", title="Saruna & plāns")
    out = renderer.render("escalation_head", "lv", context("escalation_head", recipient={"name": name}, task=task))
    assert name in out.text and "Skola <b>" in out.subject and "Saruna & plāns" in out.text
    assert "<script>" not in out.html and "<b>" not in out.html
    assert str(escape(name)) in out.html and "Skola &lt;b&gt;" in out.html and "Saruna &amp; plāns" in out.html


def test_an_unknown_locale_falls_back_to_latvian(renderer: Renderer) -> None:
    ctx = context("task_assigned")
    assert renderer.render("task_assigned", "de", ctx) == renderer.render("task_assigned", "lv", ctx)
    assert '<html lang="lv">' in renderer.render("task_assigned", "", ctx).html


def test_one_template_per_format_serves_both_languages_from_the_catalogue(tmp_path: Path) -> None:
    (tmp_path / "notice.txt").write_text(
        '{{ t("email.greeting") }} {{ municipality }}\n\n{{ t("working_days", n=21) }}\n', encoding="utf-8")
    (tmp_path / "notice.html").write_text(
        '<p lang="{{ locale }}">{{ t("email.delivery_failed.intro") }} {{ t("email.sent_by", municipality="<X>") }}</p>\n',
        encoding="utf-8")
    lv = Renderer(tmp_path).render("notice", "lv", context("notice"))
    en = Renderer(tmp_path).render("notice", "en", context("notice"))
    assert (lv.subject, lv.text) == ("Labdien! Jelgavas valstspilsētas pašvaldība", "21 darba diena\n")
    assert (en.subject, en.text) == ("Hello, Jelgavas valstspilsētas pašvaldība", "21 working days\n")
    assert lv.html.startswith('<p lang="lv">Sistēma Gaita nevarēja piegādāt')
    # the catalogue's own text is not escaped in HTML, the values are
    assert en.html.endswith("check the institution's email address. Sent automatically by Gaita (&lt;X&gt;).</p>\n")


def test_a_missing_message_names_the_template_its_line_and_the_key(tmp_path: Path) -> None:
    (tmp_path / "notice.txt").write_text('Temats\n\n{{ t("email.no_such_word") }}\n', encoding="utf-8")
    (tmp_path / "notice.html").write_text("<p>Teksts</p>\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"'notice' \(en\).*notice\.txt:3: no message 'email\.no_such_word'"):
        Renderer(tmp_path).render("notice", "en", context("notice"))


def test_an_unknown_template_is_a_clear_not_found(renderer: Renderer) -> None:
    for name in ("no_such_template", "_common", "../lv/task_assigned"):
        with pytest.raises(TemplateMissing) as info:
            renderer.render(name, "lv", context("task_assigned"))
        assert isinstance(info.value, NotFound)
        assert str(info.value) == f"no email template {name!r} (looked in notifications/templates)"


def test_a_missing_or_unknown_context_key_names_the_template(renderer: Renderer) -> None:
    ctx = context("task_assigned")
    del ctx["task"]
    with pytest.raises(TemplateError, match=r"'task_assigned' \(lv\).*missing context keys: task"):
        renderer.render("task_assigned", "lv", ctx)
    with pytest.raises(TemplateError, match=r"'task_assigned' \(en\).*unknown context keys: child"):
        renderer.render("task_assigned", "en", {**context("task_assigned"), "child": {"name": "X"}})


def test_a_missing_variable_names_the_template_and_the_variable(renderer: Renderer) -> None:
    task = {k: v for k, v in TASK.items() if k != "institution"}
    with pytest.raises(TemplateError, match=r"'task_assigned' \(lv\).*_details\.txt:\d+: .*'institution'"):
        renderer.render("task_assigned", "lv", context("task_assigned", task=task))
    with pytest.raises(TemplateError, match=r"'escalation_head' \(en\).*'level'"):
        renderer.render("escalation_head", "en", context("escalation_head", extra={}))
    with pytest.raises(TemplateError, match="'task_assigned'"):
        renderer.render("task_assigned", "lv", context("task_assigned", task=None))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", ["case_update", "group_queued", "urgent_report", "delivery_failed"])
def test_notices_without_a_task_render(renderer: Renderer, name: str, locale: str) -> None:
    out = renderer.render(name, locale, context(name, task=None, actions=[]))
    assert CASE["reference"] in out.subject and CASE["url"] in out.text and CASE["url"] in out.html
    assert "None" not in out.text


def test_a_delivery_failure_without_a_case_renders(renderer: Renderer) -> None:
    out = renderer.render("delivery_failed", "lv", context("delivery_failed", case=None, task=None, actions=[]))
    assert out.subject == "E-pastu neizdevās piegādāt: Jelgavas 4. vidusskola"
    assert "Lūdzam sazināties ar iestādi citā veidā" in out.text


@pytest.mark.parametrize(("locale", "nothing"), [("lv", "Jums nav neizpildītu uzdevumu."), ("en", "You have no open tasks.")])
def test_an_empty_digest_says_so(renderer: Renderer, locale: str, nothing: str) -> None:
    out = renderer.render("digest", locale, context("digest", extra={"open": [], "due_soon": [], "overdue": []}))
    assert nothing in out.text and nothing in out.html


def test_a_subject_must_be_followed_by_an_empty_line(tmp_path: Path) -> None:
    (tmp_path / "notice.txt").write_text("Temats{% if case %} {{ case.reference }}{% endif %}\n\nTeksts\n",
                                         encoding="utf-8")
    (tmp_path / "notice.html").write_text("<p>Teksts</p>\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"'notice'.*subject line, an empty line"):
        Renderer(tmp_path).render("notice", "lv", context("task_assigned"))


@pytest.mark.parametrize(("extra", "lv", "en"), [
    ({"answer": "more_time", "days": 1}, "Iestāde lūdz termiņa pagarinājumu par 1 darba dienu;",
     "The institution asks for 1 working day more;"),
    ({"answer": "more_time", "days": 3}, "Iestāde lūdz termiņa pagarinājumu par 3 darba dienām;",
     "The institution asks for 3 working days more;"),
    ({"answer": "extension_approved", "days": 21}, "Termiņa pagarinājums par 21 darba dienu ir apstiprināts.",
     "The extension by 21 working days is approved."),
    ({"answer": "extension_approved", "days": 11}, "Termiņa pagarinājums par 11 darba dienām ir apstiprināts.",
     "The extension by 11 working days is approved."),
    ({"pause": "too_long", "max_working_days": 21, "days": 22},
     "apturēta ilgāk par 21 darba dienu (22 darba dienas).",
     "paused for longer than 21 working days (22 working days so far)."),
    ({"pause": "too_long", "max_working_days": 20, "days": 21},
     "apturēta ilgāk par 20 darba dienām (21 darba diena).",
     "paused for longer than 20 working days (21 working days so far)."),
])
def test_answers_count_their_working_days_in_each_language(
        renderer: Renderer, extra: dict[str, Any], lv: str, en: str) -> None:
    for locale, phrase in (("lv", lv), ("en", en)):
        out = renderer.render("case_update", locale, context("case_update", extra=extra))
        assert phrase in out.text and phrase in out.html
