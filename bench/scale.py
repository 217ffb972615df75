"""Search, every work queue and the case list with many cases, on SQLite and PostgreSQL.

The cases are made once, through the one write path (``gaita demo generate``:
``gaita.generate``), in a SQLite WAL file; PostgreSQL gets a row-for-row copy of that
file (every table, in foreign-key order, then its id sequences and ``ANALYZE``, as
PostgreSQL's autovacuum would; SQLite keeps no statistics, as Gaita never analyses it), so
both backends answer over the same data and the slow part, generating, happens once.
``--scale-db PATH`` keeps the SQLite file and reuses it on the next run when it holds
as many cases (100,000 cases take most of an hour to generate on 2 vCPUs).

The app runs under uvicorn on 127.0.0.1 with its scheduler off; one client logged in
as the coordinator sends ``requests`` GETs per page, one at a time, after ``warmup``
untimed ones, each round interleaved across the pages (drift hits them alike):

* ``/healthz``: the baseline, the same server and client with no page work;
* ``/search?q=<a surname without diacritics>`` and ``/search?q=<a personal code>``
  (skipped, with a notice, while the app has no ``/search``: it answers 404);
* ``/cases?queue=<name>`` for every ``engine.queues.Queue`` (the dashboard's counters);
* ``/cases`` (the case list, first page, soonest deadline first) and ``/dashboard``.

Each page's p50/p95/max, its p95 against the target (100 ms for search, 200 ms for the
rest) and against the baseline's p95 in the same run.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from bench.web import NOW, _log_in, _p95, _serve
from engine.queues import Queue
from gaita.bootstrap import App, build_app
from gaita.dbsetup import load_institutions
from gaita.demo import load_demo_data, load_users
from gaita.generate import generate
from gaita.settings import load_settings

Log = Callable[[str], None]
SEARCH_TARGET_MS, TARGET_MS = 100.0, 200.0
USER = "koordinatore"
#: A surname the generator gives (``gaita.generate.SURNAMES``), typed without diacritics.
NAME_QUERY = "berzins"


def pages(code: str) -> list[tuple[str, str, float]]:
    """(name, path, target ms), the baseline first."""
    return [("baseline /healthz", "/healthz", TARGET_MS),
            ("search: name without diacritics", f"/search?q={NAME_QUERY}", SEARCH_TARGET_MS),
            ("search: personal code", f"/search?q={code}", SEARCH_TARGET_MS),
            *((f"queue {q.value}", f"/cases?queue={q.value}", TARGET_MS) for q in Queue),
            ("case list", "/cases", TARGET_MS),
            ("dashboard", "/dashboard", TARGET_MS)]


def _app(url: str) -> App:
    app = build_app(load_settings({"GAITA_DATABASE_URL": url, "GAITA_NOW": NOW}), create=True)
    SQLModel.metadata.create_all(app.db)
    for table in SQLModel.metadata.sorted_tables:   # a reused file: indexes added since
        for index in table.indexes:
            index.create(app.db, checkfirst=True)
    if app.db.dialect.name == "sqlite":   # as installed: Gaita never runs ANALYZE on SQLite
        with app.db.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS sqlite_stat1"))
            conn.execute(sa.text("DROP TABLE IF EXISTS sqlite_stat4"))
    return app


def _cases(app: App) -> int:
    with app.db.connect() as conn:
        return int(conn.execute(sa.text('SELECT count(*) FROM "case"')).scalar_one())


def prepare(log: Log, path: Path, cases: int) -> tuple[Path, float | None]:
    """The SQLite file with ``cases`` generated cases (reused if it has them); the
    seconds generating took (None: reused)."""
    if path.exists():
        app = _app(f"sqlite:///{path}")
        have = _cases(app)
        app.db.dispose()
        if have == cases:
            log(f"  reusing {path} ({have:,} cases)")
            return path, None
        log(f"  {path} has {have:,} cases, not {cases:,}: generating afresh")
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    app = _app(f"sqlite:///{path}")
    load_institutions(app.db, app.rt.municipality)
    load_users(app.db, app.rt)
    log(f"  generating {cases:,} cases through the write path")
    step = max(500, cases // 20 // 500 * 500)
    made = generate(app.db, app.rt, cases,
                    progress=lambda done, n: log(f"    {done:,}/{n:,}") if done % step == 0
                    else None)
    app.db.dispose()
    log(f"  generated in {made.seconds:,.0f} s ({made.seconds / cases * 1000:.1f} ms per case)")
    return path, made.seconds


def copy_to(source: sa.Engine, target: sa.Engine, log: Log, chunk: int = 5000) -> float:
    """Every table of ``source`` into the empty schema of ``target``, row for row; then
    the id sequences and ``ANALYZE``.  Returns the seconds it took."""
    t0 = time.perf_counter()
    tables = SQLModel.metadata.sorted_tables
    with source.connect() as src, target.begin() as dst:
        for table in tables:
            rows = src.execute(sa.select(table)).mappings()
            n = 0
            while batch := rows.fetchmany(chunk):
                dst.execute(sa.insert(table), [dict(r) for r in batch])
                n += len(batch)
            if n:
                log(f"    {table.name}: {n:,} rows")
        for table in tables:
            key = table.c.get("id")
            if key is not None and key.autoincrement in (True, "auto") and isinstance(
                    key.type, sa.Integer):
                dst.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f"coalesce((SELECT max(id) FROM \"{table.name}\"), 0) + 1, false)"))
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    return time.perf_counter() - t0


def measure(log: Log, app: App, *, requests: int, warmup: int) -> dict[str, Any]:
    """Time every page on this app's database."""
    with app.db.connect() as conn:
        code = conn.execute(sa.text(
            "SELECT ch.personal_code FROM child ch JOIN \"case\" c ON c.child_id = ch.id "
            "WHERE c.status = 'open' ORDER BY c.id LIMIT 1")).scalar_one()
        open_cases = conn.execute(sa.text(
            "SELECT count(*) FROM \"case\" WHERE status = 'open'")).scalar_one()
    wanted = pages(code)
    password = load_demo_data(app.rt).password
    times: dict[str, list[float]] = {name: [] for name, _, _ in wanted}
    skipped: dict[str, str] = {}
    with _serve(app) as base:
        client = _log_in(base, USER, password)
        try:
            for name, path, _ in wanted:   # a page the app does not have yet is skipped
                status = client.get(path).status_code
                if status == 404:
                    skipped[name] = f"{path.split('?')[0]} answers 404 (not built yet)"
                    log(f"  skipped {name}: {skipped[name]}")
                elif status != 200:
                    raise RuntimeError(f"{path} as {USER}: {status}")
            timed = [(n, p) for n, p, _ in wanted if n not in skipped]
            for round_ in range(warmup + requests):
                for name, path in timed:
                    t0 = time.perf_counter()
                    r = client.get(path)
                    elapsed = (time.perf_counter() - t0) * 1000
                    if r.status_code != 200:
                        raise RuntimeError(f"{path} as {USER}: {r.status_code}")
                    if round_ >= warmup:
                        times[name].append(elapsed)
        finally:
            client.close()
    base_p95 = _p95(times[wanted[0][0]])
    rows: list[dict[str, Any]] = []
    for name, path, target in wanted:
        if name in skipped:
            rows.append({"name": name, "path": path, "skipped": skipped[name]})
            continue
        p95 = _p95(times[name])
        rows.append({"name": name, "path": path, "target_ms": target,
                     "p50_ms": round(statistics.median(times[name]), 1),
                     "p95_ms": round(p95, 1), "max_ms": round(max(times[name]), 1),
                     "vs_baseline": round(p95 / base_p95, 1)})
    return {"cases": _cases(app), "open_cases": open_cases, "pages": rows}


