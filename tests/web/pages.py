"""Every page of the web app, as a sample address and the user who visits it.

The list comes from the app's own routes (``page_routes``): a GET route that is not
declared here, either with a ``SAMPLES`` entry or in ``NOT_PAGES`` with the reason, fails
``sample_pages``, so a new page cannot be left out of the every-page checks
(``tests/web/test_every_page.py`` in a browser, ``tests/web/test_page_language.py``
without one).  Path parameters are filled from a small world on top of the demo data
(``make_world``): a case the school opened with its task and task email (its link), a
meeting, a user, an institution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.routing import Mount

from engine.answers import TaskAction
from engine.group.meetings import plan_meeting
from engine.group.queue import escalate
from engine.queries import actor_for
from gaita.bootstrap import App
from gaita.web import create_app
from tests.web.conftest import link_url, open_task

#: GET routes that are not pages, and why.
NOT_PAGES = {
    "/": "redirects to the user's home page",
    "/healthz": "a JSON health check",
    "/lang/{lang}": "sets the language and redirects back",
    "/help/screenshots/{name}": "a PNG of the guide",
    "/favicon.ico": "no icon (204)",
    "/cases/export.csv": "a download",
    "/cases/export.xlsx": "a download",
    "/audit.csv": "a download",
    "/group/meetings/{meeting_id}/minutes.docx": "a download",
}
#: The REST API (under /api) is for programs: JSON, and its reference in English only.
API_PREFIX = "/api"

C, S, V, A, AU = "koordinatore", "skola", "vaditajs", "admin", "auditors"

#: route -> (address with {reference}, {task}, {meeting}, {link} filled in, who visits it;
#: None: nobody logged in).
SAMPLES: dict[str, tuple[str, str | None]] = {
    "/login": ("/login", None),
    "/login/totp": ("/login/totp", None),   # no second factor pending: back to /login
    "/help": ("/help", None),
    "/help/{lang}": ("/help/{lang}", None),
    "/link/{purpose}/{token}": ("{link}", None),
    "/answered/{purpose}": ("/answered/acknowledge?case={reference}", None),
    "/dashboard": ("/dashboard", C),
    "/search": ("/search?q=berzins", C),
    "/audit": ("/audit", AU),
    "/cases": ("/cases", C),
    "/cases/new": ("/cases/new", C),
    "/cases/new/{case_type}": ("/cases/new/absences", S),
    "/cases/{reference}": ("/cases/{reference}", C),
    "/inbox": ("/inbox", S),
    "/inbox/{task_id}": ("/inbox/{task}", S),
    "/group": ("/group", V),
    "/group/meetings/new": ("/group/meetings/new", V),
    "/group/meetings/{meeting_id}": ("/group/meetings/{meeting}", V),
    "/group/meetings/{meeting_id}/cases/{reference}": (
        "/group/meetings/{meeting}/cases/{reference}", V),
    "/admin": ("/admin", A),
    "/admin/users": ("/admin/users", A),
    "/admin/users/new": ("/admin/users/new", A),
    "/admin/users/{username}/edit": ("/admin/users/skola/edit", A),
    "/admin/institutions": ("/admin/institutions", A),
    "/admin/institutions/{code}": ("/admin/institutions/jip", A),
    "/admin/calendar": ("/admin/calendar", A),
    "/admin/security": ("/admin/security", A),
    "/admin/tokens": ("/admin/tokens", A),
}
#: More samples: a page another user sees more of (the auditor: the access log), and
#: pages no route declares, the error pages (for a user and for nobody).
MORE_SAMPLES: list[tuple[str, str, str | None]] = [
    ("case page with its access log", "/cases/{reference}", AU),
    ("error 404", "/cases/NAV-2026-99999", C),
    ("error 404, nobody logged in", "/no-such-page", None),
]


@dataclass(frozen=True)
class Sample:
    route: str
    path: str
    user: str | None


@dataclass(frozen=True)
class World:
    reference: str
    task: int
    meeting: int
    link: str


def make_world(app: App) -> World:
    """An absences case the school opened (its task, its task email's link), referred to
    the cooperation group, and a meeting that has it on its agenda."""
    task = open_task(app)
    escalate(app.db, app.rt, task.reference, actor_for(app.db, C), "several_institutions")
    meeting = plan_meeting(app.db, app.rt, actor_for(app.db, V), app.rt.clock.now().date())
    return World(task.reference, task.task_id, meeting.meeting_id,
                 link_url(app, task, TaskAction.ACKNOWLEDGE))


def page_routes(app: App) -> set[str]:
    """Every GET route of the web app (not the API's)."""
    found: set[str] = set()

    def walk(routes: Any, prefix: str = "") -> None:
        for r in routes:
            if isinstance(r, Mount):
                if prefix + r.path != API_PREFIX:
                    walk(r.routes, prefix + r.path)
            elif hasattr(r, "original_router"):
                walk(r.original_router.routes, prefix)
            elif "GET" in (getattr(r, "methods", None) or ()):
                found.add(prefix + r.path)
    walk(create_app(app).routes)
    return found


def sample_pages(app: App, world: World, lang: str = "lv") -> list[Sample]:
    """A sample of every page (``/help/{lang}`` in ``lang``); ``AssertionError`` names a
    route without one."""
    routes = page_routes(app)
    missing = sorted(routes - set(SAMPLES) - set(NOT_PAGES))
    assert not missing, f"routes with no sample page in tests/web/pages.py: {missing}"
    gone = sorted((set(SAMPLES) | set(NOT_PAGES)) - routes)
    assert not gone, f"samples of routes the app no longer has: {gone}"
    fill = {"reference": world.reference, "task": world.task, "meeting": world.meeting,
            "link": world.link, "lang": lang}
    return ([Sample(route, path.format(**fill), user)
             for route, (path, user) in sorted(SAMPLES.items())]
            + [Sample(name, path.format(**fill), user) for name, path, user in MORE_SAMPLES])
