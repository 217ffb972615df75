"""Where each page's "Palīdzība" / "Help" link leads: its section of the user guide
(``/help``, ``docs/guide/<lang>.md``), declared once, by the page's template.

A template not named falls back to its folder's entry (``"<folder>/"``), then to the
top of the guide.  A new page gets its own section by adding its template here (and
the heading ``{#anchor}`` to both guides); ``tests/web/test_help.py`` checks every
anchor named here exists in every language's guide.
"""

from __future__ import annotations

#: The guide's section for each page, by template (exact name first, then its folder
#: ``"<folder>/"``); anything else: the top of the guide.  Add a page's template here
#: when it gets a section of its own.
HELP_ANCHORS: dict[str, str] = {
    "auth/login.html": "start",
    "auth/totp.html": "start",
    "error.html": "start",
    "dashboard/dashboard.html": "coordinator-dashboard",
    "dashboard/cases.html": "coordinator-cases",
    "dashboard/": "coordinator",
    "cases/new.html": "school-report",
    "cases/open.html": "school-report",
    "cases/case.html": "coordinator-case",
    "cases/": "coordinator",
    "inbox/list.html": "institution-inbox",
    "inbox/task.html": "institution-inbox",
    "inbox/": "institution",
    "confirm.html": "institution-email",
    "thanks.html": "institution-email",
    "group/queue.html": "chair",
    "group/new.html": "chair-agenda",
    "group/meeting.html": "chair-decisions",
    "group/": "chair",
    "admin/users.html": "administrator-users",
    "admin/user_form.html": "administrator-users",
    "admin/institutions.html": "administrator-institutions",
    "admin/institution_form.html": "administrator-institutions",
    "admin/calendar.html": "administrator-calendar",
    "admin/security.html": "administrator-security",
    "admin/tokens.html": "administrator-security",
    "admin/token_created.html": "administrator-security",
    "admin/": "administrator",
    "audit/": "auditor",
    "search/": "coordinator-search",
    "help.html": "",
}


def help_anchor(template: str) -> str:
    """The guide's anchor for a page rendered from ``template`` ("" for the top)."""
    if template in HELP_ANCHORS:
        return HELP_ANCHORS[template]
    folder = template.rpartition("/")[0]
    return HELP_ANCHORS.get(f"{folder}/", "") if folder else ""


def help_href(template: str, lang: str) -> str:
    """The address of a page's help link: its section of the guide in its language."""
    anchor = help_anchor(template)
    return f"/help/{lang}" + (f"#{anchor}" if anchor else "")
