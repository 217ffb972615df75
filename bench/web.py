"""The web pages under load: dashboard and case list with many open cases, on SQLite.

A SQLite WAL file in a temp dir gets the demo users and ``cases`` invented
open cases (``gaita.generate``: every case through the one write path, opened
over the past six months, in various states, some paused).  The app runs
under uvicorn in a thread on 127.0.0.1 (loopback only) with its scheduler
off, and one client logged in as each user below sends ``requests`` GETs per
page, one at a time (after ``warmup`` untimed ones), so the figures are
latencies, not throughput.  Pages, in that order, each round interleaved so
that drift on the machine hits them alike:

* ``/healthz`` - the baseline: the same server, client and connection with no
  page work (routing, middleware, JSON);
* ``/dashboard`` as the coordinator (every case) and as school staff (the
  access policy's own-tasks condition on every count);
* ``/cases?type=absences&overdue=1&sort=due`` as the coordinator (filtered,
  sorted, first page of 50) and ``/cases`` as school staff.

Each page's p50/p95/max are reported, and its p95 against the target (200 ms)
and against the baseline's p95.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import SQLModel

from gaita.bootstrap import build_app
from gaita.dbsetup import load_institutions
from gaita.demo import load_demo_data, load_users
from gaita.generate import generate
from gaita.settings import load_settings
from gaita.web import create_app

NOW = "2026-11-30T09:00:00+02:00"
TARGET_MS = 200.0
PAGES: tuple[tuple[str, str, str], ...] = (   # name, user, path
    ("baseline /healthz", "koordinatore", "/healthz"),
    ("dashboard, coordinator", "koordinatore", "/dashboard"),
    ("dashboard, school staff", "skola", "/dashboard"),
    ("case list filtered, coordinator", "koordinatore", "/cases?type=absences&overdue=1&sort=due"),
    ("case list, school staff", "skola", "/cases"),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False,
                                           lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _log_in(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    done = client.post("/login", data={"csrf": csrf, "username": username, "password": password})
    if done.status_code != 303:
        raise RuntimeError(f"login as {username} failed: {done.status_code}")
    return client


def run(log: Callable[[str], None], *, cases: int = 10_000, requests: int = 100,
        warmup: int = 10) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gaita-bench-web-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'gaita.db'}"
        app = build_app(load_settings({"GAITA_DATABASE_URL": url, "GAITA_NOW": NOW}), create=True)
        SQLModel.metadata.create_all(app.db)
        load_institutions(app.db, app.rt.municipality)
        load_users(app.db, app.rt)
        log(f"  generating {cases:,} open cases")
        made = generate(app.db, app.rt, cases,
                        progress=lambda done, n: log(f"    {done:,}/{n:,}") if done % 2000 == 0
                        else None)
        with app.db.connect() as conn:
            open_cases = conn.execute(sa.text(
                "SELECT count(*) FROM \"case\" WHERE status = 'open'")).scalar_one()
        log(f"  {open_cases:,} open cases in {made.seconds:.0f} s; "
            f"{requests} timed requests per page")
        password = load_demo_data(app.rt).password
        times: dict[str, list[float]] = {name: [] for name, _, _ in PAGES}
        with _serve(app) as base:
            clients = {user: _log_in(base, user, password) for user in {u for _, u, _ in PAGES}}
            try:
                for round_ in range(warmup + requests):
                    for name, user, path in PAGES:
                        t0 = time.perf_counter()
                        r = clients[user].get(path)
                        elapsed = (time.perf_counter() - t0) * 1000
                        if r.status_code != 200:
                            raise RuntimeError(f"{path} as {user}: {r.status_code}")
                        if round_ >= warmup:
                            times[name].append(elapsed)
            finally:
                for client in clients.values():
                    client.close()
        app.db.dispose()
    base_p95 = _p95(times[PAGES[0][0]])
    return {"cases": open_cases, "requests": requests, "target_ms": TARGET_MS,
            "generate_seconds": round(made.seconds, 1),
            "pages": [{"name": name, "user": user, "path": path,
                       "p50_ms": round(statistics.median(times[name]), 1),
                       "p95_ms": round(_p95(times[name]), 1),
                       "max_ms": round(max(times[name]), 1),
                       "vs_baseline": round(_p95(times[name]) / base_p95, 1)}
                      for name, user, path in PAGES]}


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]
