"""The web pages' words: Latvian first, English on ``?lang=en``.

One small catalogue, two dicts with the same keys (a test checks that).  The
web-app issue will move these to Babel message catalogues.
"""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("lv", "en")
DEFAULT_LANG = "lv"

LV: dict[str, str] = {
    "app_name": "Gaita",
    "app_tagline": "lietu koordinēšana",
    "switch_lang": "English",
    "switch_lang_code": "en",
    # task summary
    "reference": "Lietas numurs",
    "case_type": "Lietas veids",
    "task": "Uzdevums",
    "institution": "Iestāde",
    "due": "Termiņš",
    "no_due": "nav noteikts",
    "nothing_changes": "Nekas netiek mainīts, kamēr nenospiežat pogu.",
    # purposes: heading, intro, button, thanks
    "acknowledge.title": "Apstiprināt uzdevuma saņemšanu",
    "acknowledge.intro": "Apstipriniet, ka jūsu iestāde ir saņēmusi šo uzdevumu.",
    "acknowledge.button": "Apstiprinu saņemšanu",
    "acknowledge.thanks": "Paldies — uzdevuma saņemšana apstiprināta.",
    "accept.title": "Pieņemt uzdevumu",
    "accept.intro": "Apstipriniet, ka jūsu iestāde uzņemas šo uzdevumu.",
    "accept.button": "Pieņemu uzdevumu",
    "accept.thanks": "Paldies — uzdevums pieņemts.",
    "decline.title": "Atteikt uzdevumu",
    "decline.intro": ("Ja šis uzdevums nav jūsu iestādes kompetencē, atsakiet to un norādiet "
                      "iemeslu. Koordinators saņems jūsu atbildi."),
    "decline.button": "Atteikt uzdevumu",
    "decline.thanks": "Paldies — atteikums reģistrēts, koordinators ir informēts.",
    "done.title": "Ziņot par izpildi",
    "done.intro": ("Ziņojiet, ka uzdevums ir izpildīts. Ja zināt nākamo soli, izvēlieties to; "
                   "citādi par nākamo soli lems koordinators."),
    "done.button": "Ziņot par izpildi",
    "done.thanks": "Paldies — izpilde reģistrēta.",
    "more_time.title": "Lūgt vairāk laika",
    "more_time.intro": ("Lūdziet termiņa pagarinājumu darba dienās un pamatojiet to. "
                        "Par pagarinājumu lems koordinators."),
    "more_time.button": "Lūgt pagarinājumu",
    "more_time.thanks": "Paldies — lūgums pēc pagarinājuma nosūtīts koordinatoram.",
    # form
    "decline.reason": "Atteikuma iemesls",
    "more_time.reason": "Pamatojums",
    "days": "Papildu darba dienas (1–60)",
    "note": "Piezīme",
    "required": "obligāts",
    "optional": "nav obligāts",
    "next_step": "Nākamais solis",
    "next_step_hint": "Aizpildiet tikai izvēlētā soļa laukus.",
    "no_trigger": "Ziņot koordinatoram par izpildi, neizvēloties nākamo soli",
    "yes": "Jā",
    "no": "Nē",
    "choose": "— izvēlieties —",
    "date_hint": "datums: GGGG-MM-DD",
    "form_errors": "Lūdzu, izlabojiet:",
    "reason_required": "Norādiet iemeslu.",
    "days_invalid": "Norādiet veselu darba dienu skaitu no 1 līdz 60.",
    "too_long": "Teksts ir pārāk garš (ne vairāk kā {limit} zīmes).",
    "trigger_invalid": "Izvēlieties vienu no piedāvātajiem nākamajiem soļiem.",
    "field_problem": "Pārbaudiet lauku «{field}».",
    "engine_refused": "Sistēma šo soli neatļāva.",
    "details": "Sīkāk",
    # result
    "thanks_reference": "Lietas numurs: {reference}",
    "thanks_moved": "Lieta pārgāja uz posmu: {state}.",
    "thanks_close": "Šo lapu var aizvērt.",
    # errors: title, message
    "error.tampered.title": "Saite nav derīga",
    "error.tampered.text": ("Saite ir bojāta vai nepilnīga. Atveriet to vēlreiz no e-pasta "
                            "vai sazinieties ar koordinatoru."),
    "error.invalid.title": "Saite nav derīga",
    "error.invalid.text": "Šo saiti nevar izmantot. Sazinieties ar koordinatoru.",
    "error.expired.title": "Saites derīguma termiņš ir beidzies",
    "error.expired.text": ("Šī saite bija derīga līdz {expired_at}. Sazinieties ar "
                           "koordinatoru."),
    "error.wrong_purpose.title": "Saite paredzēta citai darbībai",
    "error.wrong_purpose.text": ("Šī saite paredzēta darbībai «{purpose}». Izmantojiet "
                                 "atbilstošo saiti no e-pasta."),
    "error.closed.title": "Uzdevums jau slēgts",
    "error.closed.text": ("Lieta ir virzījusies tālāk, tāpēc šī uzdevuma saites vairs nav "
                          "derīgas. Nekas netika mainīts."),
    "error.answered.title": "Atbilde jau sniegta",
    "error.answered.text": ("Šī saite jau ir izmantota vai šī atbilde uz uzdevumu jau ir "
                            "reģistrēta. Nekas netika mainīts."),
    "error.conflict.title": "Lieta tikko mainījās",
    "error.conflict.text": ("Kāds vienlaikus mainīja šo lietu. Atveriet saiti vēlreiz. "
                            "Nekas netika mainīts."),
    "error.forbidden.title": "Uzdevums nav jūsu iestādei",
    "error.forbidden.text": ("Šis uzdevums tagad ir citas iestādes atbildībā. Nekas netika "
                             "mainīts."),
    "error.csrf.title": "Pieprasījumu nevar apstrādāt",
    "error.csrf.text": ("Drošības pārbaude neizdevās (pārlūka sīkdatne vai veidlapa nav "
                        "derīga). Atveriet saiti no e-pasta vēlreiz un mēģiniet vēlreiz. "
                        "Nekas netika mainīts."),
    "error.not_found.title": "Nav atrasts",
    "error.not_found.text": "Šāda uzdevuma vai lapas nav.",
    "error.method.title": "Darbība nav atļauta",
    "error.method.text": "Šo lapu nevar atvērt šādā veidā.",
    "error.bad_request.title": "Nederīgs pieprasījums",
    "error.bad_request.text": "Pieprasījumu nevar apstrādāt. Atveriet saiti no e-pasta vēlreiz.",
    "error.too_large.title": "Pārāk liels pieprasījums",
    "error.too_large.text": "Iesniegtais teksts ir pārāk garš.",
    "error.unavailable.title": "Pakalpojums īslaicīgi nav pieejams",
    "error.unavailable.text": "Mēģiniet vēlreiz pēc brīža. Nekas netika mainīts.",
    "error.server.title": "Radās kļūda",
    "error.server.text": ("Radās iekšēja kļūda. Mēģiniet vēlreiz vēlāk vai sazinieties ar "
                          "koordinatoru."),
}