def run(log: Log, *, cases: int = 10_000, requests: int = 30, warmup: int = 3,
        db: Path | None = None, postgres: bool = True) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="gaita-bench-scale-"))
    try:
        path, seconds = prepare(log, db or tmp / "gaita.db", cases)
        out: dict[str, Any] = {"cases": cases, "requests": requests,
                               "generate_seconds": None if seconds is None else round(seconds),
                               "reused_db": seconds is None}
        log("  SQLite WAL")
        app = _app(f"sqlite:///{path}")
        out["sqlite"] = measure(log, app, requests=requests, warmup=warmup)
        app.db.dispose()
        out["postgresql"] = _postgres(log, path, requests, warmup) if postgres else {
            "skipped": "--no-pg"}
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _postgres(log: Log, path: Path, requests: int, warmup: int) -> dict[str, Any]:
    from tests.pg import PostgresServer, pg_bin

    if pg_bin() is None:
        return {"skipped": "PostgreSQL server binaries not installed"}
    server = PostgresServer()
    try:
        app = _app(server.new_database())
        with app.db.connect() as conn:
            version = str(conn.execute(sa.text("SHOW server_version")).scalar_one()).split()[0]
        log(f"  PostgreSQL {version}: copying the SQLite file's rows")
        source = sa.create_engine(f"sqlite:///{path}")
        seconds = copy_to(source, app.db, log)
        source.dispose()
        log(f"  copied in {seconds:,.0f} s")
        result = measure(log, app, requests=requests, warmup=warmup)
        app.db.dispose()
    finally:
        server.stop()
    return {"version": version, "copy_seconds": round(seconds), **result}