EN: dict[str, str] = {
    "app_name": "Gaita",
    "app_tagline": "case coordination",
    "switch_lang": "Latviski",
    "switch_lang_code": "lv",
    "reference": "Case reference",
    "case_type": "Case type",
    "task": "Task",
    "institution": "Institution",
    "due": "Due",
    "no_due": "not set",
    "nothing_changes": "Nothing changes until you press the button.",
    "acknowledge.title": "Confirm receipt of the task",
    "acknowledge.intro": "Confirm that your institution has received this task.",
    "acknowledge.button": "Confirm receipt",
    "acknowledge.thanks": "Thank you — receipt of the task is confirmed.",
    "accept.title": "Accept the task",
    "accept.intro": "Confirm that your institution takes on this task.",
    "accept.button": "Accept the task",
    "accept.thanks": "Thank you — the task is accepted.",
    "decline.title": "Decline the task",
    "decline.intro": ("If this task is not for your institution, decline it and give the "
                      "reason. The coordinator will receive your answer."),
    "decline.button": "Decline the task",
    "decline.thanks": "Thank you — the decline is recorded and the coordinator is informed.",
    "done.title": "Report the task done",
    "done.intro": ("Report that the task is done. If you know the next step, choose it; "
                   "otherwise the coordinator decides the next step."),
    "done.button": "Report done",
    "done.thanks": "Thank you — the task is recorded as done.",
    "more_time.title": "Ask for more time",
    "more_time.intro": ("Ask for more working days and give the reason. The coordinator "
                        "decides on the request."),
    "more_time.button": "Ask for more time",
    "more_time.thanks": "Thank you — the request for more time was sent to the coordinator.",
    "decline.reason": "Reason for declining",
    "more_time.reason": "Reason",
    "days": "Extra working days (1–60)",
    "note": "Note",
    "required": "required",
    "optional": "optional",
    "next_step": "Next step",
    "next_step_hint": "Fill in only the fields of the step you choose.",
    "no_trigger": "Report done to the coordinator without choosing a next step",
    "yes": "Yes",
    "no": "No",
    "choose": "— choose —",
    "date_hint": "date: YYYY-MM-DD",
    "form_errors": "Please correct:",
    "reason_required": "Give the reason.",
    "days_invalid": "Give a whole number of working days from 1 to 60.",
    "too_long": "The text is too long (at most {limit} characters).",
    "trigger_invalid": "Choose one of the next steps offered.",
    "field_problem": "Check the field “{field}”.",
    "engine_refused": "The system did not allow this step.",
    "details": "Details",
    "thanks_reference": "Case reference: {reference}",
    "thanks_moved": "The case moved on to: {state}.",
    "thanks_close": "You can close this page.",
    "error.tampered.title": "This link is not valid",
    "error.tampered.text": ("The link is damaged or incomplete. Open it again from the email "
                            "or contact the coordinator."),
    "error.invalid.title": "This link is not valid",
    "error.invalid.text": "This link cannot be used. Contact the coordinator.",
    "error.expired.title": "This link has expired",
    "error.expired.text": "This link was valid until {expired_at}. Contact the coordinator.",
    "error.wrong_purpose.title": "This link is for another action",
    "error.wrong_purpose.text": ("This link is for “{purpose}”. Use the matching link in "
                                 "the email."),
    "error.closed.title": "The task is already closed",
    "error.closed.text": ("The case has moved on, so this task's links no longer apply. "
                          "Nothing was changed."),
    "error.answered.title": "Already answered",
    "error.answered.text": ("This link was already used, or this answer to the task is "
                            "already recorded. Nothing was changed."),
    "error.conflict.title": "The case just changed",
    "error.conflict.text": ("Someone changed this case at the same time. Open the link "
                            "again. Nothing was changed."),
    "error.forbidden.title": "This task is not your institution's",
    "error.forbidden.text": ("Another institution is now responsible for this task. "
                             "Nothing was changed."),
    "error.csrf.title": "The request cannot be processed",
    "error.csrf.text": ("The security check failed (browser cookie or form not valid). Open "
                        "the link from the email again and retry. Nothing was changed."),
    "error.not_found.title": "Not found",
    "error.not_found.text": "There is no such task or page.",
    "error.method.title": "Not allowed",
    "error.method.text": "This page cannot be opened this way.",
    "error.bad_request.title": "Invalid request",
    "error.bad_request.text": "The request cannot be processed. Open the link from the email again.",
    "error.too_large.title": "Request too large",
    "error.too_large.text": "The text submitted is too long.",
    "error.unavailable.title": "Temporarily unavailable",
    "error.unavailable.text": "Please try again in a moment. Nothing was changed.",
    "error.server.title": "Something went wrong",
    "error.server.text": "An internal error occurred. Try again later or contact the coordinator.",
}

CATALOGUE: dict[str, dict[str, str]] = {"lv": LV, "en": EN}


def pick_lang(value: str | None) -> str:
    """``?lang=`` as given when it is a known language, else Latvian."""
    return value if value in LANGS else DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` in ``lang``."""
    words = CATALOGUE[pick_lang(lang)]

    def t(key: str, **values: object) -> str:
        text = words[key]
        return text.format(**values) if values else text

    return t
